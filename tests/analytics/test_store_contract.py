"""The analytics store contract, run on memory, Redis and a Redis Cluster through one
fixture."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from liveroom.analytics.redis_store import RedisAnalyticsStore
from liveroom.analytics.store import SEEN, SPEND, AnalyticsStore, TouchAsk
from liveroom.rules.attribution import FIG, SERIES, Delta, Figures, Owner, ShareCode, Touch
from liveroom.rules.segments import DAY_MS, ProfileDelta, Thresholds
from tests.analytics.conftest import T0

ROOM = "show-1"


def code(c: str, room: str = ROOM, at: int = T0) -> ShareCode:
    return ShareCode(c, room, "wecom_group", Owner("koc", "u-amy", "Amy"), "group 3", at)


async def test_a_share_code_is_kept_once_per_room(store: AnalyticsStore) -> None:
    assert not await store.known(ROOM)
    assert await store.add_code(code("ABCD2345", at=T0 + 1))
    assert await store.add_code(code("WXYZ6789", at=T0))
    assert not await store.add_code(code("ABCD2345"))  # the first one stays
    assert await store.add_code(code("ABCD2345", room="other"))
    assert await store.code(ROOM, "ABCD2345") == code("ABCD2345", at=T0 + 1)
    assert await store.code(ROOM, "NOPE2345") is None
    assert [c.code for c in await store.codes(ROOM)] == ["WXYZ6789", "ABCD2345"]
    assert await store.known(ROOM)


async def test_the_first_touch_wins_across_processes(
    open_store: Callable[[], AnalyticsStore],
) -> None:
    """Twenty processes see the same viewer join at once through different links: exactly
    one touch is the first, and every one of them is told the same."""
    stores = [open_store() for _ in range(20)]
    touches = [
        Touch(f"CODE{i:04d}".replace("0", "A").replace("1", "B"), "moments") for i in range(20)
    ]
    results = await asyncio.gather(
        *(s.touches(ROOM, [TouchAsk("u1", t)], 60) for s, t in zip(stores, touches, strict=True))
    )
    firsts = [kept for ((kept, first),) in results if first]
    assert len(firsts) == 1
    assert {kept for ((kept, _),) in results} == {firsts[0]}
    # a viewer back with `since` reads the first touch, or keeps to its own if none
    back = [TouchAsk("u1", Touch("", "poster"), keep=False), TouchAsk("u2", Touch(), keep=False)]
    assert await stores[0].touches(ROOM, back, 60) == [(firsts[0], False), (Touch(), False)]
    assert await stores[0].touches(ROOM, [TouchAsk("u2", Touch("", "direct"))], 60) == [
        (Touch(), True)
    ]


async def test_touches_of_one_batch_are_kept_in_order(
    open_store: Callable[[], AnalyticsStore],
) -> None:
    """A join storm's batch: each ask is answered as if it came alone, in order (the same
    viewer twice in one batch: the first ask is the first touch, the second is told it)."""
    store = open_store()
    amy, bob = Touch("AMYA2345", "wecom_group"), Touch("BOBB2345", "moments")
    asks = [
        TouchAsk("u1", amy),
        TouchAsk("u2", bob, keep=False),
        TouchAsk("u1", bob),
        TouchAsk("u2", bob),
        TouchAsk("u2", amy, keep=False),
    ]
    assert await store.touches(ROOM, asks, 60) == [
        (amy, True),
        (bob, False),
        (amy, False),
        (bob, True),
        (bob, False),
    ]


async def test_figures_add_up_and_marks_keep_their_extremes(
    open_store: Callable[[], AnalyticsStore],
) -> None:
    a, b = open_store(), open_store()
    d1 = Delta()
    d1.add(FIG, "joins", 2)
    d1.add(FIG, "p|tea|clicks")
    d1.high(FIG, "peak", 7)
    d1.low(FIG, "start", T0 + 5)
    d1.add(SERIES, "100|comments", 3)
    d2 = Delta()
    d2.add(FIG, "joins")
    d2.high(FIG, "peak", 4)  # lower: the peak stays 7
    d2.low(FIG, "start", T0)  # earlier: the start moves
    d2.high(FIG, "last", T0 + 9)
    await asyncio.gather(a.apply(ROOM, d1), b.apply(ROOM, d2))
    both = await a.figures(ROOM, (FIG, SERIES))
    assert both.counts == {FIG: {"joins": 3, "p|tea|clicks": 1}, SERIES: {"100|comments": 3}}
    assert both.marks == {FIG: {"peak": 7, "start": T0, "last": T0 + 9}}
    only_fig = await b.figures(ROOM)
    assert only_fig.counts == {FIG: both.counts[FIG]} and only_fig.marks == both.marks
    assert await a.known(ROOM)
    assert (await a.figures("empty")) == Figures()


async def test_an_activity_record_lands_in_the_stream_with_its_figures(
    store: AnalyticsStore,
) -> None:
    d = Delta()
    d.add(FIG, "comments", 2)
    record = {
        "t0": T0,
        "ts": T0 + 1000,
        "viewers": 3,
        "node": "n1",
        "sources": {"ABCD2345": {"c": 2, "w": 3000}},
        "clicks": {"tea": 1},
    }
    await store.apply(ROOM, d, record)
    [event] = await store.stream.read(ROOM)
    assert {k: v for k, v in event.items() if k != "id"} == {
        "type": "activity",
        "room_id": ROOM,
        **record,
    }
    assert (await store.figures(ROOM)).count("comments") == 2


async def test_replace_puts_rebuilt_figures_in_place(store: AnalyticsStore) -> None:
    old = Delta()
    old.add(FIG, "joins", 5)
    old.add(FIG, "stale", 1)
    old.high(FIG, "peak", 9)
    await store.apply(ROOM, old)
    rebuilt = Figures(
        counts={FIG: {"joins": 4}, SERIES: {"100|joins": 4}}, marks={FIG: {"peak": 3}}
    )
    await store.replace(ROOM, rebuilt)
    assert await store.figures(ROOM, (FIG, SERIES)) == rebuilt


async def test_profiles_and_their_indexes(open_store: Callable[[], AnalyticsStore]) -> None:
    a, b = open_store(), open_store()
    first = ProfileDelta()
    first.add("shows")
    first.add("comments", 3)
    first.add("k|tea")
    first.saw(T0, "r1")
    later = ProfileDelta()
    later.add("spend_fen", 9900)
    later.add("b|tea", 1)
    later.saw(T0 + 50, "r2")
    stale = ProfileDelta()
    stale.saw(T0 + 10, "r3")  # written last but seen earlier: last seen stays T0 + 50
    await a.add_profiles({"u1": first, "u2": first})
    await b.add_profiles({"u1": later})
    await a.add_profiles({"u1": stale})
    u1, u2, none = await b.profiles(["u1", "u2", "nobody"])
    assert none is None and u1 is not None and u2 is not None
    assert u1.counts == {"shows": 1, "comments": 3, "k|tea": 1, "spend_fen": 9900, "b|tea": 1}
    assert (u1.first_seen, u1.last_seen, u1.last_room) == (T0, T0 + 50, "r2")
    assert await a.profile("u2") == u2
    assert await a.index_range(SEEN, None, None, 0, 10) == ["u1", "u2"]
    assert await a.index_range(SEEN, None, T0, 0, 10) == ["u2"]
    assert await a.index_range(SEEN, T0, None, 1, 10) == ["u2"]
    assert await a.index_range(SPEND, 100, None, 0, 10) == ["u1"]
    assert await a.index_range(SPEND, None, None, 0, 10) == ["u1"]  # only viewers who spent


async def test_a_segment_pages_through_its_members(store: AnalyticsStore) -> None:
    th = Thresholds(dormant_days=30, active_days=14, active_min_shows=3, high_value_fen=1000)
    now = T0 + 100 * DAY_MS
    deltas = {}
    for i in range(9):
        d = ProfileDelta()
        d.add("shows", 1 if i % 2 else 3)  # odd: new, even: returning and active
        d.saw(now - i * 1000, "r1")
        deltas[f"u{i}"] = d
    gone = ProfileDelta()
    gone.add("shows", 2)
    gone.add("spend_fen", 5000)
    gone.saw(now - 40 * DAY_MS, "r0")
    deltas["old"] = gone
    await store.add_profiles(deltas)

    async def pages(segment: str, count: int) -> list[list[str]]:
        out, offset = [], 0
        while offset is not None:
            found, offset = await store.segment_page(segment, th, now, offset, count)
            out.append([p.uid for p in found])
        return out

    assert await pages("new", 2) == [["u1", "u3"], ["u5", "u7"], []]
    assert await pages("returning", 3) == [["u0", "u2", "u4"], ["u6", "u8"]]
    assert await pages("active", 10) == [["u0", "u2", "u4", "u6", "u8"]]
    assert await pages("dormant", 10) == [["old"]]
    assert await pages("high_value", 10) == [["old"]]


async def test_profiles_are_written_when_redis_has_forgotten_the_script(
    store_kind: str, store: AnalyticsStore
) -> None:
    """A restarted or failed-over Redis knows no scripts: the pipelined profile writes
    are answered NOSCRIPT and must be run again, not lost."""
    if store_kind == "memory":
        pytest.skip("no scripts in memory")
    assert isinstance(store, RedisAnalyticsStore)
    await store.add_profiles({"u1": _seen(T0)})
    await store._client.script_flush()
    await store.add_profiles({"u1": _seen(T0 + 5), "u2": _seen(T0 + 6)})
    one, two = await store.profiles(["u1", "u2"])
    assert one is not None and one.counts.get("shows") == 2 and one.last_seen == T0 + 5
    assert two is not None and two.counts.get("shows") == 1


def _seen(at: int) -> ProfileDelta:
    delta = ProfileDelta()
    delta.add("shows")
    delta.saw(at, ROOM)
    return delta
