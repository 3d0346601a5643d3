"""The sale store contract: both stores give the same answers for the same calls."""

from __future__ import annotations

import json

import pytest

from liveroom.rules import sale as rules
from liveroom.sales.store import GrabRequest, SaleStore, now_ms
from tests.sales.conftest import PRODUCT, T0, assert_invariants, make_sale


async def test_products_crud(sale_store: SaleStore) -> None:
    assert await sale_store.get_product("tea-01") is None
    await sale_store.put_product(PRODUCT)
    assert await sale_store.get_product("tea-01") == PRODUCT
    other = rules.build_product({"sku": "cup-2", "title": "Cup", "price_fen": 100})
    await sale_store.put_product(other)
    assert [p.sku for p in await sale_store.list_products()] == ["cup-2", "tea-01"]
    assert await sale_store.delete_product("cup-2") is True
    assert await sale_store.delete_product("cup-2") is False
    assert [p.sku for p in await sale_store.list_products()] == ["tea-01"]


async def test_bag_pins_in_order_and_clicks_count(sale_store: SaleStore) -> None:
    assert await sale_store.pin("r1", "a") == ["a"]
    assert await sale_store.pin("r1", "b") == ["a", "b"]
    assert await sale_store.pin("r1", "a") == ["b", "a"]  # re-pin moves to the end, once
    assert await sale_store.unpin("r1", "b") == ["a"]
    assert await sale_store.unpin("r1", "zzz") == ["a"]
    assert await sale_store.bag("r2") == []
    assert await sale_store.count_click("r1", "a") == 1
    assert await sale_store.count_click("r1", "a") == 2
    assert await sale_store.clicks("r1") == {"a": 2}


async def test_create_sale_emits_created_and_started(sale_store: SaleStore) -> None:
    sale = await sale_store.create_sale(make_sale())
    assert sale.counters() == {"stock": 10, "available": 10, "held": 0, "sold": 0}
    assert sale.status(T0) == "live"
    events = await sale_store.stream.read("r1")
    assert [e["type"] for e in events] == ["sale_created", "sale_started"]
    assert events[0]["stock"] == 10 and events[0]["sale_id"] == "s1"
    assert await sale_store.rooms_with_sales() == ["r1"]
    assert [s.config.sale_id for s in await sale_store.list_sales("r1")] == ["s1"]


async def test_duplicate_sale_id_refused(sale_store: SaleStore) -> None:
    await sale_store.create_sale(make_sale())
    try:
        await sale_store.create_sale(make_sale())
    except rules.SaleError as err:
        assert err.code == "sale_exists"
    else:
        raise AssertionError("a second sale with the same id was accepted")


async def test_grab_holds_and_retry_gets_same_answer(sale_store: SaleStore) -> None:
    await sale_store.create_sale(make_sale())
    first = await sale_store.grab("r1", "s1", "u1", "", 2, "req-1", T0 + 5)
    assert first.hold is not None and first.refusal is None and not first.duplicate
    hold = first.hold
    assert (hold.qty, hold.uid, hold.price_fen, hold.status) == (2, "u1", 9900, "held")
    assert hold.expires_at == T0 + 5 + 60_000
    again = await sale_store.grab("r1", "s1", "u1", "", 2, "req-1", T0 + 6)
    assert again.duplicate and again.hold is not None and again.hold.hold_id == hold.hold_id
    sale = await assert_invariants(sale_store, "r1", "s1")
    assert (sale.available, sale.held) == (8, 2)
    # the same request id from another user is another request
    other = await sale_store.grab("r1", "s1", "u2", "", 1, "req-1", T0 + 7)
    assert other.hold is not None and other.hold.hold_id != hold.hold_id
    assert await sale_store.get_hold("r1", hold.hold_id) == hold


async def test_over_limit_counts_held_and_sold(sale_store: SaleStore) -> None:
    await sale_store.create_sale(make_sale())
    h = (await sale_store.grab("r1", "s1", "u1", "", 1, "a", T0)).hold
    assert h is not None
    await sale_store.confirm("r1", h.hold_id, "order-1", T0 + 1)
    assert (await sale_store.grab("r1", "s1", "u1", "", 1, "b", T0 + 2)).hold is not None
    refused = await sale_store.grab("r1", "s1", "u1", "", 1, "c", T0 + 3)
    assert refused.refusal == rules.Refusal(rules.OVER_LIMIT, limit_left=0)
    refused = await sale_store.grab("r1", "s1", "u2", "", 3, "d", T0 + 3)
    assert refused.refusal == rules.Refusal(rules.OVER_LIMIT, limit_left=2)
    await assert_invariants(sale_store, "r1", "s1")


