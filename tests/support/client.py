"""A real WebSocket client speaking the liveroom protocol (JSON or msgpack)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import msgpack
import websockets

DEFAULT_TIMEOUT = 10.0


class Client:
    def __init__(self, ws: websockets.ClientConnection, fmt: str) -> None:
        self.ws = ws
        self.fmt = fmt
        self.welcome: dict[str, Any] | None = None
        self.seen: list[dict[str, Any]] = []  # every frame received, in order

    @classmethod
    async def connect(cls, url: str, fmt: str = "json", welcome: bool = True) -> Client:
        protos = ["liveroom.json"] if fmt == "json" else ["liveroom.msgpack"]
        ws = await websockets.connect(url, subprotocols=protos, max_size=2**22, open_timeout=20)
        client = cls(ws, fmt)
        if welcome:
            client.welcome = await client.expect("welcome")
        return client

    async def send(self, frame: dict[str, Any]) -> None:
        if self.fmt == "json":
            await self.ws.send(json.dumps(frame))
        else:
            await self.ws.send(msgpack.packb(frame, use_bin_type=True))

    async def send_raw(self, data: bytes | str) -> None:
        await self.ws.send(data)

    async def recv(self, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
        data = await asyncio.wait_for(self.ws.recv(), timeout)
        frame = json.loads(data) if isinstance(data, str) else msgpack.unpackb(data, raw=False)
        self.seen.append(frame)
        return frame

    async def expect(self, t: str, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
        """The next frame of type t, skipping others (ticks, state)."""
        return await self.until(lambda f: f.get("t") == t, timeout)

    async def until(
        self, pred: Callable[[dict[str, Any]], bool], timeout: float = DEFAULT_TIMEOUT
    ) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            frame = await self.recv(max(0.01, deadline - loop.time()))
            if pred(frame):
                return frame

    async def request(self, frame: dict[str, Any], timeout: float = DEFAULT_TIMEOUT) -> dict:
        """Send with a fresh rid; return its ack or error frame."""
        self._rid = getattr(self, "_rid", 0) + 1
        rid = f"r{self._rid}"
        await self.send({**frame, "rid": rid})
        return await self.until(
            lambda f: f.get("rid") == rid and f.get("t") in ("ack", "error", "pong"), timeout
        )

    async def events(
        self, pred: Callable[[dict[str, Any]], bool], timeout: float = DEFAULT_TIMEOUT
    ) -> dict[str, Any]:
        """The next event (inside a tick) matching pred."""
        found: list[dict[str, Any]] = []

        def tick_with_match(frame: dict[str, Any]) -> bool:
            if frame.get("t") == "tick":
                found.extend(e for e in frame.get("events", []) if pred(e))
            return bool(found)

        await self.until(tick_with_match, timeout)
        return found[0]

    async def closed(self, timeout: float = DEFAULT_TIMEOUT) -> tuple[int | None, str]:
        """Wait for the server to close; return (code, reason)."""
        try:
            while True:
                await self.recv(timeout)
        except websockets.ConnectionClosed as exc:
            rcvd = exc.rcvd
            return (rcvd.code if rcvd else None, rcvd.reason if rcvd else "")

    async def close(self) -> None:
        await self.ws.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
