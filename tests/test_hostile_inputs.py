"""Hostile values at the edge (issue 8, part 3), end to end on both engines: each answered
with a clear error, nothing stored, the room and the catalogue still served afterwards.

A lone surrogate ("\\ud800") is valid as a JSON escape but cannot be encoded as UTF-8, so
Redis, msgpack and our own JSON answers all refuse to write it once it is stored.
"""

from __future__ import annotations

import json

import msgpack
import pytest

from liveroom import tokens
from liveroom.protocol import CLOSE_FORBIDDEN
from tests.sales.merchant import Merchant
from tests.support.client import Client
from tests.support.server import LiveServer

ROOM = "hostile"
SURROGATE = "poison \ud800"


def host_url(srv: LiveServer) -> str:
    return srv.ws_url(ROOM, tokens.mint_for(srv.secret, "host1", room=ROOM, role="host"))


def viewer_url(srv: LiveServer, uid: str = "amy") -> str:
    return srv.ws_url(ROOM, tokens.mint_for(srv.secret, uid, room=ROOM, tier="vip"))


async def assert_room_still_serves(srv: LiveServer) -> None:
    async with await Client.connect(viewer_url(srv, "fresh"), fmt="msgpack") as fresh:
        assert fresh.welcome["t"] == "welcome"
    assert "Traceback" not in srv.log(), srv.log()[-3000:]


def error_code(resp: object) -> str:
    return resp.json()["error"]["code"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/products", {"sku": "bad-1", "title": SURROGATE, "price_fen": 1}),
        ("PUT", "/api/products/bad-1", {"title": "ok", "price_fen": 1, "page": SURROGATE}),
        ("POST", "/api/products", {"sku": "bad-1", "title": "t", "price_fen": 1, SURROGATE: 1}),
    ],
)
async def test_surrogate_in_a_product_is_refused_and_not_stored(
    live_server: LiveServer, merchant: Merchant, method: str, path: str, body: dict
) -> None:
    resp = await merchant.call(method, path, body)
    assert resp.status_code == 400 and error_code(resp) == "bad_request", resp.text
    assert "UTF-8" in resp.json()["error"]["message"] or "key" in resp.json()["error"]["message"]
    assert (await merchant.call("GET", "/api/products")).status_code == 200
    assert (await merchant.call("GET", "/api/products/bad-1")).status_code == 404
    async with await Client.connect(host_url(live_server)) as h:
        pin = await h.request({"t": "pin_product", "sku": "bad-1"})
        assert pin["code"] == "no_such_product"
    await assert_room_still_serves(live_server)


@pytest.mark.parametrize(
    "changes", [{"title": SURROGATE}, {"keywords": ["ok", SURROGATE]}, {"title": "ok\udfff"}]
)
async def test_surrogate_in_room_settings_is_refused(
    live_server: LiveServer, merchant: Merchant, changes: dict
) -> None:
    resp = await merchant.call("PUT", f"/api/rooms/{ROOM}", changes)
    assert resp.status_code == 400 and error_code(resp) == "bad_request", resp.text
    got = await merchant.call("GET", f"/api/rooms/{ROOM}")
    assert got.status_code == 200 and got.json()["room"]["title"] == ""
    await assert_room_still_serves(live_server)


@pytest.mark.parametrize(
    "body",
    [
        {"room_id": ROOM, "hold_id": SURROGATE, "order_id": "o1"},
        {"room_id": ROOM, "hold_id": "h_1", "order_id": SURROGATE},
        {"ticket": SURROGATE, "order_id": "o1"},
    ],
)
async def test_surrogate_in_checkout_ids_is_refused(
    live_server: LiveServer, merchant: Merchant, body: dict
) -> None:
    for path in ("/api/checkout/confirm", "/api/checkout/cancel", "/api/checkout/redeem"):
        resp = await merchant.call("POST", path, body)
        assert resp.status_code == 400 and error_code(resp) == "bad_request", (path, resp.text)
    assert "Traceback" not in live_server.log()


async def test_deeply_nested_body_is_bad_json_not_a_500(
    live_server: LiveServer, merchant: Merchant
) -> None:
    deep = b'{"sku": "a", "title": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"
    resp = await merchant.call_raw("POST", "/api/products", deep)  # json.loads: RecursionError
    assert resp.status_code == 400 and error_code(resp) == "bad_json", resp.text
    assert "deeper" in resp.json()["error"]["message"]
    assert "Traceback" not in live_server.log()


