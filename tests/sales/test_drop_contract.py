"""Coupon drops on the sale store contract: a drop is a sale of kind coupon and a claim is
a grab, on every store (memory, Redis, Redis Cluster) with one answer."""

from __future__ import annotations

from typing import Any

from liveroom.rules import coupon as coupons
from liveroom.rules import sale as rules
from liveroom.rules.sale import GrabOutcome, SaleConfig
from liveroom.sales.store import GrabRequest, SaleStore
from liveroom.stream import EVENT_TYPES
from tests.sales.conftest import T0, assert_invariants, make_sale

DAY = coupons.DAY_MS


def template(**raw: Any) -> coupons.Template:
    terms = {"title": "10 off", "kind": "amount_off", "amount_fen": 1000, "valid_days": 7}
    given = {k: v for k, v in {**terms, "total": 1000, **raw}.items() if v is not None}
    return coupons.build_template(given, "t10", T0)


def make_drop(
    drop_id: str = "d1", room_id: str = "r1", now: int = T0, tpl: coupons.Template | None = None,
    **raw: Any,
) -> SaleConfig:  # fmt: skip
    return coupons.build_drop(
        {"count": 5, **raw}, tpl or template(), drop_id=drop_id, room_id=room_id, now=now
    )


async def claim(
    store: SaleStore, uid: str, req: str = "a", now: int = T0, tier: str = ""
) -> GrabOutcome:
    return await store.grab("r1", "d1", uid, tier, 1, req, now, "wecom_group", "REF12345")


async def test_a_claim_issues_a_coupon_counted_as_given_out(sale_store: SaleStore) -> None:
    drop = await sale_store.create_sale(make_drop())
    assert drop.status(T0) == "live" and drop.available == 5
    out = await claim(sale_store, "u1", now=T0 + 10)
    c = out.hold
    assert c is not None and out.refusal is None and not out.duplicate
    assert (c.kind, c.status, c.uid, c.sale_id, c.qty) == ("coupon", "issued", "u1", "d1", 1)
    assert c.hold_id.startswith("c_")
    assert (c.valid_from, c.expires_at) == (T0 + 10, T0 + 10 + 7 * DAY)
    assert (c.src, c.ref) == ("wecom_group", "REF12345")
    sale = await assert_invariants(sale_store, "r1", "d1")
    assert (sale.available, sale.held, sale.sold) == (4, 0, 1)
    assert await sale_store.get_hold("r1", c.hold_id) == c
    assert await sale_store.units_of("r1", ["u1", "u2"]) == [[c], []]


async def test_retries_limits_and_sold_out_are_a_grabs(sale_store: SaleStore) -> None:
    await sale_store.create_sale(make_drop(count=3, tpl=template(limit_per_user=2)))
    first = await claim(sale_store, "u1", "a")
    again = await claim(sale_store, "u1", "a", T0 + 1)
    assert again.duplicate and again.hold == first.hold
    second = await claim(sale_store, "u1", "b")
    assert second.hold is not None and second.hold.hold_id != first.hold.hold_id  # type: ignore[union-attr]
    third = await claim(sale_store, "u1", "c")
    assert third.refusal == rules.Refusal(rules.OVER_LIMIT, limit_left=0)
    assert (await claim(sale_store, "u2")).hold is not None
    assert (await claim(sale_store, "u3")).refusal == rules.Refusal(rules.SOLD_OUT, available=0)
    sale = await assert_invariants(sale_store, "r1", "d1")
    assert (sale.available, sale.sold) == (0, 3)
    assert await sale_store.takens("r1", "d1") == {"u1": 2, "u2": 1}


async def test_template_tiers_and_early_access(sale_store: SaleStore) -> None:
    tpl = template(member_tiers=["vip"])
    await sale_store.create_sale(make_drop(tpl=tpl, starts_in_s=60, early_access_s=30))
    assert (await claim(sale_store, "u1", tier="vip")).refusal == rules.Refusal(
        rules.NOT_STARTED, starts_at=T0 + 60_000
    )
    opens = T0 + 30_000
    # early: members only, and among members only the template's tiers
    assert (await claim(sale_store, "u2", now=opens, tier="")).refusal.code == rules.MEMBERS_ONLY  # type: ignore[union-attr]
    assert (await claim(sale_store, "u3", now=opens, tier="member")).refusal == rules.Refusal(
        rules.TIER_NOT_ALLOWED
    )
    assert (await claim(sale_store, "u4", now=opens, tier="vip")).hold is not None
    later = T0 + 61_000
    assert (await claim(sale_store, "u5", now=later, tier="")).refusal == rules.Refusal(
        rules.TIER_NOT_ALLOWED
    )
    await assert_invariants(sale_store, "r1", "d1")