async def test_sold_out_tells_what_is_left(sale_store: SaleStore) -> None:
    await sale_store.create_sale(make_sale(stock=3))
    assert (await sale_store.grab("r1", "s1", "u1", "", 2, "a", T0)).hold is not None
    refused = await sale_store.grab("r1", "s1", "u2", "", 2, "a", T0)
    assert refused.refusal == rules.Refusal(rules.SOLD_OUT, available=1)
    assert (await sale_store.grab("r1", "s1", "u2", "", 1, "b", T0)).hold is not None
    refused = await sale_store.grab("r1", "s1", "u3", "", 1, "a", T0)
    assert refused.refusal == rules.Refusal(rules.SOLD_OUT, available=0)
    sale = await assert_invariants(sale_store, "r1", "s1")
    assert sale.available == 0


async def test_not_started_and_member_early_access(sale_store: SaleStore) -> None:
    starts = T0 + 60_000
    await sale_store.create_sale(make_sale(starts_at=starts, early_access_s=30))
    assert (await sale_store.get_sale("r1", "s1")).status(T0) == "scheduled"  # type: ignore[union-attr]
    early = await sale_store.grab("r1", "s1", "m1", "member", 1, "a", T0)
    assert early.refusal == rules.Refusal(rules.NOT_STARTED, starts_at=starts)
    in_window = starts - 10_000
    plain = await sale_store.grab("r1", "s1", "u1", "", 1, "a", in_window)
    assert plain.refusal == rules.Refusal(rules.MEMBERS_ONLY, starts_at=starts)
    member = await sale_store.grab("r1", "s1", "m1", "vip", 1, "b", in_window)
    assert member.hold is not None
    # once open, everyone may grab (with a fresh request id: answers are kept per id)
    assert (await sale_store.grab("r1", "s1", "u1", "", 1, "b", starts)).hold is not None
    # a retried request id keeps its first answer
    kept = await sale_store.grab("r1", "s1", "u1", "", 1, "a", starts)
    assert kept.duplicate and kept.refusal is not None
    assert kept.refusal.code == rules.MEMBERS_ONLY
    await assert_invariants(sale_store, "r1", "s1")


async def test_unknown_sale_is_not_kept(sale_store: SaleStore) -> None:
    missing = await sale_store.grab("r1", "nope", "u1", "", 1, "a", T0)
    assert missing.refusal is not None and missing.refusal.code == rules.NO_SUCH_SALE


async def test_end_sale_stops_grabs_but_not_payment(sale_store: SaleStore) -> None:
    await sale_store.create_sale(make_sale())
    h = (await sale_store.grab("r1", "s1", "u1", "", 1, "a", T0)).hold
    assert h is not None
    ended = await sale_store.end_sale("r1", "s1", T0 + 10)
    assert ended is not None and ended.status(T0 + 10) == "ended"
    assert await sale_store.end_sale("r1", "nope", T0) is None
    await sale_store.end_sale("r1", "s1", T0 + 20)  # a second end changes nothing
    refused = await sale_store.grab("r1", "s1", "u2", "", 1, "a", T0 + 11)
    assert refused.refusal == rules.Refusal(rules.ENDED)
    paid = await sale_store.confirm("r1", h.hold_id, "o1", T0 + 12)
    assert paid.error == "" and paid.hold is not None and paid.hold.status == "paid"
    types = [e["type"] for e in await sale_store.stream.read("r1")]
    assert types.count("sale_ended") == 1
    await assert_invariants(sale_store, "r1", "s1")


