"""Sales in a live room, end to end: real server, real sockets, signed merchant calls."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs, urlparse

import pytest

from liveroom import tokens
from liveroom.sales import ticket
from tests.sales.merchant import Merchant
from tests.support.client import Client
from tests.support.server import LiveServer

PRODUCT = {
    "sku": "tea-01",
    "title": "Spring tea",
    "price_fen": 9900,
    "appid": "wx1",
    "page": "pages/buy/index",
    "image": "https://img.example/tea.png",
}


@pytest.fixture
async def merchant(merchant: Merchant) -> Merchant:
    """The shared merchant client (tests/conftest.py), with what this module needs."""
    await merchant.ok("POST", "/api/products", PRODUCT)
    return merchant


def token(srv: LiveServer, uid: str, room: str = "shop", **kw: str) -> str:
    return tokens.mint_for(srv.secret, uid, room=room, **kw)


async def connect(srv: LiveServer, uid: str, room: str = "shop", **kw: str) -> Client:
    return await Client.connect(srv.ws_url(room, token(srv, uid, room, **kw)))


async def stock_of(client: Client, sale_id: str, want: int) -> None:
    await client.until(lambda f: f.get("stock", {}).get(sale_id) == want)


async def test_host_pins_viewers_see_bag_live_and_in_welcome(
    live_server: LiveServer, merchant: Merchant
) -> None:
    host = await connect(live_server, "host", role="host")
    viewer = await connect(live_server, "v1")
    ack = await host.request({"t": "pin_product", "sku": "tea-01"})
    assert ack["t"] == "ack" and ack["bag"] == ["tea-01"]
    event = await viewer.events(lambda e: e["type"] == "product_pinned")
    assert event["product"]["title"] == "Spring tea" and event["bag"] == ["tea-01"]
    missing = await host.request({"t": "pin_product", "sku": "nope"})
    assert missing["code"] == "no_such_product"
    late = await connect(live_server, "v2")
    assert [p["sku"] for p in late.welcome["bag"]] == ["tea-01"]  # type: ignore[index]
    refused = await viewer.request({"t": "pin_product", "sku": "tea-01"})
    assert refused["code"] == "forbidden"
    await viewer.request({"t": "product_click", "sku": "tea-01"})
    await late.request({"t": "product_click", "sku": "tea-01"})
    # a viewer tapping the same card over and over counts once (rules/clicks.py)
    for _ in range(5):
        assert (await viewer.request({"t": "product_click", "sku": "tea-01"}))["t"] == "ack"
    room = await merchant.ok("GET", "/api/rooms/shop")
    assert room["clicks"] == {"tea-01": 2} and room["bag"] == ["tea-01"]
    ack = await host.request({"t": "unpin_product", "sku": "tea-01"})
    assert ack["bag"] == []
    gone = await viewer.events(lambda e: e["type"] == "product_unpinned")
    assert gone["sku"] == "tea-01"
    for c in (host, viewer, late):
        await c.close()


async def test_sale_grab_and_checkout_hand_off(live_server: LiveServer, merchant: Merchant) -> None:
    host = await connect(live_server, "host", role="host")
    viewer = await connect(live_server, "buyer", nick="Buyer")
    ack = await host.request(
        {"t": "start_sale", "sku": "tea-01", "stock": 3, "price_fen": 5000, "limit_per_user": 2}
    )
    sale = ack["sale"]
    sale_id = sale["sale_id"]
    assert (sale["status"], sale["available"], sale["price_fen"]) == ("live", 3, 5000)
    seen = await viewer.events(lambda e: e["type"] == "sale")
    assert seen["sale"]["sale_id"] == sale_id
    got = await viewer.request({"t": "grab", "sale_id": sale_id, "qty": 2, "request_id": "g1"})
    assert got["t"] == "ack", got
    assert got["hold"]["qty"] == 2 and got["hold"]["price_fen"] == 5000
    assert got["checkout"]["appid"] == "wx1"
    path = urlparse(got["checkout"]["path"])
    assert path.path == "pages/buy/index"
    tick = parse_qs(path.query)["ticket"][0]
    assert ticket.verify(live_server.secret, tick).hold_id == got["hold"]["hold_id"]
    await stock_of(viewer, sale_id, 1)
    again = await viewer.request({"t": "grab", "sale_id": sale_id, "qty": 2, "request_id": "g1"})
    assert again["hold"] == got["hold"] and again["duplicate"] is True
    over = await viewer.request({"t": "grab", "sale_id": sale_id, "request_id": "g2"})
    assert (over["t"], over["code"], over["limit_left"]) == ("error", "over_limit", 0)

    redeemed = await merchant.ok("POST", "/api/checkout/redeem", {"ticket": tick})
    assert redeemed["hold"]["uid"] == "buyer" and redeemed["hold"]["total_fen"] == 10_000
    assert redeemed["product"]["title"] == "Spring tea"
    paid = await merchant.ok("POST", "/api/checkout/confirm", {"ticket": tick, "order_id": "o1"})
    assert paid["hold"]["status"] == "paid" and paid["duplicate"] is False
    state = await merchant.ok("GET", f"/api/rooms/shop/sales/{sale_id}")
    assert (state["sale"]["sold"], state["sale"]["held"], state["sale"]["available"]) == (2, 0, 1)

    other = await connect(live_server, "other")
    assert other.welcome["sales"][0]["available"] == 1  # type: ignore[index]
    big = await other.request({"t": "grab", "sale_id": sale_id, "qty": 2, "request_id": "x"})
    assert (big["code"], big["available"]) == ("sold_out", 1)
    end = await host.request({"t": "end_sale", "sale_id": sale_id})
    assert end["sale"]["status"] == "ended"
    await other.events(lambda e: e["type"] == "sale_ended")
    late = await other.request({"t": "grab", "sale_id": sale_id, "request_id": "y"})
    assert late["code"] == "ended"
    for c in (host, viewer, other):
        await c.close()


async def test_a_viewer_coming_back_finds_their_holds_and_orders(
    live_server: LiveServer, merchant: Merchant
) -> None:
    """The buyer grabs twice, leaves for the mini-program, pays one, comes back: the
    welcome has the paid order and the hold still to pay with its checkout; nobody
    else's, and none for an anonymous viewer or one who never grabbed."""
    host = await connect(live_server, "host", role="host")
    buyer = await connect(live_server, "buyer")
    sales = []
    for stock in (5, 6):
        ack = await host.request({"t": "start_sale", "sku": "tea-01", "stock": stock})
        sales.append(ack["sale"]["sale_id"])
    got = [
        await buyer.request({"t": "grab", "sale_id": sale_id, "request_id": "g"})
        for sale_id in sales
    ]
    assert [g["t"] for g in got] == ["ack", "ack"], got
    other = await connect(live_server, "other")
    assert (await other.request({"t": "grab", "sale_id": sales[0], "request_id": "g"}))[
        "t"
    ] == "ack"
    await buyer.close()
    paid = {"ticket": got[0]["checkout"]["ticket"], "order_id": "o-77"}
    await merchant.ok("POST", "/api/checkout/confirm", paid)

    back = await connect(live_server, "buyer")
    holds = back.welcome["holds"]  # type: ignore[index]
    assert [h["hold"]["hold_id"] for h in holds] == [g["hold"]["hold_id"] for g in got[::-1]]
    to_pay, order = holds
    assert to_pay["hold"]["status"] == "held" and to_pay["checkout"]["appid"] == "wx1"
    held = ticket.verify(live_server.secret, to_pay["checkout"]["ticket"])
    assert held.hold_id == got[1]["hold"]["hold_id"]
    assert (order["hold"]["status"], order["hold"]["order_id"]) == ("paid", "o-77")
    assert "checkout" not in order
    assert (await connect(live_server, "nobody")).welcome["holds"] == []  # type: ignore[index]
    anonymous = await Client.connect(live_server.ws_url("shop"))
    assert anonymous.welcome is not None and "holds" not in anonymous.welcome
    for c in (host, other, back):
        await c.close()


