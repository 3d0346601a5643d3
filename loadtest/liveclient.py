"""A liveroom socket for Locust users: websocket-client under gevent, msgpack frames.

Locust patches the standard library for gevent, so websocket-client's blocking calls yield
to other users; each user runs one reader greenlet that decodes every frame, keeps the room
state a viewer would (open sales, open draws) and reports custom metrics through Locust's
request event, so they land in the same stats table and CSV files as everything else:

| request_type | name            | response_time                       |
| ------------ | --------------- | ----------------------------------- |
| WS           | join            | connect to welcome                  |
| RECV         | <frame type>    | 0 (a count of frames by type)       |
| DELIVERY     | event latency   | event `ts` (server clock) to receipt|
| WS           | comment, grab.. | send to ack or error                |
| SALE         | hold won        | grab answer time, length = units    |
| SALE         | sale started    | start_sale answer, length = stock   |
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

import gevent
import msgpack
import websocket
from gevent.event import AsyncResult

# Per frame, at most this many events report their latency (a tick may carry hundreds).
LATENCY_SAMPLES_PER_FRAME = 5
# Errors a well-behaved client meets in a busy show: not failures of the system under test.
EXPECTED_ERRORS = frozenset(
    {
        "rate_limited",
        "sold_out",
        "limit_reached",
        "sale_not_live",
        "sale_ended",
        "not_started",
        "already_entered",
        "draw_closed",
        "not_eligible",
        "slow_mode",
        "duplicate",
        "muted",
        "over_limit",
        "ended",
        "not_eligible_member",
        "not_eligible_watch_time",
        "draw_not_found",
    }
)

Fire = Callable[..., None]


def ws_url(host: str, room: str, token: str) -> str:
    parts = urlsplit(host if "://" in host else f"http://{host}")
    scheme = "wss" if parts.scheme in ("https", "wss") else "ws"
    return f"{scheme}://{parts.netloc}/ws/rooms/{room}?{urlencode({'token': token})}"


class RoomSocket:
    def __init__(self, fire: Fire, url: str) -> None:
        self.fire = fire
        self.url = url
        self.ws: websocket.WebSocket | None = None
        self.welcome: dict[str, Any] | None = None
        self.sales: dict[str, dict[str, Any]] = {}  # open sales seen in events
        self.draws: dict[str, dict[str, Any]] = {}  # open draws
        self.unsupported: set[str] = set()  # frame types this server does not know
        self.closed_code: int | None = None
        self._waiting: dict[str, tuple[AsyncResult, float, str]] = {}
        self._rids = itertools.count(1)
        self._reader: gevent.Greenlet | None = None
        self._closing = False

    # connection ----------------------------------------------------------------------
    def connect(self, timeout: float = 20.0) -> None:
        t0 = time.perf_counter()
        try:
            self.ws = websocket.create_connection(
                self.url, subprotocols=["liveroom.msgpack"], timeout=timeout
            )
            _kind, data = self.ws.recv_data()
            frame = msgpack.unpackb(data, raw=False)
            if frame.get("t") != "welcome":
                raise ConnectionError(f"expected welcome, got {frame.get('t')}: {frame}")
        except Exception as exc:
            self._fire("WS", "join", t0, exception=exc)
            raise
        self.welcome = frame
        self._track_welcome(frame)
        self._fire("WS", "join", t0, length=len(data))
        self._fire_recv("welcome", data)
        self.ws.settimeout(None)
        self._reader = gevent.spawn(self._read_loop)

    def close(self) -> None:
        self._closing = True  # our own close: the reader must not report it as a failure
        if self._reader is not None:
            self._reader.kill(block=False)
        if self.ws is not None:
            try:
                self.ws.close(timeout=1)
            except Exception:
                pass

    @property
    def alive(self) -> bool:
        return self.ws is not None and self.ws.connected and self.closed_code is None

    # sending -------------------------------------------------------------------------
    def send(self, frame: dict[str, Any]) -> None:
        assert self.ws is not None
        self.ws.send_binary(msgpack.packb(frame))

    def request(self, name: str, frame: dict[str, Any], timeout: float = 10.0) -> dict | None:
        """Send with a rid and wait for its ack or error; report the answer time as `name`.

        Returns the answer, or None when the server does not know this frame type (a feature
        not deployed here), which is remembered so the caller can stop asking.
        """
        rid = f"r{next(self._rids)}"
        waiter: AsyncResult = AsyncResult()
        t0 = time.perf_counter()
        self._waiting[rid] = (waiter, t0, name)
        try:
            self.send({**frame, "rid": rid})
            answer = waiter.get(timeout=timeout)
        except Exception as exc:
            self._waiting.pop(rid, None)
            self._fire("WS", name, t0, exception=exc)
            return None
        if answer.get("t") == "error":
            code = answer.get("code")
            if code == "unknown_type":
                self.unsupported.add(frame["t"])
                return None
            if code not in EXPECTED_ERRORS:
                self._fire("WS", name, t0, exception=RuntimeError(f"{code}: {answer}"))
                return answer
        self._fire("WS", name, t0)
        return answer

    # receiving -----------------------------------------------------------------------
    def _read_loop(self) -> None:
        assert self.ws is not None
        while True:
            try:
                opcode, data = self.ws.recv_data()
            except Exception as exc:
                if self.closed_code is None and not self._closing:
                    self.closed_code = -1
                    self._fire("WS", "disconnected", time.perf_counter(), exception=exc)
                return
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                code = int.from_bytes(data[:2], "big") if len(data) >= 2 else 1005
                self.closed_code = code
                if self._closing:
                    return
                self._fire(
                    "WS",
                    f"closed by server {code}",
                    time.perf_counter(),
                    exception=ConnectionError(f"close {code} {data[2:]!r}"),
                )
                return
            try:
                frame = msgpack.unpackb(data, raw=False)
            except Exception as exc:
                self._fire("RECV", "undecodable", time.perf_counter(), exception=exc)
                continue
            self._on_frame(frame, data)

    def _on_frame(self, frame: dict[str, Any], data: bytes) -> None:
        t = frame.get("t", "?")
        self._fire_recv(t, data)
        rid = frame.get("rid")
        if rid is not None and rid in self._waiting:
            waiter, _, _ = self._waiting.pop(rid)
            waiter.set(frame)
        if "stock" in frame:
            self._track_stock(frame["stock"])
        if t == "tick":
            now = time.time() * 1000
            sampled = 0
            for event in frame.get("events", ()):
                self._track(event)
                ts = event.get("ts")
                if ts and sampled < LATENCY_SAMPLES_PER_FRAME:
                    sampled += 1
                    self.fire(
                        request_type="DELIVERY",
                        name="event latency",
                        response_time=max(0.0, now - ts),
                        response_length=0,
                        exception=None,
                        context={},
                    )

    def _track(self, event: dict[str, Any]) -> None:
        """Keep the open sales and draws a viewer could act on, from the room's events."""
        etype = event.get("type")
        if etype == "sale":  # a new sale: its terms ride in the event
            sale = event.get("sale") or {}
            if sale.get("status") == "live" and sale.get("available", 1) > 0:
                self.sales[sale["sale_id"]] = sale
        elif etype == "sale_started" and "sale_id" in event:
            self.sales[event["sale_id"]] = event
        elif etype == "sale_ended":
            self.sales.pop(event.get("sale_id"), None)
        elif etype == "draw_started" and "draw_id" in event:
            self.draws[event["draw_id"]] = event
        elif etype in ("draw_closed", "draw_cancelled"):
            self.draws.pop(event.get("draw_id"), None)

    def _track_welcome(self, welcome: dict[str, Any]) -> None:
        for sale in welcome.get("sales") or ():
            if sale.get("status") == "live" and sale.get("available", 0) > 0:
                self.sales[sale["sale_id"]] = sale
        for draw in welcome.get("draws") or ():
            if "draw_id" in draw:
                self.draws[draw["draw_id"]] = draw

    def _track_stock(self, stock: Any) -> None:
        """Stock rides in ticks as latest values; a sold-out sale is not worth a grab."""
        if isinstance(stock, dict):
            for sale_id, left in stock.items():
                if isinstance(left, dict):
                    left = left.get("available", 1)
                if left == 0:
                    self.sales.pop(sale_id, None)

    # metrics -------------------------------------------------------------------------
    def _fire(
        self, kind: str, name: str, t0: float, length: int = 0, exception: Any = None
    ) -> None:
        self.fire(
            request_type=kind,
            name=name,
            response_time=(time.perf_counter() - t0) * 1000,
            response_length=length,
            exception=exception,
            context={},
        )

    def _fire_recv(self, frame_type: str, data: bytes) -> None:
        self.fire(
            request_type="RECV",
            name=frame_type,
            response_time=0,
            response_length=len(data),
            exception=None,
            context={},
        )