async def test_confirm_is_idempotent_by_order_id(sale_store: SaleStore) -> None:
    await sale_store.create_sale(make_sale())
    h1 = (await sale_store.grab("r1", "s1", "u1", "", 1, "a", T0)).hold
    h2 = (await sale_store.grab("r1", "s1", "u2", "", 1, "a", T0)).hold
    assert h1 and h2
    first = await sale_store.confirm("r1", h1.hold_id, "o1", T0 + 1)
    assert first.error == "" and not first.duplicate and first.hold is not None
    assert first.hold.order_id == "o1" and first.hold.status == "paid"
    again = await sale_store.confirm("r1", h1.hold_id, "o1", T0 + 2)
    assert again.duplicate and again.error == ""
    other_order = await sale_store.confirm("r1", h1.hold_id, "o2", T0 + 2)
    assert other_order.error == rules.ALREADY_PAID
    reused = await sale_store.confirm("r1", h2.hold_id, "o1", T0 + 2)
    assert reused.error == rules.ORDER_CONFLICT
    sale = await assert_invariants(sale_store, "r1", "s1")
    assert (sale.sold, sale.held, sale.available) == (1, 1, 8)
    assert [e["type"] for e in await sale_store.stream.read("r1")].count("hold_paid") == 1
    missing = await sale_store.confirm("r1", "h_nope", "o9", T0)
    assert missing.error == rules.NO_SUCH_HOLD and missing.hold is None


async def test_each_viewer_finds_their_own_units_as_they_stand(sale_store: SaleStore) -> None:
    """What a viewer coming back is shown: their holds, in their current state, oldest
    first, asked for a batch of viewers at once (a retried grab adds nothing)."""
    await sale_store.create_sale(make_sale())
    await sale_store.create_sale(make_sale("s2"))
    h1 = (await sale_store.grab("r1", "s1", "u1", "", 1, "a", T0)).hold
    h2 = (await sale_store.grab("r1", "s2", "u1", "", 2, "b", T0 + 1)).hold
    h3 = (await sale_store.grab("r1", "s1", "u2", "", 1, "a", T0 + 2)).hold
    await sale_store.grab("r1", "s1", "u1", "", 1, "a", T0 + 3)  # a retry
    assert h1 and h2 and h3
    paid = (await sale_store.confirm("r1", h1.hold_id, "o1", T0 + 4)).hold
    assert paid is not None
    units = await sale_store.units_of("r1", ["u1", "u3", "u2", "u1"])
    assert units == [[paid, h2], [], [h3], [paid, h2]]
    assert await sale_store.units_of("r2", ["u1"]) == [[]]


async def test_cancel_returns_stock_once(sale_store: SaleStore) -> None:
    await sale_store.create_sale(make_sale())
    h = (await sale_store.grab("r1", "s1", "u1", "", 2, "a", T0)).hold
    assert h
    done = await sale_store.cancel("r1", h.hold_id, T0 + 1)
    assert done.error == "" and done.hold is not None and done.hold.status == "cancelled"
    twice = await sale_store.cancel("r1", h.hold_id, T0 + 2)
    assert twice.duplicate and twice.error == ""
    late_pay = await sale_store.confirm("r1", h.hold_id, "o1", T0 + 3)
    assert late_pay.error == rules.HOLD_CANCELLED
    sale = await assert_invariants(sale_store, "r1", "s1")
    assert sale.available == 10
    # the limit frees up with the returned units
    assert (await sale_store.grab("r1", "s1", "u1", "", 2, "b", T0 + 4)).hold is not None


async def test_cancel_after_confirm_refused(sale_store: SaleStore) -> None:
    await sale_store.create_sale(make_sale())
    h = (await sale_store.grab("r1", "s1", "u1", "", 1, "a", T0)).hold
    assert h
    await sale_store.confirm("r1", h.hold_id, "o1", T0 + 1)
    refused = await sale_store.cancel("r1", h.hold_id, T0 + 2)
    assert refused.error == rules.ALREADY_PAID and refused.hold is not None
    assert refused.hold.status == "paid"
    sale = await assert_invariants(sale_store, "r1", "s1")
    assert sale.sold == 1


async def test_expiry_returns_stock_exactly_once(sale_store: SaleStore) -> None:
    await sale_store.create_sale(make_sale(hold_s=10))
    h = (await sale_store.grab("r1", "s1", "u1", "", 2, "a", T0)).hold
    assert h
    assert (await sale_store.sweep("r1", T0 + 9_999)).expired == []
    swept = await sale_store.sweep("r1", T0 + 10_000)
    assert [x.hold_id for x in swept.expired] == [h.hold_id]
    assert swept.expired[0].status == "expired"
    assert (await sale_store.sweep("r1", T0 + 20_000)).expired == []
    assert (await sale_store.expire_due(T0 + 30_000)).expired == []
    sale = await assert_invariants(sale_store, "r1", "s1")
    assert sale.available == 10
    types = [e["type"] for e in await sale_store.stream.read("r1")]
    assert types.count("hold_expired") == 1