async def test_a_coupon_expires_once_at_valid_until_without_returning_stock(
    sale_store: SaleStore,
) -> None:
    tpl = template(valid_days=None, valid_from=T0 + 1000, valid_until=T0 + 5000)
    await sale_store.create_sale(make_drop(tpl=tpl))
    c = (await claim(sale_store, "u1")).hold
    assert c is not None and (c.valid_from, c.expires_at) == (T0 + 1000, T0 + 5000)
    early = await sale_store.sweep("r1", T0 + 4999)
    assert early.expired == []
    result = await sale_store.sweep("r1", T0 + 5000)
    assert [(e.hold_id, e.status) for e in result.expired] == [(c.hold_id, "expired")]
    assert (await sale_store.sweep("r1", T0 + 9000)).expired == []  # once
    sale = await assert_invariants(sale_store, "r1", "d1")
    assert (sale.available, sale.sold) == (4, 1)  # it stays given out
    assert await sale_store.takens("r1", "d1") == {"u1": 1}
    # the viewer cannot claim another: an expired coupon still counts towards the limit
    assert (await claim(sale_store, "u1", "b", T0 + 6000)).refusal.code == rules.OVER_LIMIT  # type: ignore[union-attr]
    types = [e["type"] for e in await sale_store.stream.read("r1")]
    assert types == ["drop_created", "coupon_issued", "coupon_expired"]


async def test_redeem_once_by_an_order_within_validity(sale_store: SaleStore) -> None:
    tpl = template(valid_days=None, valid_from=T0 + 1000, valid_until=T0 + 9000)
    await sale_store.create_sale(make_drop(tpl=tpl))
    c = (await claim(sale_store, "u1")).hold
    d = (await claim(sale_store, "u2")).hold
    assert c is not None and d is not None
    early = await sale_store.confirm("r1", c.hold_id, "o1", T0 + 999)
    assert early.error == coupons.COUPON_NOT_VALID_YET and early.hold.status == "issued"  # type: ignore[union-attr]
    done = await sale_store.confirm("r1", c.hold_id, "o1", T0 + 2000)
    assert not done.error and not done.duplicate
    assert (done.hold.status, done.hold.order_id) == ("redeemed", "o1")  # type: ignore[union-attr]
    again = await sale_store.confirm("r1", c.hold_id, "o1", T0 + 2001)
    assert again.duplicate and again.hold == done.hold
    other = await sale_store.confirm("r1", c.hold_id, "o2", T0 + 2002)
    assert other.error == coupons.COUPON_REDEEMED and other.hold == done.hold
    # one order may redeem another viewer's coupon too (an order can carry several)
    late = await sale_store.confirm("r1", d.hold_id, "o1", T0 + 9000)
    assert late.error == coupons.COUPON_EXPIRED and late.hold.status == "expired"  # type: ignore[union-attr]
    assert (await sale_store.confirm("r1", d.hold_id, "o3", T0 + 9001)).error == "coupon_expired"
    assert (await sale_store.cancel("r1", c.hold_id, T0 + 1)).error == rules.NO_SUCH_HOLD
    # a redeemed coupon never expires
    assert (await sale_store.sweep("r1", T0 + 20_000)).expired == []
    sale = await assert_invariants(sale_store, "r1", "d1")
    assert (sale.sold, sale.redeemed, sale.available) == (2, 1, 3)
    types = [e["type"] for e in await sale_store.stream.read("r1")]
    assert types == [
        "drop_created",
        "coupon_issued",
        "coupon_issued",
        "coupon_redeemed",
        "coupon_expired",
    ]