async def test_scheduled_sale_counts_down_and_members_go_first(
    live_server: LiveServer, merchant: Merchant
) -> None:
    created = await merchant.ok(
        "POST",
        "/api/rooms/shop/sales",
        {"sku": "tea-01", "stock": 5, "starts_in_s": 2, "early_access_s": 1, "limit_per_user": 5},
    )
    sale = created["sale"]
    assert sale["status"] == "scheduled" and sale["starts_at"] > 0
    viewer = await connect(live_server, "plain")
    member = await connect(live_server, "vip1", tier="vip")
    assert viewer.welcome["sales"][0]["starts_at"] == sale["starts_at"]  # type: ignore[index]
    early = await viewer.request({"t": "grab", "sale_id": sale["sale_id"], "request_id": "a"})
    assert early["code"] == "not_started" and early["starts_at"] == sale["starts_at"]
    # poll the member's grab until the early window opens (fresh request id each time)
    for n in range(40):
        got = await member.request({"t": "grab", "sale_id": sale["sale_id"], "request_id": f"m{n}"})
        if got["t"] == "ack":
            break
        assert got["code"] == "not_started"
        await asyncio.sleep(0.1)
    assert got["t"] == "ack"
    refused = await viewer.request({"t": "grab", "sale_id": sale["sale_id"], "request_id": "b"})
    if refused["t"] == "error":  # still inside the members' window
        assert refused["code"] == "members_only"
    started = await viewer.events(lambda e: e["type"] == "sale_started", timeout=10)
    assert started["sale_id"] == sale["sale_id"]
    ok = await viewer.request({"t": "grab", "sale_id": sale["sale_id"], "request_id": "c"})
    assert ok["t"] == "ack"
    await viewer.close()
    await member.close()