async def test_confirm_after_expiry_is_refused_and_expires_it(sale_store: SaleStore) -> None:
    await sale_store.create_sale(make_sale(hold_s=10))
    h = (await sale_store.grab("r1", "s1", "u1", "", 1, "a", T0)).hold
    assert h
    late = await sale_store.confirm("r1", h.hold_id, "o1", T0 + 10_000)
    assert late.error == rules.HOLD_EXPIRED and late.hold is not None
    assert late.hold.status == "expired"
    sale = await assert_invariants(sale_store, "r1", "s1")
    assert (sale.available, sale.sold) == (10, 0)
    # the sweeper finds nothing left to return; a cancel gets the same clear answer
    assert (await sale_store.sweep("r1", T0 + 11_000)).expired == []
    assert (await sale_store.cancel("r1", h.hold_id, T0 + 12_000)).error == rules.HOLD_EXPIRED
    assert (await sale_store.confirm("r1", h.hold_id, "o1", T0)).error == rules.HOLD_EXPIRED
    await assert_invariants(sale_store, "r1", "s1")


async def test_scheduled_sale_starts_and_ends_once(sale_store: SaleStore) -> None:
    await sale_store.create_sale(make_sale(starts_in_s=10, duration_s=20))
    assert [e["type"] for e in await sale_store.stream.read("r1")] == ["sale_created"]
    assert (await sale_store.sweep("r1", T0 + 5_000)).started == []
    assert (await sale_store.sweep("r1", T0 + 10_000)).started == ["s1"]
    assert (await sale_store.sweep("r1", T0 + 11_000)).started == []
    done = await sale_store.sweep("r1", T0 + 30_000)
    assert done.ended == ["s1"]
    assert (await sale_store.sweep("r1", T0 + 40_000)).ended == []
    events = await sale_store.stream.read("r1")
    assert [e["type"] for e in events] == ["sale_created", "sale_started", "sale_ended"]
    after = await sale_store.stream.read("r1", after=events[0]["id"])
    assert [e["type"] for e in after] == ["sale_started", "sale_ended"]
    refused = await sale_store.grab("r1", "s1", "u1", "", 1, "a", T0 + 30_000)
    assert refused.refusal == rules.Refusal(rules.ENDED)


async def test_an_ended_sale_waits_for_its_listeners_until_told(sale_store: SaleStore) -> None:
    """An end (by hand or on time) is kept among the ends still to be told, in the same
    step as the end itself, until a process says its end listeners are done: a process that
    dies in between leaves it for the sweep (a drop's give-back), and a full sweep lists
    them. Ending again does not put it back."""

    async def untold(room_id: str, now: int) -> list[str]:
        return (await sale_store.sweep(room_id, now, check_idle=True)).untold

    await sale_store.create_sale(make_sale())
    await sale_store.create_sale(make_sale("s2", duration_s=20))
    await sale_store.create_sale(make_sale("s3", room_id="r2"))
    assert await untold("r1", T0 + 1) == []
    await sale_store.end_sale("r1", "s1", T0 + 10)
    assert await untold("r1", T0 + 11) == ["s1"]
    assert (await sale_store.sweep("r1", T0 + 30_000)).untold == []  # only a full sweep asks
    assert await untold("r1", T0 + 30_001) == ["s1", "s2"]
    await sale_store.told_end("r1", "s1")
    await sale_store.told_end("r1", "s1")
    await sale_store.end_sale("r1", "s1", T0 + 40_000)
    assert await untold("r1", T0 + 50_000) == ["s2"]
    assert await untold("r2", T0 + 50_000) == []


async def test_a_room_is_idle_once_its_sales_ended_and_its_holds_settled(
    sale_store: SaleStore,
) -> None:
    """What lets the full sweep leave a room out: every sale ended, no hold or coupon still
    open, every end told; asked only with check_idle, decided in the sweep itself."""
    await sale_store.create_sale(make_sale())
    h = (await sale_store.grab("r1", "s1", "u1", "", 1, "a", T0)).hold
    assert h is not None
    assert not (await sale_store.sweep("r1", T0 + 1, check_idle=True)).idle  # sale live
    await sale_store.end_sale("r1", "s1", T0 + 2)
    assert not (await sale_store.sweep("r1", T0 + 3, check_idle=True)).idle  # hold open
    await sale_store.confirm("r1", h.hold_id, "o1", T0 + 4)
    assert not (await sale_store.sweep("r1", T0 + 5, check_idle=True)).idle  # end untold
    await sale_store.told_end("r1", "s1")
    assert not (await sale_store.sweep("r1", T0 + 6)).idle  # not asked
    assert (await sale_store.sweep("r1", T0 + 6, check_idle=True)).idle
    await sale_store.create_sale(make_sale("s2", starts_in_s=60))  # scheduled: not ended
    assert not (await sale_store.sweep("r1", T0 + 7, check_idle=True)).idle


