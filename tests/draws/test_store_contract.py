"""The draw store contract, run on every backend through the `engine` fixture."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from liveroom.draws.store import Draw, DrawStore, Prize, new_draw_id
from liveroom.engine.base import Engine, now_ms
from liveroom.rules import draw as rules
from tests.conftest import ALL_KINDS
from tests.support.stores import draw_store_for, second_process


@pytest.fixture(params=ALL_KINDS)
def engine_kind(request: pytest.FixtureRequest) -> str:
    return request.param


def make_draw(room: str = "r1", ends_in_ms: int = 60_000, **kw: object) -> Draw:
    seed = rules.new_seed()
    now = now_ms()
    fields: dict = {
        "id": new_draw_id(),
        "room_id": room,
        "prize": Prize("Lipstick", "https://img/x.png", "/pages/claim/index"),
        "winners_count": 2,
        "created_at": now,
        "ends_at": now + ends_in_ms,
        "mode": rules.BUTTON,
        "seed": seed,
        "commitment": rules.commitment(seed),
        "eligibility": rules.Eligibility(members_only=True, tiers=("vip",), min_watch_s=60),
    }
    fields.update(kw)
    return Draw(**fields)


@pytest.fixture
async def store(engine: Engine) -> AsyncIterator[DrawStore]:
    s = draw_store_for(engine)
    yield s
    await s.close()


@pytest.fixture
async def other_store(engine: Engine, store: DrawStore) -> AsyncIterator[DrawStore]:
    """The same draws as seen by a second process (its own engine and connection)."""
    async with second_process(engine) as second:
        yield store if second is None else draw_store_for(second)


async def test_a_draw_reads_back_as_created(store: DrawStore) -> None:
    d = make_draw(mode=rules.PHRASE, phrase="好物666")
    await store.create(d)
    got = await store.get("r1", d.id)
    assert got == d
    assert await store.get("r1", "nope") is None
    assert [o.id for o in await store.open_draws("r1")] == [d.id]
    assert await store.open_draws("other-room") == []


async def test_a_draw_id_starts_one_draw(store: DrawStore, other_store: DrawStore) -> None:
    """A start sent again with the id it named, from any process, at once or after the
    draw closed, changes nothing: not the record, not the state, not the open list."""
    d = make_draw()
    again = replace(d, seed="another seed", ends_at=d.ends_at + 60_000)
    results = await asyncio.gather(
        *(s.create(x) for s in (store, other_store) for x in (d, again, d, again))
    )
    assert sorted(results) == [False] * 7 + [True]
    first = await store.get("r1", d.id)
    assert first in (d, again)
    assert [o.id for o in await other_store.open_draws("r1")] == [d.id]
    finished = await store.finish("r1", d.id, rules.CLOSED, now_ms())
    assert finished is not None
    assert await other_store.create(d) is False
    still = await other_store.get("r1", d.id)
    assert still is not None and still.state == rules.CLOSED and still.seed == first.seed
    assert await store.open_draws("r1") == []


async def test_a_draw_stays_unannounced_until_the_room_was_told(
    store: DrawStore, other_store: DrawStore
) -> None:
    d = make_draw(announced=False)
    assert await store.create(d) is True
    seen = await other_store.get("r1", d.id)
    assert seen is not None and seen.announced is False
    await store.announced("r1", d.id)
    assert await other_store.get("r1", d.id) == replace(d, announced=True)
    told = make_draw()  # stored already told: reads told
    await store.create(told)
    assert await other_store.get("r1", told.id) == told


async def test_the_announcement_never_carries_the_seed(store: DrawStore) -> None:
    d = make_draw()
    text = repr(d.announcement())
    assert d.seed not in text and d.commitment in text


async def test_entries_count_each_user_once(store: DrawStore, other_store: DrawStore) -> None:
    d = make_draw()
    await store.create(d)
    first = await store.enter("r1", d.id, "u1", "Ann", now_ms())
    assert (first.code, first.entrants, first.duplicate) == ("", 1, False)
    again = await other_store.enter("r1", d.id, "u1", "Ann", now_ms())
    assert (again.code, again.entrants, again.duplicate) == ("", 1, True)
    await other_store.enter("r1", d.id, "u2", "Bob", now_ms())
    assert await store.count("r1", d.id) == 2
    assert sorted(await store.entrant_ids("r1", d.id)) == ["u1", "u2"]
    assert await store.nicks("r1", d.id, ["u2", "u1", "u9"]) == {"u1": "Ann", "u2": "Bob"}


async def test_concurrent_entries_from_two_processes(
    store: DrawStore, other_store: DrawStore
) -> None:
    d = make_draw()
    await store.create(d)
    uids = [f"u{i}" for i in range(150)]
    calls = [
        s.enter("r1", d.id, uid, uid.upper(), now_ms())
        for uid in uids
        for s in (store, other_store)
    ]
    results = await asyncio.gather(*calls)
    assert all(r.code == "" for r in results)
    assert sum(not r.duplicate for r in results) == len(uids)
    assert await store.count("r1", d.id) == len(uids)


async def test_entries_refused_when_unknown_past_end_or_finished(store: DrawStore) -> None:
    assert (await store.enter("r1", "missing", "u1", "", now_ms())).code == "draw_not_found"
    d = make_draw(ends_in_ms=1_000)
    await store.create(d)
    late = await store.enter("r1", d.id, "u1", "", d.ends_at)
    assert late.code == "draw_closed"
    await store.enter("r1", d.id, "u2", "", d.ends_at - 1)
    assert await store.finish("r1", d.id, rules.CLOSED, now_ms()) is not None
    after = await store.enter("r1", d.id, "u3", "", d.ends_at - 1)
    assert (after.code, after.entrants) == ("draw_closed", 1)


async def test_a_draw_finishes_exactly_once(store: DrawStore, other_store: DrawStore) -> None:
    d = make_draw()
    await store.create(d)
    attempts = [
        s.finish("r1", d.id, state, now_ms())
        for s in (store, other_store)
        for state in (rules.CLOSED, rules.CANCELLED)
        for _ in range(5)
    ]
    finished = [r for r in await asyncio.gather(*attempts) if r is not None]
    assert len(finished) == 1
    stored = await store.get("r1", d.id)
    assert stored is not None and stored.state == finished[0].state
    assert await store.open_draws("r1") == []
    assert await store.finish("r1", "missing", rules.CLOSED, now_ms()) is None


async def test_result_is_recomputable_from_seed_and_entrants(store: DrawStore) -> None:
    d = make_draw(winners_count=3)
    await store.create(d)
    for i in range(12):
        await store.enter("r1", d.id, f"u{i:02d}", f"nick{i}", now_ms())
    assert await store.result("r1", d.id) is None  # nothing to reveal while open
    await store.finish("r1", d.id, rules.CLOSED, now_ms())
    res = await store.result("r1", d.id)
    assert res is not None
    assert res.entrants == sorted(f"u{i:02d}" for i in range(12))
    expected = rules.pick_winners(d.seed, res.entrants, 3)
    assert [w["uid"] for w in res.winners] == expected
    assert all(w["nick"] == "nick" + str(int(w["uid"][1:])) for w in res.winners)


async def test_a_cancelled_draw_has_no_winners(store: DrawStore) -> None:
    d = make_draw()
    await store.create(d)
    await store.enter("r1", d.id, "u1", "", now_ms())
    cancelled = await store.finish("r1", d.id, rules.CANCELLED, now_ms())
    assert cancelled is not None and cancelled.state == rules.CANCELLED
    res = await store.result("r1", d.id)
    assert res is not None and res.winners == [] and res.entrants == ["u1"]
    assert await store.finish("r1", d.id, rules.CLOSED, now_ms()) is None


async def test_due_lists_open_draws_past_their_end(store: DrawStore) -> None:
    past = make_draw(room="ra", ends_in_ms=-1)
    future = make_draw(room="rb", ends_in_ms=60_000)
    await store.create(past)
    await store.create(future)
    due = await store.due(now_ms())
    assert ("ra", past.id) in due and ("rb", future.id) not in due
    await store.finish("ra", past.id, rules.CLOSED, now_ms())
    assert ("ra", past.id) in await store.due(now_ms())  # closed but not yet announced
    await store.done("ra", past.id)
    assert ("ra", past.id) not in await store.due(now_ms())


async def test_first_seen_is_kept(store: DrawStore) -> None:
    assert await store.first_seen("r1", "u1") is None
    assert await store.mark_seen("r1", "u1", 1_000) == 1_000
    assert await store.mark_seen("r1", "u1", 5_000) == 1_000
    assert await store.first_seen("r1", "u1") == 1_000
    assert await store.first_seen("r2", "u1") is None


async def test_entered_and_wins_are_remembered(store: DrawStore) -> None:
    d = make_draw()
    await store.create(d)
    await store.enter("r1", d.id, "u1", "", now_ms())
    assert await store.has_entered("r1", d.id, "u1")
    assert not await store.has_entered("r1", d.id, "u2")
    assert await store.wins("r1", "u1") == []
    await store.record_wins("r1", "d1", ["u1", "u2"])
    await store.record_wins("r1", "d2", ["u1"])
    await store.record_wins("r1", "d1", ["u1"])  # announced again after a crash
    assert await store.wins("r1", "u1") == ["d1", "d2"]
    assert await store.wins("r1", "u2") == ["d1"]
    assert await store.wins("r2", "u1") == []
    for i in range(10):
        await store.record_wins("r1", f"x{i}", ["u3"])
    assert len(await store.wins("r1", "u3")) == 5


async def test_joined_reads_what_a_welcome_needs(store: DrawStore) -> None:
    d1, d2, gone = make_draw(), make_draw(), make_draw()
    for d in (d1, d2, gone):
        await store.create(d)
    await store.enter("r1", d1.id, "u1", "", now_ms())
    await store.enter("r1", d1.id, "u2", "", now_ms())
    await store.enter("r1", gone.id, "u1", "", now_ms())
    await store.finish("r1", gone.id, rules.CLOSED, now_ms())
    await store.record_wins("r1", gone.id, ["u1"])
    (view,) = await store.joined("r1", ["u1"], 7_000)
    assert await store.first_seen("r1", "u1") == 7_000
    got = {(o.draw.id, o.entrants, o.entered) for o in view.open}
    assert got == {(d1.id, 2, True), (d2.id, 0, False)}
    assert [d.id for d in view.won] == [gone.id] and view.won[0].state == rules.CLOSED
    (anonymous,) = await store.joined("r1", [None], 9_000)
    assert {o.entered for o in anonymous.open} == {False} and anonymous.won == []
    assert (await store.joined("r1", ["u1"], 9_000))[0].won == view.won
    assert await store.first_seen("r1", "u1") == 7_000


async def test_viewers_joining_together_each_get_their_own_view(store: DrawStore) -> None:
    """A join storm's batch: every viewer's entries, wins and watch clock are their own,
    the same viewer twice keeps the first clock, an anonymous one is nobody's."""
    d1, d2, gone = make_draw(), make_draw(), make_draw()
    for d in (d1, d2, gone):
        await store.create(d)
    await store.enter("r1", d1.id, "u1", "", now_ms())
    await store.enter("r1", d2.id, "u2", "", now_ms())
    await store.finish("r1", gone.id, rules.CLOSED, now_ms())
    await store.record_wins("r1", gone.id, ["u2"])
    await store.mark_seen("r1", "u2", 1_000)
    views = await store.joined("r1", ["u1", None, "u2", "u3", "u1"], 7_000)
    entered = [{o.draw.id: o.entered for o in v.open} for v in views]
    assert entered == [
        {d1.id: True, d2.id: False},
        {d1.id: False, d2.id: False},
        {d1.id: False, d2.id: True},
        {d1.id: False, d2.id: False},
        {d1.id: True, d2.id: False},
    ]
    assert {(o.draw.id, o.entrants) for o in views[0].open} == {(d1.id, 1), (d2.id, 1)}
    assert [[d.id for d in v.won] for v in views] == [[], [], [gone.id], [], []]
    seen = [await store.first_seen("r1", u) for u in ("u1", "u2", "u3")]
    assert seen == [7_000, 1_000, 7_000]


