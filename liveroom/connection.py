"""One viewer's or host's socket, as the hub sees it: who, which encoding, how far behind."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from starlette.websockets import WebSocket, WebSocketState

from liveroom import codec, wsframe
from liveroom.rawws import RAW_KEY, RawSocket
from liveroom.tokens import Identity

log = logging.getLogger("liveroom.connection")


class Connection:
    """Sends go straight to the socket when uvicorn exposes it, else through a writer task."""

    # slots: one of these lives per viewer for the whole show
    __slots__ = (
        "_queue",
        "_queued_bytes",
        "_writer",
        "backlog",
        "closing",
        "degraded_at",
        "fmt",
        "group",
        "ident",
        "joining",
        "kind",
        "last_seq",
        "raw",
        "steady",
        "transport",
        "ws",
    )

    def __init__(self, ws: WebSocket, ident: Identity, fmt: str) -> None:
        self.ws = ws
        self.ident = ident
        self.fmt = fmt
        self.group = "host" if ident.is_host else "viewer"
        self.raw: RawSocket | None = ws.scope.get("extensions", {}).get(RAW_KEY)
        # the asyncio transport the fan-out writes to directly (None: through ASGI)
        self.transport = self.raw.transport if self.raw is not None else None
        self.kind = (self.group, fmt)  # which pre-encoded tick frame this client takes
        self.last_seq = 0  # last seq this client has been sent (what `since` should be)
        self.joining = True  # between hub join and welcome: ticks wait in `backlog`
        self.backlog: list[tuple[list[dict], dict[str, Any]]] = []
        self.degraded_at: float | None = None
        self.closing = False
        # welcomed, not closing, not degraded: the hub's fast path may write to it
        self.steady = False
        self._queue: asyncio.Queue[bytes | str] | None = None
        self._queued_bytes = 0
        self._writer: asyncio.Task | None = None
        if self.raw is None:
            self._queue = asyncio.Queue()
            self._writer = asyncio.get_running_loop().create_task(self._write_loop())

    @property
    def uid(self) -> str:
        return self.ident.uid

    def buffered(self) -> int:
        if self.raw is not None:
            return self.raw.buffered() if self.raw.usable else 0
        return self._queued_bytes

    def send_encoded(self, payload: bytes | str, wire: bytes | None = None) -> None:
        """Queue one already-encoded frame; `wire` is its full WebSocket frame, if built."""
        if self.closing:
            return
        if self.raw is not None:
            if not self.raw.usable:
                return
            if wire is None:
                wire = wire_frame(payload)
            self.raw.write(wire)
            return
        assert self._queue is not None
        self._queued_bytes += len(payload)
        self._queue.put_nowait(payload)

    def send(self, frame: dict[str, Any]) -> None:
        self.send_encoded(codec.encode(self.fmt, frame))

    def mark_closing(self) -> None:
        self.closing = True
        self.steady = False

    async def _write_loop(self) -> None:
        assert self._queue is not None
        try:
            while True:
                item = await self._queue.get()
                self._queued_bytes -= len(item)
                if isinstance(item, str):
                    await self.ws.send_text(item)
                else:
                    await self.ws.send_bytes(item)
        except Exception:  # the socket went away; the read loop notices and cleans up
            self.mark_closing()

    async def close(self, code: int, reason: str | dict[str, Any] = "") -> None:
        if self.closing:
            return
        self.mark_closing()
        if isinstance(reason, dict):
            reason = json.dumps(reason, separators=(",", ":"))
        if self._queue is not None:
            # let queued frames (an error or the last tick) reach the client before the close
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._drain(), 1.0)
        try:
            if self.ws.application_state != WebSocketState.DISCONNECTED:
                await asyncio.wait_for(self.ws.close(code, reason[:120]), 2.0)
        except (TimeoutError, RuntimeError, OSError):
            if self.raw is not None:
                self.raw.abort()
        finally:
            if self._writer is not None:
                self._writer.cancel()

    async def _drain(self) -> None:
        assert self._queue is not None
        while not self._queue.empty():  # noqa: ASYNC110 - polled only while closing
            await asyncio.sleep(0.005)


def wire_frame(payload: bytes | str) -> bytes:
    if isinstance(payload, str):
        return wsframe.frame(payload.encode(), wsframe.OP_TEXT)
    return wsframe.frame(payload, wsframe.OP_BINARY)