async def test_a_forgotten_room_comes_back_with_its_next_sale(sale_store: SaleStore) -> None:
    await sale_store.create_sale(make_sale())
    await sale_store.create_sale(make_sale("s9", room_id="r2"))
    assert await sale_store.rooms_with_sales() == ["r1", "r2"]
    await sale_store.forget_room("r1")
    assert await sale_store.rooms_with_sales() == ["r2"]
    await sale_store.remember_room("r1")
    assert await sale_store.rooms_with_sales() == ["r1", "r2"]
    await sale_store.forget_room("r1")
    await sale_store.create_sale(make_sale("s2"))
    assert await sale_store.rooms_with_sales() == ["r1", "r2"]


async def test_hold_events_carry_the_hold(sale_store: SaleStore) -> None:
    await sale_store.create_sale(make_sale())
    h = (await sale_store.grab("r1", "s1", "u1", "", 2, "a", T0)).hold
    assert h
    await sale_store.confirm("r1", h.hold_id, "o-77", T0 + 1)
    events = [e for e in await sale_store.stream.read("r1") if e["type"].startswith("hold_")]
    assert [e["type"] for e in events] == ["hold_created", "hold_paid"]
    paid = events[1]
    assert (paid["hold_id"], paid["uid"], paid["qty"], paid["order_id"]) == (
        h.hold_id,
        "u1",
        2,
        "o-77",
    )
    assert paid["price_fen"] == 9900 and paid["sku"] == "tea-01"


async def test_holds_remember_where_the_buyer_came_from(sale_store: SaleStore) -> None:
    await sale_store.create_sale(make_sale())
    out = await sale_store.grab("r1", "s1", "u1", "", 1, "a", T0, src="wecom_group")
    assert out.hold is not None and out.hold.src == "wecom_group"
    await sale_store.cancel("r1", out.hold.hold_id, T0 + 1)
    events = [e for e in await sale_store.stream.read("r1") if e["type"].startswith("hold_")]
    assert [(e["type"], e["src"]) for e in events] == [
        ("hold_created", "wecom_group"),
        ("hold_cancelled", "wecom_group"),
    ]
    assert (await sale_store.get_hold("r1", out.hold.hold_id)).src == "wecom_group"  # type: ignore[union-attr]


async def test_holds_keep_the_buyers_nick_in_a_batch_and_alone(sale_store: SaleStore) -> None:
    """The room's social proof names the buyer of a paid hold: the hold keeps the nick its
    grab carried (any text, braces and all), alone or in a batch of grabs."""
    await sale_store.create_sale(make_sale())
    alone = await sale_store.grab("r1", "s1", "u1", "", 1, "a", T0, nick="Amy {tea} 茶")
    batch = await sale_store.grab_many(
        "r1",
        [GrabRequest("s1", "u2", "", 1, "b", nick="Bo"), GrabRequest("s1", "u3", "", 1, "c")],
        T0 + 1,
    )
    holds = [alone.hold, *(o.hold for o in batch)]
    assert [h.nick for h in holds if h is not None] == ["Amy {tea} 茶", "Bo", ""]
    paid = await sale_store.confirm("r1", holds[0].hold_id, "o-1", T0 + 2)  # type: ignore[union-attr]
    assert paid.hold is not None and paid.hold.nick == "Amy {tea} 茶"
    assert (await sale_store.get_hold("r1", holds[1].hold_id)).nick == "Bo"  # type: ignore[union-attr]


WINNERS = [{"uid": "u1", "nick": "[vip] Amy"}]
DRAW_CLOSED = {
    "draw_id": "d1",
    "prize": {"title": "Scarf", "image": "", "claim_path": "/p/claim"},
    "winners": WINNERS,
    "winners_count": 1,
    "entrants_count": 3,
    "seed": "00ff",
    "commitment": "abc",
    "seq": 7,
    "ts": T0 + 2,
}


