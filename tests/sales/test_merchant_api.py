"""The merchant API over HTTP: signing, products, rooms, sales, checkout, events."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from liveroom import tokens
from liveroom.analytics.routes import analytics_routes
from liveroom.coupons.routes import coupon_routes
from liveroom.merchant import auth
from liveroom.merchant.routes import merchant_routes
from liveroom.sales import ticket
from liveroom.sales.store import now_ms
from tests.sales.merchant import Merchant
from tests.support.client import Client
from tests.support.server import LiveServer

KEY = "k-test"
PRODUCT = {"sku": "cup", "title": "Cup", "price_fen": 1200, "appid": "wx9", "page": "p/buy"}


# signing, without a server --------------------------------------------------------------------
def test_signature_round_trip_and_refusals() -> None:
    body = b'{"a":1}'
    h = auth.signed_headers(KEY, "POST", "/api/x?y=1", body, now=1000, nonce="nonce-123")
    assert auth.verify(KEY, "POST", "/api/x?y=1", h, body, now=1000) == "nonce-123"
    cases = [
        ({}, "missing_signature", body, "/api/x?y=1", 1000),
        (h, "bad_signature", b'{"a":2}', "/api/x?y=1", 1000),  # body tampered
        (h, "bad_signature", body, "/api/x?y=2", 1000),  # query tampered
        ({**h, auth.HEADER_NONCE: "other-nonce"}, "bad_signature", body, "/api/x?y=1", 1000),
        ({**h, auth.HEADER_TIMESTAMP: "soon"}, "bad_timestamp", body, "/api/x?y=1", 1000),
        ({**h, auth.HEADER_NONCE: "a b"}, "bad_nonce", body, "/api/x?y=1", 1000),
        (h, "stale_request", body, "/api/x?y=1", 1000 + auth.MAX_SKEW_S + 1),
        (h, "stale_request", body, "/api/x?y=1", 1000 - auth.MAX_SKEW_S - 1),
    ]
    for headers, code, b, path, now in cases:
        with pytest.raises(auth.AuthError) as info:
            auth.verify(KEY, "POST", path, headers, b, now=now)
        assert info.value.code == code
    with pytest.raises(auth.AuthError):
        auth.verify("other-key", "POST", "/api/x?y=1", h, body, now=1000)


def test_ticket_refuses_forgery_and_viewer_tokens() -> None:
    from liveroom.rules.sale import Hold

    hold = Hold("h1", "r", "s", "u", 1, 100, "cup", 0, 5000)
    t = ticket.mint(KEY, hold)
    assert ticket.verify(KEY, t) == ticket.Ticket("r", "h1", "s", "u", 5000)
    body, _, sig = t.partition(".")
    for bad in (f"{body}.x{sig[1:]}", f"{body}x.{sig}", "nodot", "", ticket.mint("k2", hold)):
        with pytest.raises(ticket.TicketError):
            ticket.verify(KEY, bad)
    with pytest.raises(ticket.TicketError):  # same secret, other purpose
        ticket.verify(KEY, tokens.mint_for(KEY, "u"))
    assert ticket.checkout_path("p/buy?x=1", "a.b") == "p/buy?x=1&ticket=a.b"


# over HTTP --------------------------------------------------------------------------------------
@pytest.fixture
async def merchant(merchant: Merchant) -> Merchant:
    """The shared merchant client (tests/conftest.py), with what this module needs."""
    await merchant.ok("POST", "/api/products", PRODUCT)
    return merchant


async def test_unsigned_forged_stale_and_replayed_requests_refused(merchant: Merchant) -> None:
    plain = await merchant.http.get("/api/products")
    assert plain.status_code == 401 and plain.json()["error"]["code"] == "missing_signature"
    forged = await merchant.call("GET", "/api/products", headers={auth.HEADER_SIGNATURE: "0" * 64})
    assert forged.status_code == 401 and forged.json()["error"]["code"] == "bad_signature"
    wrong_key = Merchant(str(merchant.http.base_url), "not-the-key")
    assert (await wrong_key.call("GET", "/api/products")).status_code == 401
    await wrong_key.close()
    stale = await merchant.call("GET", "/api/products", now=time.time() - 600)
    assert stale.status_code == 401 and stale.json()["error"]["code"] == "stale_request"
    body = b'{"sku":"x1","title":"X","price_fen":1}'
    headers = auth.signed_headers(merchant.key, "POST", "/api/products", body)
    first = await merchant.http.post("/api/products", content=body, headers=headers)
    assert first.status_code == 201
    replay = await merchant.http.post("/api/products", content=body, headers=headers)
    assert replay.status_code == 401 and replay.json()["error"]["code"] == "replayed_request"


async def test_products_crud_and_validation(merchant: Merchant) -> None:
    listed = await merchant.ok("GET", "/api/products")
    assert [p["sku"] for p in listed["products"]] == ["cup"]
    assert (await merchant.ok("GET", "/api/products/cup"))["product"]["appid"] == "wx9"
    changed = await merchant.ok("PUT", "/api/products/cup", {**PRODUCT, "price_fen": 999})
    assert changed["product"]["price_fen"] == 999
    bad = await merchant.call("POST", "/api/products", {"sku": "a b", "title": "x", "price_fen": 1})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_product"
    mismatch = await merchant.call("PUT", "/api/products/cup", {**PRODUCT, "sku": "other"})
    assert mismatch.status_code == 400
    not_json = await merchant.call("POST", "/api/products", "just a string")
    assert not_json.status_code == 400 and not_json.json()["error"]["code"] == "bad_request"
    assert (await merchant.ok("DELETE", "/api/products/cup"))["deleted"] == "cup"
    missing = await merchant.call("GET", "/api/products/cup")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "no_such_product"


async def test_room_config_reaches_the_room(live_server: LiveServer, merchant: Merchant) -> None:
    viewer = await Client.connect(
        live_server.ws_url("cfg", tokens.mint_for(live_server.secret, "v"))
    )
    out = await merchant.ok(
        "PUT",
        "/api/rooms/cfg",
        {"title": "Tea night", "keywords": ["spam"], "allow_anonymous": False},
    )
    assert out["room"]["title"] == "Tea night" and out["room"]["keywords"] == ["spam"]
    event = await viewer.events(lambda e: e["type"] == "room")
    assert event["title"] == "Tea night" and "keywords" not in event
    await asyncio.sleep(0.3)  # the room's processes refresh their copy of the room
    blocked = await viewer.request({"t": "comment", "text": "buy SPAM here"})
    assert blocked["code"] == "blocked_word"
    anon = await Client.connect(live_server.ws_url("cfg"), welcome=False)
    refused = await anon.recv()
    assert refused["code"] == "token_required"
    bad = await merchant.call("PUT", "/api/rooms/cfg", {"title": 5})
    assert bad.status_code == 400
    unknown = await merchant.call("PUT", "/api/rooms/cfg", {"status": "ended"})
    assert unknown.status_code == 400
    bad_room = await merchant.call("PUT", "/api/rooms/a%20b", {"title": "x"})
    assert bad_room.status_code == 400 and bad_room.json()["error"]["code"] == "bad_room"
    # how the room names buyers in its purchase social proof, as the host's
    # set_social_proof does
    named = await merchant.ok("PUT", "/api/rooms/cfg", {"social_proof": "full"})
    assert named["room"]["social_proof"] == "full"
    event = await viewer.events(lambda e: e["type"] == "room" and "social_proof" in e)
    assert event["social_proof"] == "full"
    assert (await merchant.ok("GET", "/api/rooms/cfg"))["room"]["social_proof"] == "full"
    for junk in ("loud", 1, None, ""):
        wrong = await merchant.call("PUT", "/api/rooms/cfg", {"social_proof": junk})
        assert wrong.status_code == 400 and "social_proof" in wrong.json()["error"]["message"]
    await viewer.close()


async def _grab(srv: LiveServer, room: str, sale_id: str, uid: str, qty: int = 1) -> dict:
    c = await Client.connect(srv.ws_url(room, tokens.mint_for(srv.secret, uid)))
    got = await c.request({"t": "grab", "sale_id": sale_id, "qty": qty, "request_id": uid})
    await c.close()
    assert got["t"] == "ack", got
    return got


async def test_sale_create_validation(merchant: Merchant) -> None:
    bad = await merchant.call("POST", "/api/rooms/r/sales", {"sku": "cup", "stock": 0})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_sale"
    unknown = await merchant.call("POST", "/api/rooms/r/sales", {"sku": "nope", "stock": 1})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "no_such_product"
    missing = await merchant.call("GET", "/api/rooms/r/sales/s_nope")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "no_such_sale"
    # a merchant that names its sale may retry the create: the retry changes nothing
    named = {"sku": "cup", "stock": 3, "sale_id": "spring-1"}
    first = await merchant.ok("POST", "/api/rooms/r/sales", named)
    assert first["sale"]["sale_id"] == "spring-1"
    again = await merchant.call("POST", "/api/rooms/r/sales", {**named, "stock": 9})
    assert again.status_code == 409 and again.json()["error"]["code"] == "sale_exists"
    assert again.json()["sale"]["stock"] == 3
    listed = await merchant.ok("GET", "/api/rooms/r/sales")
    assert [s["sale_id"] for s in listed["sales"]] == ["spring-1"]
    bad_id = await merchant.call("POST", "/api/rooms/r/sales", {**named, "sale_id": "a/b"})
    assert bad_id.status_code == 400


async def test_checkout_duplicates_and_out_of_order_calls(
    live_server: LiveServer, merchant: Merchant
) -> None:
    sale = (
        await merchant.ok(
            "POST", "/api/rooms/co/sales", {"sku": "cup", "stock": 10, "limit_per_user": 3}
        )
    )["sale"]
    sid = sale["sale_id"]
    a = await _grab(live_server, "co", sid, "ua", 2)
    b = await _grab(live_server, "co", sid, "ub", 1)
    c = await _grab(live_server, "co", sid, "uc", 1)
    ta, tb, tc = (g["checkout"]["ticket"] for g in (a, b, c))

    async def counters() -> tuple[int, int, int]:
        s = (await merchant.ok("GET", f"/api/rooms/co/sales/{sid}"))["sale"]
        assert s["available"] + s["held"] + s["sold"] == s["stock"]
        return s["available"], s["held"], s["sold"]

    assert await counters() == (6, 4, 0)
    paid = await merchant.ok("POST", "/api/checkout/confirm", {"ticket": ta, "order_id": "o-a"})
    assert paid["hold"]["status"] == "paid" and not paid["duplicate"]
    # the same confirmation twice is one sale
    dup = await merchant.ok("POST", "/api/checkout/confirm", {"ticket": ta, "order_id": "o-a"})
    assert dup["duplicate"] is True
    assert await counters() == (6, 2, 2)
    # by room_id + hold_id works as well as by ticket
    by_id = {"room_id": "co", "hold_id": a["hold"]["hold_id"], "order_id": "o-a"}
    assert (await merchant.ok("POST", "/api/checkout/confirm", by_id))["duplicate"] is True
    other = await merchant.call("POST", "/api/checkout/confirm", {"ticket": ta, "order_id": "o-z"})
    assert other.status_code == 409 and other.json()["error"]["code"] == "already_paid"
    reuse = await merchant.call("POST", "/api/checkout/confirm", {"ticket": tb, "order_id": "o-a"})
    assert reuse.status_code == 409 and reuse.json()["error"]["code"] == "order_conflict"
    # cancel after confirm changes nothing
    late = await merchant.call("POST", "/api/checkout/cancel", {"ticket": ta})
    assert late.status_code == 409 and late.json()["error"]["code"] == "already_paid"
    assert late.json()["hold"]["status"] == "paid"
    assert await counters() == (6, 2, 2)
    # cancel, then cancel again (a duplicate), then a confirm for it
    gone = await merchant.ok("POST", "/api/checkout/cancel", {"ticket": tb})
    assert gone["hold"]["status"] == "cancelled"
    assert (await merchant.ok("POST", "/api/checkout/cancel", {"ticket": tb}))["duplicate"]
    after = await merchant.call("POST", "/api/checkout/confirm", {"ticket": tb, "order_id": "o-b"})
    assert after.status_code == 409 and after.json()["error"]["code"] == "hold_cancelled"
    redeem = await merchant.call("POST", "/api/checkout/redeem", {"ticket": tb})
    assert redeem.status_code == 409 and redeem.json()["error"]["code"] == "hold_cancelled"
    assert await counters() == (7, 1, 2)
    # forged and unknown tickets
    body, _, sig = tc.partition(".")
    forged = await merchant.call(
        "POST", "/api/checkout/confirm", {"ticket": f"{body}.{sig[::-1]}", "order_id": "o-c"}
    )
    assert forged.status_code == 400 and forged.json()["error"]["code"] == "bad_ticket"
    unknown = await merchant.call(
        "POST", "/api/checkout/confirm", {"room_id": "co", "hold_id": "h_x", "order_id": "o-c"}
    )
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "no_such_hold"
    no_order = await merchant.call("POST", "/api/checkout/confirm", {"ticket": tc})
    assert no_order.status_code == 400
    assert await counters() == (7, 1, 2)
    events = await merchant.ok("GET", "/api/rooms/co/events")
    # the analytics' own aggregate ("activity") is written whenever a flush falls due, which
    # on a slow box can be anywhere in between: the commerce order is what is asserted
    commerce = [e for e in events["events"] if e["type"] != "activity"]
    types = [e["type"] for e in commerce]
    # each buyer's join (they came in to grab) precedes their hold
    assert types == ["sale_created", "sale_started"] + ["viewer_joined", "hold_created"] * 3 + [
        "hold_paid",
        "hold_cancelled",
    ]
    page = await merchant.ok("GET", f"/api/rooms/co/events?after={commerce[7]['id']}")
    assert [e["type"] for e in page["events"] if e["type"] != "activity"] == [
        "hold_paid",
        "hold_cancelled",
    ]
    assert page["next"] == events["next"]


async def test_confirm_after_expiry_refused_and_stock_returns_once(
    live_server: LiveServer, merchant: Merchant
) -> None:
    sale = (
        await merchant.ok(
            "POST",
            "/api/rooms/ex/sales",
            {"sku": "cup", "stock": 2, "hold_s": 1, "limit_per_user": 2},
        )
    )["sale"]
    sid = sale["sale_id"]
    got = await _grab(live_server, "ex", sid, "late-payer", 2)
    t = got["checkout"]["ticket"]
    assert (await merchant.ok("POST", "/api/checkout/redeem", {"ticket": t}))["hold"]["qty"] == 2
    await asyncio.sleep(max(0, got["hold"]["expires_at"] - now_ms()) / 1000 + 0.05)
    late = await merchant.call("POST", "/api/checkout/confirm", {"ticket": t, "order_id": "o"})
    assert late.status_code == 409 and late.json()["error"]["code"] == "hold_expired"
    assert late.json()["hold"]["status"] == "expired"
    redeem = await merchant.call("POST", "/api/checkout/redeem", {"ticket": t})
    assert redeem.status_code == 409 and redeem.json()["error"]["code"] == "hold_expired"
    cancel = await merchant.call("POST", "/api/checkout/cancel", {"ticket": t})
    assert cancel.status_code == 409 and cancel.json()["error"]["code"] == "hold_expired"
    await asyncio.sleep(1.0)  # sweepers run meanwhile: they must not return it again
    s = (await merchant.ok("GET", f"/api/rooms/ex/sales/{sid}"))["sale"]
    assert (s["available"], s["held"], s["sold"]) == (2, 0, 0)
    events = (await merchant.ok("GET", "/api/rooms/ex/events"))["events"]
    assert [e["type"] for e in events].count("hold_expired") == 1


async def test_openapi_describes_every_route(live_server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        spec = (await http.get("/api/openapi.json")).json()
    assert spec["openapi"].startswith("3.")
    for route in [*merchant_routes(), *analytics_routes(), *coupon_routes()]:
        if route.path == "/api/openapi.json" or not route.path.startswith("/api/"):
            continue
        for method in route.methods or ():
            if method == "HEAD":
                continue
            assert method.lower() in spec["paths"][route.path], (method, route.path)
