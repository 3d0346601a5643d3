"""A stand-in for WeCom's group-robot endpoint: a real HTTP server on loopback that answers
as WeCom does (`{"errcode":0,"errmsg":"ok"}`), and on demand with an HTTP error, errcode
45009 (over the robot's 20 messages a minute), or no answer at all (to kill the sender
while it waits)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.http_stub import StubHandler, StubServer
from tests.support.server import free_port

OK = "ok"
HTTP_502 = "http502"
RATE_LIMITED = "45009"
HANG = "hang"  # hold the request until released (the sender can die meanwhile)


@dataclass
class Post:
    key: str
    body: dict[str, Any]
    at: float  # wall clock, unix s (comparable with the server's due times)
    answer: str
    delivered: bool = False  # answered errcode 0 to a sender still there


@dataclass
class FakeWeCom:
    port: int = field(default_factory=free_port)
    posts: list[Post] = field(default_factory=list)
    # key -> answers for its next posts, in order; then OK
    script: dict[str, list[str]] = field(default_factory=dict)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, key: str) -> str:
        return f"http://127.0.0.1:{self.port}/cgi-bin/webhook/send?key={key}"

    def delivered(self, key: str | None = None) -> list[Post]:
        with self.lock:
            return [p for p in self.posts if p.delivered and (key is None or p.key == key)]

    def _answer_for(self, key: str) -> str:
        with self.lock:
            queue = self.script.get(key) or []
            return queue.pop(0) if queue else OK

    def __enter__(self) -> FakeWeCom:
        fake = self

        class Handler(StubHandler):
            def do_POST(self) -> None:
                raw = self.read_body()
                key = parse_qs(urlsplit(self.path).query).get("key", [""])[0]
                answer = fake._answer_for(key)
                post = Post(key, json.loads(raw), time.time(), answer)
                with fake.lock:
                    fake.posts.append(post)
                if answer == HANG:
                    while not fake.release.wait(0.05):
                        if self.sender_gone():
                            return  # the sender died: nothing was delivered

                if answer == HTTP_502:
                    self._send(502, b"bad gateway")
                    return
                reply = {"errcode": 0, "errmsg": "ok"}
                if answer == RATE_LIMITED:
                    reply = {"errcode": 45009, "errmsg": "api freq out of limit"}
                try:
                    self._send(200, json.dumps(reply).encode())
                    self.wfile.flush()
                except OSError:
                    return  # the sender died while we held its request
                post.delivered = answer in (OK, HANG)

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.stub = StubServer(self.port, Handler)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.stub.close()