async def test_appended_events_join_the_sale_events_in_one_stream(sale_store: SaleStore) -> None:
    await sale_store.create_sale(make_sale())
    joined_id = await sale_store.stream.append(
        "r1", "viewer_joined", {"uid": "u9", "tier": "vip", "src": "moments", "ts": T0 + 1}
    )
    await sale_store.grab("r1", "s1", "u9", "vip", 1, "a", T0 + 1)
    closed_id = await sale_store.stream.append("r1", "draw_closed", DRAW_CLOSED)
    events = await sale_store.stream.read("r1")
    assert [e["type"] for e in events] == [
        "sale_created",
        "sale_started",
        "viewer_joined",
        "hold_created",
        "draw_closed",
    ]
    joined, closed = events[2], events[4]
    assert joined == {
        "id": joined_id,
        "type": "viewer_joined",
        "room_id": "r1",
        "uid": "u9",
        "tier": "vip",
        "src": "moments",
        "ts": T0 + 1,
    }
    # numbers and the draw's structure read back as written (a nick is never parsed)
    assert closed == {"id": closed_id, "type": "draw_closed", "room_id": "r1", **DRAW_CLOSED}
    assert await sale_store.stream.read("r2") == []


async def test_appended_events_page_by_id(sale_store: SaleStore) -> None:
    ids = [
        await sale_store.stream.append("r1", "viewer_joined", {"uid": f"u{i}", "ts": T0})
        for i in range(5)
    ]
    assert len(set(ids)) == 5  # same millisecond, still distinct and ordered
    seen: list[str] = []
    after = "0-0"
    while page := await sale_store.stream.read("r1", after=after, count=2):
        assert len(page) <= 2
        seen += [e["uid"] for e in page]
        after = page[-1]["id"]
    assert seen == [f"u{i}" for i in range(5)]
    assert [e["id"] for e in await sale_store.stream.read("r1", after=ids[2])] == ids[3:]


async def test_an_event_without_ts_is_stamped_now(sale_store: SaleStore) -> None:
    before = now_ms()
    await sale_store.stream.append("r1", "viewer_joined", {"uid": "u1"})
    [event] = await sale_store.stream.read("r1")
    assert before <= event["ts"] <= now_ms()


@pytest.mark.parametrize(
    "fields",
    [
        {"type": "hold_paid"},  # set by the store
        {"room_id": "elsewhere"},
        {"uid": 7},  # a number where strings go would read back as "7"
        {"seq": "7"},
        {"seq": True},
        {"note": {"a": 1}},  # structure outside the JSON fields
        {"uid": None},
    ],
)
async def test_append_refuses_what_would_not_read_back(sale_store: SaleStore, fields: dict) -> None:
    with pytest.raises(ValueError):
        await sale_store.stream.append("r1", "viewer_joined", fields)
    with pytest.raises(ValueError):  # and an event always has a type
        await sale_store.stream.append("r1", "", {"uid": "u1"})
    assert await sale_store.stream.read("r1") == []


async def test_redis_commerce_stream_serves_consumer_groups(
    redis_url: str, key_prefix: str
) -> None:
    """What docs/merchant-api.md promises a merchant backend reading Redis directly: sale,
    hold and draw events (and joins) in one room stream, read by a consumer group."""
    import redis.asyncio as aioredis

    from liveroom.sales.redis_store import RedisSaleStore

    store = RedisSaleStore.from_url(redis_url, key_prefix)
    backend = aioredis.Redis.from_url(redis_url, decode_responses=True)  # the merchant's
    try:
        await store.create_sale(make_sale())
        await store.grab("r1", "s1", "u1", "", 1, "a", T0)
        await store.stream.append("r1", "draw_closed", DRAW_CLOSED)
        key = store.stream.key("r1")
        assert key == f"{key_prefix}:{{r1}}:sale:events"
        await backend.xgroup_create(key, "orders", id="0")
        [(_, rows)] = await backend.xreadgroup("orders", "w1", {key: ">"}, count=10)
        assert [f["type"] for _, f in rows] == [
            "sale_created",
            "sale_started",
            "hold_created",
            "draw_closed",
        ]
        assert rows[2][1]["uid"] == "u1" and rows[2][1]["qty"] == "1"
        draw = rows[3][1]
        assert json.loads(draw["winners"]) == WINNERS and draw["seed"] == "00ff"
        assert draw["entrants_count"] == "3" and draw["room_id"] == "r1"
        await backend.xack(key, "orders", *(row_id for row_id, _ in rows[:3]))
        pending = await backend.xpending(key, "orders")
        assert pending["pending"] == 1  # the unacknowledged entry is re-deliverable
        assert await store.rooms_with_sales() == ["r1"]
    finally:
        await backend.aclose()
        await store.close()


