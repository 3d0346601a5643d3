"""CouponService, the issue seam lucky bags build on (node.coupons): create_drop, claim,
coupons_of and redeem, on the node as liveroom/node.py builds it, on both engines."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from liveroom.coupons import ticket
from liveroom.errors import Refusal
from liveroom.node import Node
from liveroom.rules import coupon as rules
from liveroom.sales.store import now_ms as sale_store_now
from liveroom.tokens import Identity
from liveroom.types import Join

ROOM = "shop"
TEMPLATE = {"title": "10 off", "kind": "amount_off", "amount_fen": 1000, "valid_days": 7}


class Events:
    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def __call__(self, room_id: str, kind: str, payload: Any) -> None:
        if kind == "event":
            self.seen.append(payload)

    def types(self) -> list[str]:
        return [e["type"] for e in self.seen]


async def refused(coro: Any) -> Refusal:
    with pytest.raises(Refusal) as info:
        await coro
    return info.value


async def test_the_seam_drops_claims_and_lists_coupons(node: Node) -> None:
    events = Events()
    await node.engine.subscribe(ROOM, events)
    svc = node.coupons
    await svc.put_template({**TEMPLATE, "total": 10}, "t10")
    drop = await svc.create_drop(ROOM, {"template_id": "t10", "count": 3}, "host")
    assert drop.remaining == 3 and drop.public()["status"] == "live"
    amy = Identity(uid="amy", src="moments")
    first = await svc.claim(ROOM, drop.drop_id, amy, "req-1")
    again = await svc.claim(ROOM, drop.drop_id, amy, "req-1")
    assert not first.duplicate and again.duplicate and again.coupon == first.coupon
    c = first.coupon
    assert (c["uid"], c["drop_id"], c["template_id"], c["status"]) == (
        "amy",
        drop.drop_id,
        "t10",
        "issued",
    )
    assert (c["kind"], c["amount_fen"], c["room_id"], c["order_id"]) == (
        "amount_off",
        1000,
        ROOM,
        "",
    )
    assert c["valid_until"] - c["valid_from"] == 7 * rules.DAY_MS
    assert first.ticket["appid"] == "wxc" and first.ticket["path"].startswith(
        "pages/coupon/index?ticket="
    )
    t = ticket.verify(node.settings.merchant_key, first.ticket["ticket"])
    assert (t.room_id, t.coupon_id, t.uid) == (ROOM, c["coupon_id"], "amy")
    assert (await refused(svc.claim(ROOM, drop.drop_id, amy, "req-2"))).code == "over_limit"
    await svc.claim(ROOM, drop.drop_id, Identity(uid="bob"), "x")
    await svc.claim(ROOM, drop.drop_id, Identity(uid="cat"), "x")
    out = await refused(svc.claim(ROOM, drop.drop_id, Identity(uid="dan"), "x"))
    assert (out.code, out.extra["drop_id"]) == ("sold_out", drop.drop_id)
    assert [x["coupon"] for x in await svc.coupons_of(ROOM, "amy")] == [c]
    assert await svc.coupons_of(ROOM, "dan") == []
    anon = Identity(uid="anon:1")
    assert (await refused(svc.claim(ROOM, drop.drop_id, anon, "x"))).code == "login_required"
    assert (await refused(svc.claim(ROOM, "nope", amy, "x"))).code == "no_such_drop"
    assert "drop" in events.types()
    view = await svc.template_view(await svc.template("t10"))
    assert (view["reserved"], view["left"], view["issued"], view["redeemed"]) == (3, 7, 3, 0)


async def test_a_hidden_drop_is_not_announced_and_retries_are_safe(node: Node) -> None:
    events = Events()
    await node.engine.subscribe(ROOM, events)
    svc = node.coupons
    await svc.put_template({**TEMPLATE, "total": 5, "member_tiers": ["vip"]}, "bag")
    raw = {"template_id": "bag", "count": 2, "drop_id": "draw-123"}
    drop = await svc.create_drop(ROOM, raw, "host", hidden=True)
    assert drop.drop_id == "draw-123" and drop.public()["hidden"] is True
    again = await refused(svc.create_drop(ROOM, raw, "host", hidden=True))
    assert again.code == "drop_exists" and again.extra["drop"]["drop_id"] == "draw-123"
    assert (await svc.template("bag")).reserved == 2  # the refused retry gave its reservation back
    # a lucky bag's winner gets theirs whatever the template's tiers (the draw decided)
    won = await svc.claim(ROOM, "draw-123", Identity(uid="amy"), "draw-123")
    retried = await svc.claim(ROOM, "draw-123", Identity(uid="amy"), "draw-123")
    assert retried.duplicate and retried.coupon == won.coupon
    by_frame = svc.claim_by_frame(ROOM, "draw-123", Identity(uid="bob"), "x")
    assert (await refused(by_frame)).code == "no_such_drop"
    await node.sales.flush_stock()
    assert "drop" not in events.types() and "drop_ended" not in events.types()
    exhausted = await refused(svc.create_drop(ROOM, {"template_id": "bag", "count": 4}, "h"))
    assert (exhausted.code, exhausted.extra["left"]) == ("template_exhausted", 3)


async def test_an_ended_drop_gives_what_it_did_not_give_out_back(node: Node) -> None:
    """A template of 10: a drop of 6 gives out 2 and is stopped (twice: a retried stop),
    one of 3 gives out 1 and runs out its time; the 6 not given out are the template's
    again, once each, and a next drop can have them."""
    svc = node.coupons
    await svc.put_template({**TEMPLATE, "total": 10}, "t10")
    stopped = await svc.create_drop(ROOM, {"template_id": "t10", "count": 6}, "host")
    timed = await svc.create_drop(ROOM, {"template_id": "t10", "count": 3, "duration_s": 1}, "host")
    for uid in ("amy", "bob"):
        await svc.claim(ROOM, stopped.drop_id, Identity(uid=uid), "r")
    await svc.claim(ROOM, timed.drop_id, Identity(uid="cat"), "r")
    assert (await svc.template("t10")).left == 1
    await svc.stop_drop(ROOM, stopped.drop_id, "host")
    await svc.stop_drop(ROOM, stopped.drop_id, "host")
    assert (await svc.template("t10")).left == 5
    for _ in range(60):  # the sweep ends the timed drop (every half second)
        if (await svc.template("t10")).left == 7:
            break
        await asyncio.sleep(0.1)
    view = await svc.template_view(await svc.template("t10"))
    assert (view["reserved"], view["left"], view["issued"]) == (3, 7, 3)
    late = await refused(svc.claim(ROOM, timed.drop_id, Identity(uid="dan"), "r"))
    assert late.code == "ended"
    assert (await svc.create_drop(ROOM, {"template_id": "t10", "count": 7}, "host")).remaining == 7


async def test_a_drop_ended_by_a_process_that_died_still_gives_back(node: Node) -> None:
    """The process that ended a drop died before giving its coupons back (the store has
    the end, nobody was told): the next full sweep of any process gives them back, once."""
    svc = node.coupons
    await svc.put_template({**TEMPLATE, "total": 10}, "t10")
    drop = await svc.create_drop(ROOM, {"template_id": "t10", "count": 6}, "host")
    await svc.claim(ROOM, drop.drop_id, Identity(uid="amy"), "r")
    assert (await svc.template("t10")).left == 4
    # what the dead process got done: the end itself, in the store
    assert await node.sales.store.end_sale(ROOM, drop.drop_id, sale_store_now()) is not None
    assert (await svc.template("t10")).left == 4
    await node.sales.sweep(full=True)
    await node.sales.sweep(full=True)
    view = await svc.template_view(await svc.template("t10"))
    assert (view["left"], view["reserved"], view["issued"]) == (9, 1, 1)
    assert (await node.sales.store.sweep(ROOM, sale_store_now(), check_idle=True)).untold == []


async def test_a_welcome_shows_holds_and_coupons_from_one_read_of_the_viewers_units(
    node: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A room with a flash sale and a coupon drop: the joining viewer's welcome carries
    the hold to pay and the coupon, and both features' parts come from one read of the
    viewer's units (one per-user set holds both)."""
    await node.sales.put_product({"sku": "tea-01", "title": "Longjing", "price_fen": 16800})
    sale = await node.sales.create_sale(ROOM, {"sku": "tea-01", "stock": 5}, "host")
    amy = Identity(uid="amy")
    await node.sales.grab(ROOM, amy, sale.config.sale_id, 1, "g1")
    await node.coupons.put_template({**TEMPLATE, "total": 5}, "t5")
    drop = await node.coupons.create_drop(ROOM, {"template_id": "t5", "count": 2}, "host")
    await node.coupons.claim(ROOM, drop.drop_id, amy, "c1")
    reads: list[str] = []
    units = node.sales.units

    async def counted(room_id: str, uid: str) -> Any:
        reads.append(uid)
        return await units(room_id, uid)

    monkeypatch.setattr(node.sales, "units", counted)
    welcome: dict[str, Any] = {}
    await node.on_join(Join(ROOM, amy, resumed=False), welcome)
    assert [h["hold"]["sale_id"] for h in welcome["holds"]] == [sale.config.sale_id]
    assert [c["coupon"]["drop_id"] for c in welcome["coupons"]] == [drop.drop_id]
    assert reads == ["amy"]
    await node.on_join(Join(ROOM, amy, resumed=True), {})  # the next join reads anew
    assert reads == ["amy", "amy"]


