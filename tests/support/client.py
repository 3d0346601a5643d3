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
    async def connect(
        cls, url: str, fmt: str = "json", welcome: bool = True, **options: Any
    ) -> Client:
        """`options` go to websockets.connect (e.g. `local_addr`, `additional_headers`)."""
        protos = ["liveroom.json"] if fmt == "json" else ["liveroom.msgpack"]
        ws = await websockets.connect(
            url, subprotocols=protos, max_size=2**22, open_timeout=20, **options
        )
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


# Close codes after which a client comes back with the `since` in the close reason:
# 1012 (service restart: this process is going away) and 4008 (slow consumer).
RESUME_CODES = frozenset({1012, 4008})


def resume_point(closed: websockets.ConnectionClosed) -> int | None:
    """The `since` a server's 1012 / 4008 close reason names, if it names one."""
    rcvd = closed.rcvd
    if rcvd is None or rcvd.code not in RESUME_CODES:
        return None
    try:
        since = json.loads(rcvd.reason).get("since")
    except (ValueError, AttributeError):
        return None
    return since if isinstance(since, int) else None


class ResumingClient:
    """A viewer that stays in its room across server restarts, as liveroom.js does.

    It keeps the last seq it has seen; when the server closes with 1012 or 4008 (or the
    connection drops) it reconnects, with the `since` the close reason gives, to the URL
    `url_for(since)` returns (the test plays the load balancer), and takes the missed
    events from the welcome. Requests (`request`) not answered when the connection went
    are sent again, unchanged (same `request_id` / comment `id`), once it is back.
    """

    def __init__(self, url_for: Callable[[int | None], str], fmt: str = "msgpack") -> None:
        self.url_for = url_for
        self.fmt = fmt
        self.client: Client | None = None
        self.seq: int | None = None  # last room seq seen
        self.events: list[dict[str, Any]] = []  # every room event seen, in order
        self.welcomes: list[dict[str, Any]] = []
        self.closes: list[tuple[int | None, str, int | None]] = []  # code, reason, seq then
        self.stock: dict[str, int] = {}
        self.likes = 0  # the room's like total, as last heard
        self.resent = 0  # requests sent again after a reconnect, unanswered the first time
        self._rid = 0
        self._pending: dict[str, tuple[dict[str, Any], asyncio.Future[dict[str, Any]]]] = {}
        self._sent: set[str] = set()
        self._stopped = False
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._connect()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        self._stopped = True
        if self.client is not None:
            await self.client.close()
        if self._task is not None:
            await self._task

    async def request(self, frame: dict[str, Any]) -> dict[str, Any]:
        """Send with a fresh rid; the ack or error, however many reconnects it takes."""
        self._rid += 1
        rid = f"q{self._rid}"
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[rid] = ({**frame, "rid": rid}, fut)
        await self._send(rid)
        return await fut

    async def _send(self, rid: str) -> None:
        client = self.client
        if client is None or rid not in self._pending:
            return  # sent when the connection is back
        if rid in self._sent:
            self.resent += 1
        self._sent.add(rid)
        try:
            await client.send(self._pending[rid][0])
        except websockets.ConnectionClosed:
            pass  # the read loop reconnects and sends it again

    async def _connect(self) -> None:
        while True:
            if self._stopped:
                return
            try:
                client = await Client.connect(self.url_for(self.seq), self.fmt)
                break
            except (OSError, websockets.InvalidHandshake, TimeoutError):
                await asyncio.sleep(0.2)
        assert client.welcome is not None
        self._welcomed(client.welcome)
        self.client = client
        for rid in list(self._pending):
            await self._send(rid)

    def _welcomed(self, welcome: dict[str, Any]) -> None:
        self.welcomes.append(welcome)
        if self.seq is not None and welcome["recovered"]:
            self._take(welcome["events"])
        self.seq = welcome["seq"] if self.seq is None else max(self.seq, welcome["seq"])
        self.likes = welcome["likes"]
        for sale in welcome.get("sales", ()):
            if "available" in sale:
                self.stock[sale["sale_id"]] = sale["available"]

    def _take(self, events: list[dict[str, Any]]) -> None:
        for e in events:
            self.events.append(e)
            self.seq = e["seq"]

    async def _run(self) -> None:
        while not self._stopped:
            assert self.client is not None
            try:
                frame = await self.client.recv(timeout=3600)
            except websockets.ConnectionClosed as closed:
                rcvd = closed.rcvd
                self.closes.append(
                    (rcvd.code if rcvd else None, rcvd.reason if rcvd else "", self.seq)
                )
                self.client = None
                await self._connect()
                if self._stopped:
                    return
                continue
            t = frame.get("t")
            if t in ("tick", "state"):
                self._take(frame.get("events", ()))
                if t == "tick":
                    self.seq = max(self.seq or 0, frame["seq"])
                self.stock.update(frame.get("stock", {}))
                self.likes = frame.get("likes", self.likes)
            elif t in ("ack", "error") and frame.get("rid") in self._pending:
                _, fut = self._pending.pop(frame["rid"])
                self._sent.discard(frame["rid"])
                if not fut.done():
                    fut.set_result(frame)
