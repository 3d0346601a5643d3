"""Uvicorn WebSocket protocol that lets the hub write pre-encoded frames straight to the socket.

Going through ASGI `send` costs a coroutine, a message dict and a fresh frame encode per
viewer per tick. For fan-out we encode once (see wsframe) and call `transport.write`, which
is the same thing uvicorn's own protocol does for a frame, minus the per-call overhead.
Everything else (handshake, pings, close, reads) stays with uvicorn.
Compression must be off for this path (the frame bytes would differ per connection).
"""

from __future__ import annotations

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


class LiveroomWSProtocol(WebSocketsSansIOProtocol):
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