async def test_a_batch_of_grabs_answers_as_one_by_one(sale_store: SaleStore) -> None:
    from liveroom.sales.store import GrabRequest

    batch = [
        GrabRequest("s1", "u1", "", 2, "a"),
        GrabRequest("s1", "u1", "", 2, "a"),  # a retry inside the same batch
        GrabRequest("s1", "u1", "", 1, "b"),  # over the limit of 2
        GrabRequest("s1", "u2", "", 2, "a"),
        GrabRequest("s1", "u3", "", 2, "a"),  # only 1 left
        GrabRequest("s1", "u3", "", 1, "c"),
        GrabRequest("nope", "u4", "", 1, "a"),
    ]
    await sale_store.create_sale(make_sale(room_id="batch", stock=5))
    await sale_store.create_sale(make_sale(room_id="single", stock=5))
    together = await sale_store.grab_many("batch", batch, T0)
    alone = [
        await sale_store.grab("single", r.sale_id, r.uid, r.tier, r.qty, r.request_id, T0)
        for r in batch
    ]

    def shape(outcomes: list) -> list:
        return [(o.hold.qty if o.hold else None, o.refusal, o.duplicate) for o in outcomes]

    assert shape(together) == shape(alone)
    assert shape(together) == [
        (2, None, False),
        (2, None, True),
        (None, rules.Refusal(rules.OVER_LIMIT, limit_left=0), False),
        (2, None, False),
        (None, rules.Refusal(rules.SOLD_OUT, available=1), False),
        (1, None, False),
        (None, rules.Refusal(rules.NO_SUCH_SALE), False),
    ]
    assert together[0].hold == together[1].hold
    await assert_invariants(sale_store, "batch", "s1")


async def test_shop_is_the_bag_and_the_sales(sale_store: SaleStore) -> None:
    assert await sale_store.shop("r1") == ([], [])
    other = rules.build_product({"sku": "cup-2", "title": "Cup", "price_fen": 100})
    await sale_store.put_product(PRODUCT)
    await sale_store.put_product(other)
    await sale_store.pin("r1", "cup-2")
    await sale_store.pin("r1", "tea-01")
    await sale_store.pin("r1", "gone")  # deleted or never defined: left out
    await sale_store.create_sale(make_sale())
    await sale_store.grab("r1", "s1", "u1", "", 2, "a", T0)
    products, sales = await sale_store.shop("r1")
    assert products == [other, PRODUCT]
    assert [(s.config.sale_id, s.available) for s in sales] == [("s1", 8)]
    assert sales == await sale_store.list_sales("r1")


async def test_sale_and_hold_events_carry_exactly_their_declared_fields(
    sale_store: SaleStore,
) -> None:
    """The sale scripts and the memory store write what stream.EVENT_TYPES declares (and
    docs/merchant-api.md lists): no field more, none missing."""
    from liveroom.stream import EVENT_TYPES

    await sale_store.create_sale(make_sale(hold_s=10))
    await sale_store.create_sale(make_sale("s2", starts_in_s=1, duration_s=5))
    held = [(await sale_store.grab("r1", "s1", f"u{i}", "", 1, "a", T0)).hold for i in range(3)]
    assert all(held)
    await sale_store.confirm("r1", held[0].hold_id, "o1", T0 + 1)  # type: ignore[union-attr]
    await sale_store.cancel("r1", held[1].hold_id, T0 + 1)  # type: ignore[union-attr]
    await sale_store.sweep("r1", T0 + 10_000)  # expires the third, starts s2
    await sale_store.sweep("r1", T0 + 6_000)
    await sale_store.end_sale("r1", "s1", T0 + 11_000)
    events = await sale_store.stream.read("r1", count=100)
    assert {e["type"] for e in events} == {
        "sale_created",
        "sale_started",
        "sale_ended",
        "hold_created",
        "hold_paid",
        "hold_cancelled",
        "hold_expired",
    }
    for e in events:
        assert set(e) == {"id", "type", "room_id", "ts", *EVENT_TYPES[e["type"]]}, e