async def test_grab_needs_login_and_valid_fields(live_server: LiveServer) -> None:
    anon = await Client.connect(live_server.ws_url("shop"))
    refused = await anon.request({"t": "grab", "sale_id": "s", "request_id": "r"})
    assert refused["code"] == "login_required"
    viewer = await connect(live_server, "v")
    for frame, code in (
        ({"t": "grab", "sale_id": "s"}, "missing_field"),
        ({"t": "grab", "sale_id": "s", "request_id": "r", "qty": 0}, "bad_field"),
        ({"t": "grab", "sale_id": 5, "request_id": "r"}, "bad_field"),
        ({"t": "grab", "sale_id": "nope", "request_id": "r"}, "no_such_sale"),
        ({"t": "start_sale", "sku": "tea-01", "stock": 1}, "forbidden"),
    ):
        assert (await viewer.request(frame))["code"] == code
    await anon.close()
    await viewer.close()


async def test_a_start_sale_naming_its_sale_id_is_safe_to_send_again(
    live_server: LiveServer, merchant: Merchant
) -> None:
    """A host whose connection dropped before the answer presses Start again, from another
    connection: one sale; the repeat answers sale_exists with it."""
    hosts = [await connect(live_server, "host", role="host") for _ in range(4)]
    start = {"t": "start_sale", "sku": "tea-01", "stock": 3, "sale_id": "tea-flash-1"}
    answers = await asyncio.gather(*(h.request(start) for h in hosts))
    [ack] = [a for a in answers if a["t"] == "ack"]
    assert ack["sale"]["sale_id"] == "tea-flash-1"
    refused = [a for a in answers if a["t"] == "error"]
    assert [a["code"] for a in refused] == ["sale_exists"] * 3
    assert all(a["sale"] == {**ack["sale"], "available": a["sale"]["available"]} for a in refused)
    for bad in ("", "x" * 65, "tea flash", 7):
        answer = await hosts[0].request({**start, "sale_id": bad})
        assert (answer["t"], answer["code"]) in {("error", "bad_field"), ("error", "bad_sale")}
    for h in hosts:
        await h.close()