async def test_drop_events_carry_exactly_their_declared_fields(sale_store: SaleStore) -> None:
    await sale_store.create_sale(make_drop(phrase="Ｌｉｖｅ 666", duration_s=60))
    await sale_store.create_sale(make_drop("d2", starts_in_s=5, duration_s=10))
    c = (await claim(sale_store, "u1")).hold
    assert c is not None
    await sale_store.confirm("r1", c.hold_id, "o1", T0 + 1)
    await claim(sale_store, "u2")
    await sale_store.sweep("r1", T0 + 6000)  # d2 starts: no stream event for a drop's start
    await sale_store.sweep("r1", T0 + 15_000)  # d2 ends
    await sale_store.end_sale("r1", "d1", T0 + 16_000)
    await sale_store.sweep("r1", T0 + 8 * DAY)  # u2's coupon expires
    events = await sale_store.stream.read("r1", count=100)
    assert [e["type"] for e in events] == [
        "drop_created",
        "drop_created",
        "coupon_issued",
        "coupon_redeemed",
        "coupon_issued",
        "drop_ended",
        "drop_ended",
        "coupon_expired",
    ]
    for e in events:
        assert set(e) == {"id", "type", "room_id", "ts", *EVENT_TYPES[e["type"]]}, e
    created = events[0]
    assert (created["drop_id"], created["template_id"], created["count"]) == ("d1", "t10", 5)
    assert created["phrase"] == "Ｌｉｖｅ 666" and created["ends_at"] == T0 + 60_000
    issued = events[2]
    assert (issued["coupon_id"], issued["uid"], issued["src"]) == (c.hold_id, "u1", "wecom_group")
    assert issued["valid_until"] == c.expires_at and issued["ref"] == "REF12345"
    assert events[3]["order_id"] == "o1"
    assert [e["drop_id"] for e in events[5:7]] == ["d2", "d1"]


async def test_a_batch_mixing_grabs_and_claims_answers_as_one_by_one(
    sale_store: SaleStore,
) -> None:
    batch = [
        GrabRequest("s1", "u1", "", 2, "a"),
        GrabRequest("d1", "u1", "", 1, "a"),
        GrabRequest("d1", "u1", "", 1, "a"),  # a retry inside the batch
        GrabRequest("d1", "u1", "", 1, "b"),  # over the template's limit of 1
        GrabRequest("d1", "u2", "", 1, "a"),
        GrabRequest("d1", "u3", "", 1, "a"),  # none left
    ]
    for room in ("batch", "single"):
        await sale_store.create_sale(make_sale(room_id=room))
        await sale_store.create_sale(make_drop(room_id=room, count=2))
    together = await sale_store.grab_many("batch", batch, T0)
    alone = [
        await sale_store.grab("single", r.sale_id, r.uid, r.tier, r.qty, r.request_id, T0)
        for r in batch
    ]

    def shape(outcomes: list[GrabOutcome]) -> list:
        out = []
        for o in outcomes:
            unit = (o.hold.kind, o.hold.status) if o.hold else (None, None)
            out.append((*unit, o.refusal, o.duplicate))
        return out

    assert shape(together) == shape(alone)
    assert shape(together) == [
        ("product", "held", None, False),
        ("coupon", "issued", None, False),
        ("coupon", "issued", None, True),
        (None, None, rules.Refusal(rules.OVER_LIMIT, limit_left=0), False),
        ("coupon", "issued", None, False),
        (None, None, rules.Refusal(rules.SOLD_OUT, available=0), False),
    ]
    assert together[1].hold == together[2].hold
    for room in ("batch", "single"):
        await assert_invariants(sale_store, room, "s1")
        await assert_invariants(sale_store, room, "d1")


async def test_a_drop_keeps_its_terms_and_reads_back_as_created(sale_store: SaleStore) -> None:
    cfg = make_drop(phrase="抢券", duration_s=600, tpl=template(member_tiers=["vip", "member"]))
    created = await sale_store.create_sale(cfg)
    stored = await sale_store.get_sale("r1", "d1")
    assert stored == created and stored is not None and stored.config == cfg
    view = stored.public(T0)
    assert view["drop_id"] == "d1" and view["phrase"] == "抢券" and view["remaining"] == 5
    assert view["coupon"]["amount_fen"] == 1000 and view["coupon"]["valid_days"] == 7
    assert view["status"] == "live" and "hidden" not in view
    # a product sale beside it reads back as before, with the default kind
    await sale_store.create_sale(make_sale())
    sale = await sale_store.get_sale("r1", "s1")
    assert sale is not None and sale.config.kind == "product" and sale.config.allowed_tiers == ()