@pytest.mark.parametrize(
    "query",
    [
        "after=99999999999999999999999-0",
        "after=%C2%B2-0",
        "after=1-%C2%B2",
        "count=%C2%B2",
        "count=0",
    ],
)
async def test_malformed_event_paging_is_a_400(
    live_server: LiveServer, merchant: Merchant, query: str
) -> None:
    resp = await merchant.call("GET", f"/api/rooms/{ROOM}/events?{query}")
    assert resp.status_code == 400 and error_code(resp) == "bad_request", resp.text
    ok = await merchant.call("GET", f"/api/rooms/{ROOM}/events?after={2**64 - 1}-0&count=5")
    assert ok.status_code == 200 and ok.json()["events"] == []
    assert "Traceback" not in live_server.log()


@pytest.mark.parametrize("since", ["%C2%B2", "%D9%A1", "-1", str(2**63), "99999999999999999999999"])
async def test_anonymous_bad_since_gets_bad_since_and_a_close_code(
    live_server: LiveServer, since: str
) -> None:
    c = await Client.connect(f"{live_server.ws_url(ROOM)}?since={since}", welcome=False)
    frame = await c.recv()
    assert (frame["t"], frame["code"]) == ("error", "bad_since")
    assert (await c.closed())[0] == CLOSE_FORBIDDEN
    assert "Traceback" not in live_server.log()


@pytest.mark.parametrize(
    "frame",
    [
        {"t": "set_title", "title": SURROGATE},
        {"t": "pin", "text": SURROGATE},
        {"t": "announce", "text": SURROGATE},
        {"t": "set_keywords", "keywords": [SURROGATE]},
        {"t": "mute", "uid": SURROGATE},
        {"t": "delete_comment", "comment_id": SURROGATE},
        {"t": "start_draw", "prize": {"title": SURROGATE}, "winners": 1, "duration_s": 60},
        {"t": "start_sale", "sku": "tea", "stock": 1, "member_tiers": [SURROGATE]},
        {"t": "end_sale", "sale_id": SURROGATE},
    ],
)
async def test_surrogate_in_host_frames_is_bad_field(live_server: LiveServer, frame: dict) -> None:
    async with await Client.connect(host_url(live_server)) as h:
        err = await h.request(frame)
        assert (err["t"], err["code"]) == ("error", "bad_field"), err
        assert "UTF-8" in err["message"]
    await assert_room_still_serves(live_server)


@pytest.mark.parametrize(
    "frame",
    [
        {"t": "grab", "sale_id": "s1", "request_id": SURROGATE},
        {"t": "comment", "text": "hi", "id": SURROGATE},
        {"t": "product_click", "sku": SURROGATE},
        {"t": "enter_draw", "draw_id": SURROGATE},
        {"t": "comment", "text": "hi", "id": "ok", "extra": {"k": SURROGATE}},
    ],
)
async def test_surrogate_in_viewer_frames_is_bad_field(
    live_server: LiveServer, frame: dict
) -> None:
    async with await Client.connect(viewer_url(live_server)) as v:
        err = await v.request(frame)
        assert (err["t"], err["code"]) == ("error", "bad_field"), err
        assert (await v.request({"t": "ping"}))["t"] == "pong"
    await assert_room_still_serves(live_server)


async def test_json_text_on_a_msgpack_socket_with_an_unencodable_rid(
    live_server: LiveServer,
) -> None:
    """A text frame is read as JSON on any connection; a rid msgpack cannot carry (over 64
    bits) is refused without an echo, instead of failing the answer and the socket."""
    async with await Client.connect(viewer_url(live_server), fmt="msgpack") as v:
        await v.send_raw(json.dumps({"t": "ping", "rid": 2**70}))
        err = await v.expect("error")
        assert err["code"] == "bad_field" and "rid" not in err
        await v.send_raw(json.dumps({"t": "ping", "rid": "j1"}))
        raw = await v.ws.recv()
        assert isinstance(raw, bytes)  # answered in the connection's own encoding
        assert msgpack.unpackb(raw)["rid"] == "j1"


@pytest.mark.parametrize("room", ["hostile%0A", "hostile%0D%0A"])
async def test_a_room_id_with_a_trailing_newline_is_refused_everywhere(
    live_server: LiveServer, merchant: Merchant, room: str
) -> None:
    """A pattern's `$` matches before a final newline: every id check anchors at the very
    end, so `room%0A` is no room (nor is it `room`)."""
    for method, path in (("GET", f"/api/rooms/{room}/drops"), ("PUT", f"/api/rooms/{room}")):
        resp = await merchant.call(method, path, {"title": "x"} if method == "PUT" else None)
        assert (resp.status_code, error_code(resp)) == (400, "bad_room"), path
    c = await Client.connect(live_server.ws_url(room), welcome=False)
    frame = await c.recv()
    assert (frame["t"], frame["code"]) == ("error", "bad_room")
    assert (await c.closed())[0] == CLOSE_FORBIDDEN
    public = await merchant.call("GET", f"/api/draws/{room}/d1")
    assert (public.status_code, error_code(public)) == (400, "bad_request")
