"""Uvicorn WebSocket protocol that lets the hub write pre-encoded frames straight to the socket.

Going through ASGI `send` costs a coroutine, a message dict and a fresh frame encode per
viewer per tick. For fan-out we encode once (see wsframe) and call `transport.write`, which
is the same thing uvicorn's own protocol does for a frame, minus the per-call overhead.
Everything else (handshake, pings, reads) stays with uvicorn.
Compression must be off for this path (the frame bytes would differ per connection).

Closing is ours too, because uvicorn's way of closing waits on the client: a close frame
goes through `send`, which waits until the transport can take more (never, for a client
that stopped reading), and `transport.close()` waits for the buffer to drain (same). Here a
close is written at once, and if the client has not finished it within the grace, the
socket is reset (SO_LINGER 0, then abort): its buffers, ours and the kernel's, are freed at
once instead of lingering for minutes in a socket nobody owns.

On shutdown (SIGTERM) uvicorn asks every connection to close itself; ours hands itself to
the node's drain instead (liveroom/drain.py), which lets frames being handled finish and
closes every viewer with 1012 and where to resume.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from typing import TYPE_CHECKING, Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import InvalidState

from liveroom.metrics import METRICS

if TYPE_CHECKING:
    from liveroom.admission import Lease
    from liveroom.connection import Connection
    from liveroom.node import Node

RAW_KEY = "liveroom.raw"
# where uvicorn's protocols find the node: the lifespan state (ASGI "state"), set by the app
NODE_KEY = "liveroom.node"
DEFAULT_CLOSE_GRACE_S = 2.0
_LINGER_RESET = struct.pack("ii", 1, 0)


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

    def attach(self, conn: Connection) -> None:
        """The hub's view of this socket: told when uvicorn loses it, asked for `since`."""
        self._proto.connection = conn

    def close(self, code: int, reason: str, grace_s: float) -> None:
        self._proto.close_now(code, reason, grace_s)

    def reset(self) -> None:
        self._proto.reset()

    def abort(self) -> None:
        """Drop a transport that failed a write: its handle is closed already (uvloop
        raises on a closed handle), so no socket option can be set on it any more."""
        self._proto.transport.abort()


class _Mailbox:
    """The part of asyncio.Queue uvicorn uses (put_nowait, get, empty), for one reader.

    asyncio.Queue allocates three deques of about 600 bytes each up front; with tens of
    thousands of idle viewers that alone is 2 KiB a viewer.

    It also sees the app take each client frame, which a graceful restart needs (drain.py):
    from handing a frame over until the app asks for the next one, the app is handling it
    (`in_frame`); once `draining`, frames not yet handed over are dropped, never started
    (the client sends them again where it reconnects). Tracking it here rather than in an
    `async def receive` wrapper saves a suspended coroutine frame per idle viewer.
    """

    __slots__ = ("_items", "_waiter", "draining", "in_frame")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._waiter: asyncio.Future[None] | None = None
        self.draining = False
        self.in_frame = False

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> Any:
        self.in_frame = False
        while True:
            while not self._items:
                self._waiter = asyncio.get_running_loop().create_future()
                try:
                    await self._waiter
                finally:
                    self._waiter = None
            item = self._items.pop(0)
            if item["type"] != "websocket.receive":
                return item
            if not self.draining:
                self.in_frame = True
                return item

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
        self.connection: Connection | None = None  # the hub's view, once the room has one
        self.lease: Lease | None = None  # this client's place under the per-address cap

    @property
    def node(self) -> Node | None:
        return self.app_state.get(NODE_KEY)

    @property
    def close_grace_s(self) -> float:
        node = self.node
        return node.settings.close_grace_s if node is not None else DEFAULT_CLOSE_GRACE_S

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:
            scope["extensions"][RAW_KEY] = RawSocket(self)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self.connection is not None:
            self.connection.lost()
        if self.lease is not None:
            self.lease.release()
            self.lease = None

    # draining ------------------------------------------------------------------------
    @property
    def in_frame(self) -> bool:
        """The app is handling a frame from this client (a grab, a host command)."""
        return self.queue.in_frame  # type: ignore[attr-defined]

    def stop_reading(self) -> None:
        """Start no more frames from this client (a graceful restart)."""
        self.queue.draining = True  # type: ignore[attr-defined]

    # closing -------------------------------------------------------------------------
    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept" and self.handshake_complete:
            # Held for the life of the socket otherwise: the handshake's request and
            # response (about 4 KiB a viewer). Nothing reads them after the accept.
            self.request = None
            self.response = None
        elif message["type"] == "websocket.close" and self.close_sent:
            self._reset_unless_closed(self.close_grace_s)

    def close_now(self, code: int, reason: str, grace_s: float) -> None:
        """Write the close frame without waiting for the transport to be writable, end the
        app's read loop, and reset the socket if the close is not finished in `grace_s`."""
        if self.disconnected:
            return
        if not self.close_sent and self.handshake_complete and self.initial_response is None:
            self.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
            self.stop_keepalive()
            try:
                self.conn.send_close(code, reason)
                self.transport.write(b"".join(self.conn.data_to_send()))
            except (InvalidState, RuntimeError):  # the transport is closed already
                pass
            self.close_sent = True
            if self.read_paused:  # read on, to see the client's answering close frame
                self.read_paused = False
                self.transport.resume_reading()
        self._reset_unless_closed(grace_s)

    def _reset_unless_closed(self, grace_s: float) -> None:
        # uvicorn's own close timer calls transport.close(), which waits for the buffer
        # to drain; ours resets instead. uvicorn cancels it (and closes the transport
        # politely) when the client's close frame arrives, and when the connection is lost.
        if self.disconnected:
            return
        if self.close_timer is not None:
            self.close_timer.cancel()
        self.close_timer = self.loop.call_later(grace_s, self.reset)

    def reset(self) -> None:
        """Drop the connection now: RST, not FIN, so no buffer outlives it anywhere."""
        self.close_timer = None
        transport = self.transport
        if self.disconnected or transport is None:
            return
        if transport.is_closing() and not transport.get_write_buffer_size():
            return  # closed with nothing left to send: its socket is gone or going already
        METRICS.sockets_reset += 1
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
            except OSError:
                pass
        transport.abort()

    def keepalive_timeout(self) -> None:
        # No pong in time. Uvicorn would close the transport politely, which for a client
        # that stopped reading leaves its unsent data in the kernel; close it as any other.
        self.pong_timer = None
        self.pending_ping_payload = None
        if self.close_sent or self.transport.is_closing():
            return
        self.close_now(1011, "keepalive ping timeout", self.close_grace_s)

    def on_task_complete(self, task: asyncio.Task[None]) -> None:
        super().on_task_complete(task)
        # The room socket is done with it; uvicorn has closed the transport or armed its
        # close timer, both of which wait on the client. (A hook on the task rather than an
        # `async def run_asgi` wrapper: that would keep one more suspended coroutine frame,
        # about 400 bytes, alive per viewer for the whole show.)
        if not self.disconnected:
            self._reset_unless_closed(self.close_grace_s)

    def shutdown(self) -> None:
        """Uvicorn's shutdown (SIGTERM) asks each connection to close: a room socket joins
        the node's drain instead, which closes it with 1012 and where to resume."""
        node = self.node
        if (
            node is not None
            and self.handshake_complete
            and self.initial_response is None
            and not self.close_sent
            and not self.disconnected
        ):
            node.drain.add(self)
            return
        super().shutdown()
        if not self.disconnected:
            self._reset_unless_closed(self.close_grace_s)