async def test_redeem_once_then_clear_errors(node: Node) -> None:
    svc = node.coupons
    await svc.put_template({**TEMPLATE, "total": 5, "min_spend_fen": 5000}, "t10")
    drop = await svc.create_drop(ROOM, {"template_id": "t10", "count": 5}, "host")
    claim = await svc.claim(ROOM, drop.drop_id, Identity(uid="amy"), "a")
    text = claim.ticket["ticket"]
    done = await svc.redeem(text, "order-1", ROOM, spend_fen=8000)
    assert (done.coupon["status"], done.coupon["order_id"], done.duplicate) == (
        "redeemed",
        "order-1",
        False,
    )
    assert done.discount_fen == 1000
    assert (await svc.redeem(text, "order-1")).duplicate
    other = await refused(svc.redeem(text, "order-2"))
    assert other.code == "coupon_redeemed" and other.extra["coupon"]["order_id"] == "order-1"
    assert (await refused(svc.redeem(text, "order-1", "another-room"))).code == "wrong_room"
    assert (await refused(svc.redeem(text + "x", "order-1"))).code == "bad_ticket"
    bob = await svc.claim(ROOM, drop.drop_id, Identity(uid="bob"), "a")
    small = await refused(svc.redeem(bob.ticket["ticket"], "order-3", spend_fen=4000))
    assert small.code == "coupon_not_applicable"
    view = await svc.template_view(await svc.template("t10"))
    assert (view["issued"], view["redeemed"]) == (2, 1)