async def test_random_sequences_match_a_simple_model(store: DrawStore) -> None:
    """Enter / close / cancel in random orders: the store agrees with a few lines of Python."""
    rng = random.Random(4)
    for _ in range(30):
        d = make_draw(winners_count=rng.randint(1, 4))
        await store.create(d)
        state, entered = rules.OPEN, set()
        for _ in range(rng.randint(1, 25)):
            roll = rng.random()
            if roll < 0.85:
                uid, late = f"u{rng.randint(0, 9)}", rng.random() < 0.1
                now = d.ends_at if late else d.ends_at - 1
                got = await store.enter("r1", d.id, uid, uid, now)
                if state != rules.OPEN or late:
                    assert got.code == "draw_closed"
                else:
                    assert (got.code, got.duplicate) == ("", uid in entered)
                    entered.add(uid)
                assert got.entrants == len(entered)
            else:
                target = rules.CLOSED if roll < 0.95 else rules.CANCELLED
                finished = await store.finish("r1", d.id, target, now_ms())
                assert (finished is not None) == (state == rules.OPEN)
                state = target if state == rules.OPEN else state
        res = await store.result("r1", d.id)
        if state == rules.OPEN:
            assert res is None
        else:
            assert res is not None and res.entrants == sorted(entered)
            k = d.winners_count if state == rules.CLOSED else 0
            assert [w["uid"] for w in res.winners] == rules.pick_winners(d.seed, entered, k)
