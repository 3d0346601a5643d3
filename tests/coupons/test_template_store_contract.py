"""The template store contract: both stores keep templates and reserve their totals
alike, all or nothing, whoever asks at once."""

from __future__ import annotations

import asyncio

from liveroom.coupons.store import Reservation, TemplateStore
from liveroom.rules import coupon as rules

T0 = 1_800_000_000_000


def tpl(template_id: str = "t1", total: int = 100, **raw: object) -> rules.Template:
    terms = {"title": "5 off", "kind": "amount_off", "amount_fen": 500, "valid_days": 3}
    return rules.build_template({**terms, "total": total, **raw}, template_id, T0)


async def test_put_get_list_replace(template_store: TemplateStore) -> None:
    assert await template_store.get("t1") is None
    assert await template_store.list() == []
    stored = await template_store.put(tpl())
    assert stored is not None and stored.reserved == 0 and stored.left == 100
    await template_store.put(tpl("a0", skus=["tea-01"], member_tiers=["vip"]))
    got = await template_store.get("a0")
    assert got is not None and got.template == tpl("a0", skus=["tea-01"], member_tiers=["vip"])
    assert [s.template.template_id for s in await template_store.list()] == ["a0", "t1"]
    replaced = await template_store.put(tpl(title="6 off", total=50))
    assert replaced is not None and (await template_store.get("t1")) == replaced
    assert replaced.template.title == "6 off"


async def test_reservations_are_all_or_nothing(template_store: TemplateStore) -> None:
    await template_store.put(tpl(total=10))
    assert await template_store.reserve("t1", 6) == Reservation(True, 4)
    assert await template_store.reserve("t1", 5) == Reservation(False, 4)
    assert await template_store.reserve("t1", 4) == Reservation(True, 0)
    assert await template_store.reserve("nope", 1) == Reservation(False, 0, found=False)
    await template_store.release("t1", 3)
    stored = await template_store.get("t1")
    assert stored is not None and (stored.reserved, stored.left) == (7, 3)
    # a replacement keeps the reservations, and may not go below them
    assert await template_store.put(tpl(total=6)) is None
    assert (await template_store.get("t1")).template.total == 10  # type: ignore[union-attr]
    kept = await template_store.put(tpl(total=7))
    assert kept is not None and (kept.reserved, kept.left) == (7, 0)


async def test_an_ended_drop_gives_back_once_whoever_ends_it(
    template_store: TemplateStore,
) -> None:
    """Every process that sees a drop end (a stop sent twice, a sweep) gives its coupons not
    given out back; the template gets them once."""
    await template_store.put(tpl(total=10))
    assert (await template_store.reserve("t1", 8)).ok
    answers = await asyncio.gather(
        *(template_store.release("t1", 5, once="room-a/d1") for _ in range(10))
    )
    assert sorted(answers) == [False] * 9 + [True]
    assert await template_store.release("t1", 2, once="room-a/d2")
    stored = await template_store.get("t1")
    assert stored is not None and (stored.reserved, stored.left) == (1, 9)
    assert not await template_store.release("nope", 1, once="room-a/d1")


async def test_a_drop_reserves_once_however_often_its_create_is_sent(
    template_store: TemplateStore,
) -> None:
    """A create sent again after an outage hid whether its first try reserved: the drop's
    reservation is taken once, from any number of tries at once; a drop that was never
    created gives it back and reserves afresh next time."""
    await template_store.put(tpl(total=10))
    answers = await asyncio.gather(
        *(template_store.reserve("t1", 4, drop="room-a/d1") for _ in range(8))
    )
    assert sorted(a.again for a in answers) == [False] + [True] * 7
    assert all(a.ok for a in answers)
    stored = await template_store.get("t1")
    assert stored is not None and (stored.reserved, stored.left) == (4, 6)
    # not enough left is refused without a mark: the drop may reserve once there is
    assert await template_store.reserve("t1", 7, drop="room-a/d2") == Reservation(False, 6)
    assert await template_store.reserve("t1", 6, drop="room-a/d2") == Reservation(True, 0)
    # d1 was never created: its reservation goes back, once
    assert await template_store.unreserve("t1", 4, drop="room-a/d1")
    assert not await template_store.unreserve("t1", 4, drop="room-a/d1")
    assert not await template_store.unreserve("t1", 4, drop="room-a/never")
    stored = await template_store.get("t1")
    assert stored is not None and (stored.reserved, stored.left) == (6, 4)
    assert await template_store.reserve("t1", 4, drop="room-a/d1") == Reservation(True, 0)
    assert not await template_store.unreserve("nope", 1, drop="room-a/d1")


async def test_reservations_at_once_never_exceed_the_total(template_store: TemplateStore) -> None:
    await template_store.put(tpl(total=100))
    answers = await asyncio.gather(*(template_store.reserve("t1", 3) for _ in range(50)))
    assert sum(a.ok for a in answers) == 33
    stored = await template_store.get("t1")
    assert stored is not None and (stored.reserved, stored.left) == (99, 1)


async def test_drops_of_a_template(template_store: TemplateStore) -> None:
    await template_store.add_drop("t1", "room-b", "d1")
    await template_store.add_drop("t1", "room-a", "d2")
    await template_store.add_drop("t1", "room-a", "d2")
    assert await template_store.drops("t1") == [("room-a", "d2"), ("room-b", "d1")]
    assert await template_store.drops("t2") == []
