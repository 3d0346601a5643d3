"""Hostile frames of every client frame type (protocol.SPECS), over real WebSockets to a
live server, as a viewer and as a host, in msgpack and JSON, on both engines.

What must hold whatever is sent: no `internal` error frame, no socket dropped without a
close code, no traceback in the server's log; and afterwards the room still serves a fresh
viewer and the merchant API still lists products.
"""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Iterator
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from liveroom import tokens
from tests.fuzz.conftest import FUZZ, put_product
from tests.fuzz.strategies import KNOWN_SKU, json_text, messages
from tests.support.server import LiveServer

ROOMS = itertools.count()
# close codes the server may end a fuzzed socket with: each one a documented answer
EXPECTED_CLOSES = {1000, 1009, 4004, 4009, 4010}


def encode(fmt: str, message: Any) -> bytes | str:
    """What a hostile client puts on the wire for `message` on a `fmt` connection."""
    if isinstance(message, bytes):
        return message
    if isinstance(message, str):  # a text frame must be UTF-8: a surrogate goes as bytes
        return (
            message
            if message.isascii() or _utf8(message)
            else message.encode("utf-8", "surrogatepass")
        )
    if fmt == "json":
        return json_text(message)
    try:
        return msgpack.packb(message, use_bin_type=True, unicode_errors="surrogatepass")
    except (OverflowError, TypeError, ValueError):
        return json_text(message)  # msgpack cannot carry it: a JSON text frame instead


def _utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def decode(data: bytes | str) -> dict[str, Any]:
    return json.loads(data) if isinstance(data, str) else msgpack.unpackb(data, raw=False)


@contextlib.contextmanager
def open_socket(
    srv: LiveServer, room: str, uid: str, role: str, fmt: str
) -> Iterator[ClientConnection]:
    token = tokens.mint_for(srv.secret, uid, room=room, role=role, tier="vip")
    url = srv.ws_url(room, token)
    with connect(url, subprotocols=[f"liveroom.{fmt}"], open_timeout=20, max_size=2**24) as ws:
        welcome = decode(ws.recv(timeout=20))
        assert welcome["t"] == "welcome", welcome
        yield ws


def drive(ws: ClientConnection, fmt: str, batch: list[Any]) -> list[dict[str, Any]]:
    """Send the batch, then a ping; read until its pong or the close. Returns the frames."""
    seen: list[dict[str, Any]] = []
    try:
        for message in batch:
            ws.send(encode(fmt, message))
        ws.send(encode(fmt, {"t": "ping", "rid": "fuzz-end"}))
        while True:
            frame = decode(ws.recv(timeout=20))
            seen.append(frame)
            if frame.get("rid") == "fuzz-end" and frame.get("t") == "pong":
                return seen
    except ConnectionClosed as exc:
        code = exc.rcvd.code if exc.rcvd else None
        assert code in EXPECTED_CLOSES, f"socket dropped with {code}: {exc!r} after {seen[-3:]}"
        return seen


def assert_room_serves(srv: LiveServer, room: str) -> None:
    with open_socket(srv, room, "fresh-viewer", "viewer", "msgpack") as ws:
        try:
            ws.send(msgpack.packb({"t": "ping", "rid": 1}))
            frame = decode(ws.recv(timeout=20))
            while frame.get("t") not in ("pong", "error"):
                frame = decode(ws.recv(timeout=20))
            assert frame["t"] == "pong", frame
        except ConnectionClosed as exc:  # an ended room welcomes, then closes with 4004
            assert exc.rcvd is not None and exc.rcvd.code == 4004, exc


@pytest.mark.parametrize("fmt", ["msgpack", "json"])
@pytest.mark.parametrize("role", ["viewer", "host"])
def test_hostile_frames_never_crash_the_socket(
    fuzz_server: LiveServer, role: str, fmt: str
) -> None:
    srv = fuzz_server
    sent = {"frames": 0, "examples": 0}

    @FUZZ
    @given(batch=st.lists(messages, min_size=1, max_size=12))
    def one_room(batch: list[Any]) -> None:
        room = f"fuzz-{role}-{fmt}-{next(ROOMS)}"
        with open_socket(srv, room, f"{role}-fuzzer", role, fmt) as ws:
            seen = drive(ws, fmt, batch)
        internal = [f for f in seen if f.get("code") == "internal"]
        assert not internal, internal
        assert_room_serves(srv, room)
        sent["frames"] += len(batch)
        sent["examples"] += 1

    one_room()
    put_product(srv, KNOWN_SKU)  # the merchant API still answers (and the catalogue reads)
    with srv_http(srv) as products:
        assert products == 200
    assert "Traceback" not in srv.log(), srv.log()[-4000:]
    print(f"socket fuzz {role}/{fmt}: {sent['examples']} examples, {sent['frames']} frames")


class srv_http:
    """GET /api/products, signed: its status."""

    def __init__(self, srv: LiveServer) -> None:
        self.srv = srv

    def __enter__(self) -> int:
        import urllib.request

        from liveroom.merchant.auth import signed_headers

        headers = signed_headers(self.srv.secret, "GET", "/api/products", b"")
        req = urllib.request.Request(self.srv.url + "/api/products", headers=headers)
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status

    def __exit__(self, *exc: object) -> None:
        return None
