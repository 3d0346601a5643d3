"""One viewer's or host's socket, as the hub sees it: who, which encoding, where in its life.

A connection's life is one `State`, changed only by the methods of `Connection`:

    JOINING --welcomed()--> LIVE --degrade()--> DEGRADED
       |                      |                    |
       +--------- shut() / a write that raises / lost() ------> CLOSING, CLOSED

- JOINING: in the room's set while its welcome is built; ticks wait in `backlog`.
- LIVE: welcomed and keeping up; the hub's fast path writes each tick's shared bytes
  straight to its transport.
- DEGRADED: too far behind (a slow consumer): state-only frames until it is closed.
- CLOSING: a close is decided and its frame written; nothing more is sent. If the peer
  does not finish the close within `close_grace_s`, the socket is reset, which frees its
  buffers in the process and in the kernel at once.
- CLOSED: the socket is gone, or the room socket is done with it.

The hub's hot loop reads one attribute, `live_transport` (the transport while LIVE, set
with the state), and the transport's buffer size, nothing else; a socket that dies is
skipped from the moment uvicorn reports it lost, and one that raises mid-tick is dropped
by the hub alone (hub.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
from typing import Any

from starlette.websockets import WebSocket, WebSocketState

from liveroom import codec, wsframe
from liveroom.metrics import METRICS
from liveroom.rawws import RAW_KEY, RawSocket
from liveroom.tokens import Identity

log = logging.getLogger("liveroom.connection")

MAX_REASON_BYTES = 123  # a close frame's payload is at most 125 bytes, 2 of them the code


class State(enum.Enum):
    JOINING = "joining"
    LIVE = "live"
    DEGRADED = "degraded"
    CLOSING = "closing"
    CLOSED = "closed"


JOINING, LIVE, DEGRADED, CLOSING, CLOSED = (
    State.JOINING,
    State.LIVE,
    State.DEGRADED,
    State.CLOSING,
    State.CLOSED,
)
_OPEN = (JOINING, LIVE, DEGRADED)


class Connection:
    """Sends go straight to the socket when uvicorn exposes it, else through a writer task."""

    # slots: one of these lives per viewer for the whole show
    __slots__ = (
        "_closer",
        "_queue",
        "_queued_bytes",
        "_writer",
        "backlog",
        "close_grace_s",
        "degraded_at",
        "fmt",
        "group",
        "held",
        "ident",
        "kind",
        "last_seq",
        "live_transport",
        "raw",
        "state",
        "transport",
        "ws",
    )

    def __init__(
        self, ws: WebSocket, ident: Identity, fmt: str, close_grace_s: float = 2.0
    ) -> None:
        self.ws = ws
        self.ident = ident
        self.fmt = fmt
        self.group = "host" if ident.is_host else "viewer"
        self.raw: RawSocket | None = ws.scope.get("extensions", {}).get(RAW_KEY)
        # the asyncio transport the fan-out writes to directly (None: through ASGI)
        self.transport = self.raw.transport if self.raw is not None else None
        self.kind = (self.group, fmt)  # which pre-encoded tick frame this client takes
        self.last_seq = 0  # last seq this client has been sent (what `since` should be)
        self.state = JOINING
        self.live_transport: Any = None  # see _become
        self.backlog: list[tuple[list[dict], dict[str, Any]]] = []  # ticks while JOINING
        self.held: list[dict[str, Any]] | None = None  # personal frames while JOINING
        self.degraded_at = 0.0  # when it became DEGRADED (monotonic seconds)
        self.close_grace_s = close_grace_s
        self._queue: asyncio.Queue[bytes | str] | None = None
        self._queued_bytes = 0
        self._writer: asyncio.Task | None = None
        self._closer: asyncio.Task | None = None
        if self.raw is None:
            self._queue = asyncio.Queue()
            self._writer = asyncio.get_running_loop().create_task(self._write_loop())
        else:
            self.raw.attach(self)

    @property
    def uid(self) -> str:
        return self.ident.uid

    @property
    def is_open(self) -> bool:
        return self.state in _OPEN

    @property
    def joining(self) -> bool:
        """Its welcome is still being built."""
        return self.state is JOINING

    # the life ------------------------------------------------------------------------
    def welcomed(self) -> None:
        """The welcome (and what arrived meanwhile) is sent: live ticks from now on, after
        the personal frames that waited for the welcome."""
        self.backlog = []
        if self.state is JOINING:
            self._become(LIVE)
        held, self.held = self.held, None
        for frame in held or ():
            self.send(frame)

    def degrade(self, now: float) -> bool:
        """Too far behind: state-only frames from now on. True if it just became so."""
        if self.state is not LIVE:
            return False
        self._become(DEGRADED)
        self.degraded_at = now
        return True

    def resume_hint(self) -> dict[str, Any]:
        """The close reason that tells a client where to come back from."""
        if self.state is JOINING:
            return {"reconnect": True}  # never welcomed: it holds no seq of ours
        return {"reconnect": True, "since": self.last_seq}

    def shut(self, code: int, reason: str | dict[str, Any] = "") -> None:
        """Close now, without waiting on the client: the close frame goes behind whatever
        it has not read yet, and the socket is reset if the close is not finished within
        `close_grace_s` (a client that does not read never finishes it)."""
        if self.state is CLOSING or self.state is CLOSED:
            return
        welcomed = self.state is not JOINING
        self._become(CLOSING)
        self.backlog = []
        self.held = None
        if isinstance(reason, dict):
            reason = json.dumps(reason, separators=(",", ":"))
        reason = reason.encode()[:MAX_REASON_BYTES].decode(errors="ignore")
        if self.raw is not None:
            self.raw.close(code, reason, self.close_grace_s)
        else:
            self._closer = asyncio.get_running_loop().create_task(
                self._close_asgi(code, reason, welcomed)
            )

    async def close(self, code: int, reason: str | dict[str, Any] = "") -> None:
        """`shut`, for a caller that wants the close handed to the socket before it goes on."""
        self.shut(code, reason)
        if self._closer is not None:
            with contextlib.suppress(Exception):
                await self._closer

    def lost(self) -> None:
        """The socket is gone (uvicorn says so), or the room socket has finished with it."""
        self._become(CLOSED)
        self.backlog = []
        self.held = None

    def write_failed(self) -> None:
        """A write raised: the socket is unusable whatever it claims. Drop it, forget it."""
        METRICS.write_failures += 1
        self._become(CLOSED)
        self.backlog = []
        self.held = None
        if self.raw is not None:
            self.raw.abort()

    def _become(self, state: State) -> None:
        """Every change of state after the first goes through here. `live_transport` is
        the transport while the connection is LIVE on a raw socket and None otherwise:
        the one attribute the hub's hot loop reads to know it may write shared bytes."""
        self.state = state
        self.live_transport = self.transport if state is LIVE else None

    # sending -------------------------------------------------------------------------
    def buffered(self) -> int:
        if self.raw is not None:
            return self.raw.buffered() if self.raw.usable else 0
        return self._queued_bytes

    def send_encoded(self, payload: bytes | str, wire: bytes | None = None) -> None:
        """Queue one already-encoded frame; `wire` is its full WebSocket frame, if built."""
        if self.state is CLOSING or self.state is CLOSED:
            return
        if self.raw is not None:
            if not self.raw.usable:
                return
            if wire is None:
                wire = wire_frame(payload)
            try:
                self.raw.write(wire)
            except Exception:  # a transport closed under us (uvloop raises RuntimeError)
                log.debug("write to %s failed", self.uid, exc_info=True)
                self.write_failed()
            return
        assert self._queue is not None
        self._queued_bytes += len(payload)
        self._queue.put_nowait(payload)

    def send(self, frame: dict[str, Any]) -> None:
        self.send_encoded(codec.encode(self.fmt, frame))

    def send_personal(self, frame: dict[str, Any]) -> None:
        """A frame for this user alone (an order paid, a prize): sent now, or, while the
        welcome is being built, right after it (a client's first frame is its welcome)."""
        if self.state is JOINING:
            if self.held is None:
                self.held = []
            self.held.append(frame)
            return
        self.send(frame)

    # the ASGI path (a WebSocket protocol other than ours: no direct writes) ------------
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
            if self.is_open:
                self._become(CLOSED)

    async def _close_asgi(self, code: int, reason: str, drain: bool) -> None:
        assert self._queue is not None
        if drain:
            # let queued frames (an error or the last tick) reach the client before the close
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drain(), self.close_grace_s)
        try:
            if self.ws.application_state != WebSocketState.DISCONNECTED:
                await asyncio.wait_for(self.ws.close(code, reason), self.close_grace_s)
        except (TimeoutError, RuntimeError, OSError):
            pass
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
