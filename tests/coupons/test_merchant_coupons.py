"""The merchant API's coupon calls against a real server (memory and Redis): templates,
drops, and redeeming coupon tickets, with every refusal a merchant backend must handle."""

from __future__ import annotations

import asyncio

import httpx

from liveroom import tokens
from liveroom.sales.store import now_ms
from tests.sales.merchant import Merchant
from tests.support.client import Client
from tests.support.server import LiveServer

ROOM = "shop"
BASE = {"title": "5 off", "kind": "amount_off", "amount_fen": 500, "valid_days": 3, "total": 10}


async def test_templates(merchant: Merchant) -> None:
    bad = await merchant.call("PUT", "/api/coupons/t1", {**BASE, "percent": 10})
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "bad_coupon" and bad.json()["term"] == "percent"
    missing = await merchant.call("PUT", "/api/coupons/t1", {"title": "x", "kind": "gift"})
    assert missing.status_code == 400 and missing.json()["term"] == "spend_fen"
    body = await merchant.ok("PUT", "/api/coupons/t1", BASE)
    t = body["template"]
    assert (t["template_id"], t["total"], t["left"], t["issued"], t["redeemed"]) == (
        "t1",
        10,
        10,
        0,
        0,
    )
    percent = {**BASE, "kind": "percent_off", "amount_fen": None, "percent": 10}
    await merchant.ok("PUT", "/api/coupons/a2", percent)  # a null term is no term
    listed = await merchant.ok("GET", "/api/coupons")
    assert [x["template_id"] for x in listed["templates"]] == ["a2", "t1"]
    assert (await merchant.call("GET", "/api/coupons/zz")).status_code == 404
    drop = await merchant.ok("POST", f"/api/rooms/{ROOM}/drops", {"template_id": "t1", "count": 8})
    assert drop["drop"]["count"] == 8 and drop["drop"]["remaining"] == 8
    shrink = await merchant.call("PUT", "/api/coupons/t1", {**BASE, "total": 7})
    assert shrink.status_code == 400 and shrink.json()["term"] == "total"
    over = await merchant.call(
        "POST", f"/api/rooms/{ROOM}/drops", {"template_id": "t1", "count": 3}
    )
    assert over.status_code == 409 and over.json()["error"]["code"] == "template_exhausted"
    assert over.json()["left"] == 2
    got = await merchant.ok("GET", "/api/coupons/t1")
    assert (got["template"]["reserved"], got["template"]["left"]) == (8, 2)
    nope = await merchant.call(
        "POST", f"/api/rooms/{ROOM}/drops", {"template_id": "zz", "count": 1}
    )
    assert nope.status_code == 404 and nope.json()["error"]["code"] == "no_such_template"


async def test_drops_listed_read_and_stopped(live_server: LiveServer, merchant: Merchant) -> None:
    await merchant.ok("PUT", "/api/coupons/t1", BASE)
    viewer = await Client.connect(
        live_server.ws_url(ROOM, tokens.mint_for(live_server.secret, "amy", room=ROOM))
    )
    made = await merchant.ok(
        "POST", f"/api/rooms/{ROOM}/drops", {"template_id": "t1", "count": 2, "drop_id": "d-1"}
    )
    assert made["drop"]["drop_id"] == "d-1"
    again = await merchant.call(
        "POST", f"/api/rooms/{ROOM}/drops", {"template_id": "t1", "count": 2, "drop_id": "d-1"}
    )
    assert again.status_code == 409 and again.json()["drop"]["drop_id"] == "d-1"
    seen = await viewer.events(lambda e: e["type"] == "drop")
    assert seen["by"] == "merchant" and seen["drop"]["drop_id"] == "d-1"
    await viewer.request({"t": "claim", "drop_id": "d-1", "request_id": "a"})
    listed = await merchant.ok("GET", f"/api/rooms/{ROOM}/drops")
    assert [(d["drop_id"], d["remaining"], d["claimed"]) for d in listed["drops"]] == [
        ("d-1", 1, 1)
    ]
    one = await merchant.ok("GET", f"/api/rooms/{ROOM}/drops/d-1")
    assert [c["uid"] for c in one["claims"]] == ["amy"]
    assert (await merchant.ok("GET", f"/api/rooms/{ROOM}/sales"))["sales"] == []
    assert (await merchant.call("GET", f"/api/rooms/{ROOM}/sales/d-1")).status_code == 404
    stopped = await merchant.ok("POST", f"/api/rooms/{ROOM}/drops/d-1/stop")
    assert stopped["drop"]["status"] == "ended"
    await viewer.events(lambda e: e["type"] == "drop_ended" and e["by"] == "merchant")
    missing = await merchant.call("POST", f"/api/rooms/{ROOM}/drops/zz/stop")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "no_such_drop"
    await viewer.close()


