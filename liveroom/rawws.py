"""Uvicorn WebSocket protocol that lets the hub write pre-encoded frames straight to the socket.

Going through ASGI `send` costs a coroutine, a message dict and a fresh frame encode per
viewer per tick. For fan-out we encode once (see wsframe) and call `transport.write`, which
is the same thing uvicorn's own protocol does for a frame, minus the per-call overhead.
Everything else (handshake, pings, close, reads) stays with uvicorn.
Compression must be off for this path (the frame bytes would differ per connection).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

RAW_KEY = "liveroom.raw"


class RawSocket:
    """The bit of the uvicorn protocol the hub needs: write bytes, see the backlog."""

    __slots__ = ("_proto",)

    def __init__(self, proto: WebSocketsSansIOProtocol) -> None:
        self._proto = proto

    @property
    def usable(self) -> bool:
        p = self._proto
        return (
            p.handshake_complete
            and not p.close_sent
            and not p.disconnected
            and p.transport is not None
            and not p.transport.is_closing()
        )

    @property
    def transport(self) -> Any:
        return self._proto.transport

    def write(self, data: bytes) -> None:
        self._proto.transport.write(data)

    def buffered(self) -> int:
        return self._proto.transport.get_write_buffer_size()

    def abort(self) -> None:
        self._proto.transport.abort()


class _Mailbox:
    """The part of asyncio.Queue uvicorn uses (put_nowait, get, empty), for one reader.

    asyncio.Queue allocates three deques of about 600 bytes each up front; with tens of
    thousands of idle viewers that alone is 2 KiB a viewer.
    """

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> Any:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.pop(0)

    def empty(self) -> bool:
        return not self._items


class _Flag:
    """asyncio.Event's set / clear / wait without its waiter deque (same reason)."""

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = True
        self._waiters: list[asyncio.Future[None]] = []

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._set = True
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> None:
        if self._set:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        await waiter


class LiveroomWSProtocol(WebSocketsSansIOProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = _Mailbox()  # type: ignore[assignment]
        self.writable = _Flag()  # type: ignore[assignment]

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:
            scope["extensions"][RAW_KEY] = RawSocket(self)

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept" and self.handshake_complete:
            # Held for the life of the socket otherwise: the handshake's request and
            # response (about 4 KiB a viewer). Nothing reads them after the accept.
            self.request = None
            self.response = None
