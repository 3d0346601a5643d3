"""A stand-in for a merchant backend's webhook endpoint: a real HTTP server on loopback that
checks each call's signature as a merchant would (liveroom.merchant.auth, the documented
scheme), keeps what it took, and on demand answers an HTTP error or holds a call unanswered
(so its sender can be killed while it waits)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from liveroom.merchant import auth
from tests.support.http_stub import StubHandler, StubServer
from tests.support.server import free_port

OK = 200
HANG = -1  # hold the call until the sender goes away (or the receiver closes)


@dataclass
class Call:
    body: dict[str, Any]
    signed: bool  # the signature verified with the merchant key
    answer: int
    delivered: bool = False  # answered 2xx to a sender still there
    at: float = field(default_factory=time.time)  # when it came, unix s


@dataclass
class Receiver:
    key: str
    path: str = "/hooks/liveroom?shop=tea"
    port: int = field(default_factory=free_port)
    calls: list[Call] = field(default_factory=list)
    script: list[int] = field(default_factory=list)  # answers to the next calls, then OK
    lock: threading.Lock = field(default_factory=threading.Lock)
    closing: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def events(self, room_id: str) -> list[dict[str, Any]]:
        """Every event of the room in the calls it answered 2xx, in order, repeats kept."""
        with self.lock:
            return [
                e
                for c in self.calls
                if c.delivered and c.body["room_id"] == room_id
                for e in c.body["events"]
            ]

    def wait_for(self, room_id: str, count: int, timeout: float = 30) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(got := self.events(room_id)) < count:
            assert time.monotonic() < deadline, f"{len(got)} of {count} events came"
            time.sleep(0.05)
        return got

    def __enter__(self) -> Receiver:
        receiver = self

        class Handler(StubHandler):
            def do_POST(self) -> None:
                raw = self.read_body()
                try:
                    auth.verify(receiver.key, "POST", self.path, self.headers, raw)  # type: ignore[arg-type]
                    signed = True
                except Exception:
                    signed = False
                with receiver.lock:
                    answer = receiver.script.pop(0) if receiver.script else OK
                    call = Call(json.loads(raw), signed, answer)
                    receiver.calls.append(call)
                if answer == HANG:
                    while not receiver.closing.wait(0.05):
                        if self.sender_gone():
                            return
                    return
                try:
                    self.send_response(answer)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    self.wfile.flush()
                except OSError:
                    return
                call.delivered = 200 <= answer < 300

        self.stub = StubServer(self.port, Handler)
        return self

    def __exit__(self, *exc: object) -> None:
        self.closing.set()
        self.stub.close()