async def test_a_drops_claims_page_by_offset(live_server: LiveServer, merchant: Merchant) -> None:
    """Five viewers claim at once; the merchant reads who claimed two at a time, oldest
    first, and every claim without a count."""
    await merchant.ok("PUT", "/api/coupons/t1", BASE)
    await merchant.ok(
        "POST", f"/api/rooms/{ROOM}/drops", {"template_id": "t1", "count": 5, "drop_id": "d-5"}
    )
    uids = [f"u{i}" for i in range(5)]
    viewers = await asyncio.gather(
        *(
            Client.connect(
                live_server.ws_url(ROOM, tokens.mint_for(live_server.secret, u, room=ROOM))
            )
            for u in uids
        )
    )
    acks = await asyncio.gather(
        *(v.request({"t": "claim", "drop_id": "d-5", "request_id": "a"}) for v in viewers)
    )
    assert [a["t"] for a in acks] == ["ack"] * 5
    path = f"/api/rooms/{ROOM}/drops/d-5"
    every = await merchant.ok("GET", path)
    assert sorted(c["uid"] for c in every["claims"]) == uids
    assert (every["total"], every["next"]) == (5, 5)
    order = [c["coupon_id"] for c in every["claims"]]
    assert [c["issued_at"] for c in every["claims"]] == sorted(
        c["issued_at"] for c in every["claims"]
    )
    paged, offset = [], 0
    while True:
        page = await merchant.ok("GET", f"{path}?offset={offset}&count=2")
        assert page["total"] == 5 and len(page["claims"]) <= 2
        if not page["claims"]:
            break
        paged += [c["coupon_id"] for c in page["claims"]]
        offset = page["next"]
    assert paged == order
    for bad in ("count=-1", "offset=x", "count=2000000000"):
        refused = await merchant.call("GET", f"{path}?{bad}")
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "bad_request"
    for v in viewers:
        await v.close()


async def claim_one(srv: LiveServer, merchant: Merchant, template: dict, uid: str = "amy") -> dict:
    await merchant.ok("PUT", "/api/coupons/tt", template)
    drop = await merchant.ok("POST", f"/api/rooms/{ROOM}/drops", {"template_id": "tt", "count": 5})
    viewer = await Client.connect(srv.ws_url(ROOM, tokens.mint_for(srv.secret, uid, room=ROOM)))
    got = await viewer.request(
        {"t": "claim", "drop_id": drop["drop"]["drop_id"], "request_id": "a"}
    )
    await viewer.close()
    assert got["t"] == "ack", got
    return got


async def redeem(merchant: Merchant, text: str, order: str, **more: object) -> httpx.Response:
    body = {"ticket": text, "order_id": order, **more}
    return await merchant.call("POST", "/api/coupons/redeem", body)


async def test_redeem_once_and_every_refusal(live_server: LiveServer, merchant: Merchant) -> None:
    got = await claim_one(live_server, merchant, {**BASE, "min_spend_fen": 3000})
    text = got["ticket"]["ticket"]
    small = await redeem(merchant, text, "o-1", spend_fen=2999)
    assert small.status_code == 409 and small.json()["error"]["code"] == "coupon_not_applicable"
    ok = await redeem(merchant, text, "o-1", room_id=ROOM, spend_fen=3000)
    assert ok.status_code == 200, ok.text
    assert ok.json()["duplicate"] is False and ok.json()["discount_fen"] == 500
    assert ok.json()["coupon"]["status"] == "redeemed" and ok.json()["coupon"]["order_id"] == "o-1"
    dup = await redeem(merchant, text, "o-1")
    assert dup.status_code == 200 and dup.json()["duplicate"] is True
    other = await redeem(merchant, text, "o-2")
    assert other.status_code == 409 and other.json()["error"]["code"] == "coupon_redeemed"
    assert other.json()["coupon"]["order_id"] == "o-1"
    body, sig = text.split(".")
    forged = await redeem(merchant, f"{body}.{sig[:-2]}AA", "o-3")
    assert forged.status_code == 400 and forged.json()["error"]["code"] == "bad_ticket"
    wrong = await redeem(merchant, text, "o-1", room_id="other-room")
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "wrong_room"
    for junk in ("", 42, "a" * 2000, None):
        bad = await merchant.call("POST", "/api/coupons/redeem", {"ticket": junk, "order_id": "o"})
        assert bad.status_code == 400, junk
    no_order = await merchant.call("POST", "/api/coupons/redeem", {"ticket": text})
    assert no_order.status_code == 400 and no_order.json()["error"]["code"] == "bad_request"
    events = (await merchant.ok("GET", f"/api/rooms/{ROOM}/events?count=1000"))["events"]
    redeemed = [e for e in events if e["type"] == "coupon_redeemed"]
    assert len(redeemed) == 1 and redeemed[0]["order_id"] == "o-1" and redeemed[0]["uid"] == "amy"
    tpl = await merchant.ok("GET", "/api/coupons/tt")
    assert (tpl["template"]["issued"], tpl["template"]["redeemed"]) == (1, 1)


async def test_a_checkout_ticket_is_no_coupon_ticket(
    live_server: LiveServer, merchant: Merchant
) -> None:
    await merchant.ok("POST", "/api/products", {"sku": "tea", "title": "Tea", "price_fen": 100})
    sale = await merchant.ok("POST", f"/api/rooms/{ROOM}/sales", {"sku": "tea", "stock": 5})
    viewer = await Client.connect(
        live_server.ws_url(ROOM, tokens.mint_for(live_server.secret, "amy", room=ROOM))
    )
    hold = await viewer.request(
        {"t": "grab", "sale_id": sale["sale"]["sale_id"], "request_id": "g"}
    )
    refused = await redeem(merchant, hold["checkout"]["ticket"], "o-1")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "bad_ticket"
    await viewer.close()
    got = await claim_one(live_server, merchant, BASE)
    confirm = await merchant.call(
        "POST", "/api/checkout/confirm", {"ticket": got["ticket"]["ticket"], "order_id": "o"}
    )
    assert confirm.status_code == 400 and confirm.json()["error"]["code"] == "bad_ticket"
    by_id = await merchant.call(
        "POST",
        "/api/checkout/confirm",
        {"room_id": ROOM, "hold_id": got["coupon"]["coupon_id"], "order_id": "o"},
    )
    assert by_id.status_code == 404


async def test_expired_and_not_yet_valid_coupons(
    live_server: LiveServer, merchant: Merchant
) -> None:
    now = now_ms()
    window = {k: v for k, v in BASE.items() if k != "valid_days"}
    soon = await claim_one(live_server, merchant, {**window, "valid_until": now + 3000})
    later = await claim_one(
        live_server,
        merchant,
        {**window, "valid_from": now + 600_000, "valid_until": now + 900_000},
        uid="bob",
    )
    early = await redeem(merchant, later["ticket"]["ticket"], "o-9")
    assert early.status_code == 409 and early.json()["error"]["code"] == "coupon_not_valid_yet"
    await asyncio.sleep(max(0.0, (now + 3200 - now_ms()) / 1000))
    late = await redeem(merchant, soon["ticket"]["ticket"], "o-1")
    assert late.status_code == 409 and late.json()["error"]["code"] == "coupon_expired"
    assert late.json()["coupon"]["status"] == "expired"
    events = (await merchant.ok("GET", f"/api/rooms/{ROOM}/events?count=1000"))["events"]
    expired = [e for e in events if e["type"] == "coupon_expired"]
    assert [e["coupon_id"] for e in expired] == [soon["coupon"]["coupon_id"]]  # once
