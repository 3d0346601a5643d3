"""Events: per-room seq, capped history, recovery with `since`, fan-out to subscribers."""

from __future__ import annotations

import asyncio

from liveroom.engine.base import Engine, new_event
from tests.contract.conftest import MakeEngine, Recorder


async def test_seq_counts_from_one_without_gaps(engine: Engine) -> None:
    stored = [await engine.publish("r", new_event("announce", n=i)) for i in range(30)]
    assert [e["seq"] for e in stored] == list(range(1, 31))
    assert [e["n"] for e in stored] == list(range(30))
    assert stored[0]["type"] == "announce" and "ts" in stored[0]
    assert (await engine.snapshot("r", 0)).seq == 30


async def test_seq_is_per_room(engine: Engine) -> None:
    await engine.publish("a", new_event("x"))
    await engine.publish("a", new_event("x"))
    assert (await engine.publish("b", new_event("x")))["seq"] == 1


async def test_concurrent_publishers_in_two_processes_get_unique_contiguous_seqs(
    engine: Engine, peer: Engine
) -> None:
    n = 200
    results = await asyncio.gather(
        *((engine if i % 2 else peer).publish("r", new_event("announce", n=i)) for i in range(n))
    )
    assert sorted(e["seq"] for e in results) == list(range(1, n + 1))
    by_seq = {e["seq"]: e["n"] for e in results}
    history = await engine.events_since("r", 0)
    assert history is not None
    assert [(e["seq"], e["n"]) for e in history] == sorted(by_seq.items())


async def test_events_since_returns_exactly_the_missed_events(engine: Engine) -> None:
    stored = [await engine.publish("r", new_event("announce", n=i)) for i in range(50)]
    assert await engine.events_since("r", 20) == stored[20:]
    assert await engine.events_since("r", 0) == stored
    assert await engine.events_since("r", 49) == stored[49:]


async def test_nothing_missed_is_an_empty_list(engine: Engine) -> None:
    assert await engine.events_since("fresh", 0) == []
    await engine.publish("r", new_event("x"))
    assert await engine.events_since("r", 1) == []


async def test_since_beyond_the_room_is_a_gap(engine: Engine) -> None:
    """A client holding seq 7 of a room now at seq 1 saw another life of the room (reset)."""
    await engine.publish("r", new_event("x"))
    assert await engine.events_since("r", 7) is None


async def test_history_is_capped_and_older_gaps_are_reported(make_engine: MakeEngine) -> None:
    eng = await make_engine(history_size=10)
    stored = [await eng.publish("r", new_event("announce", n=i)) for i in range(25)]
    # the history keeps seqs 16..25: since=15 is fully recoverable, since=14 is not
    assert await eng.events_since("r", 15) == stored[15:]
    assert await eng.events_since("r", 14) is None
    assert await eng.events_since("r", 0) is None
    assert await eng.events_since("r", -1) is None


async def test_subscribers_get_events_likes_and_state_in_order(
    engine: Engine, peer: Engine, recorder: Recorder
) -> None:
    await peer.subscribe("r", recorder)
    published = await asyncio.gather(
        *(engine.publish("r", new_event("announce", n=i)) for i in range(100))
    )
    await engine.add_likes("r", 7)
    await engine.publish_state("r", {"stock": {"sku1": 3}})
    await recorder.until(lambda r: bool(r.of("state")))
    assert recorder.seqs("r") == list(range(1, 101))
    assert sorted(recorder.of("event"), key=lambda e: e["seq"]) == sorted(
        published, key=lambda e: e["seq"]
    )
    kinds = [k for _, k, _ in recorder.items]
    assert kinds == ["event"] * 100 + ["likes", "state"]
    assert recorder.of("likes") == [7]
    assert recorder.of("state") == [{"stock": {"sku1": 3}}]


async def test_one_subscriber_serves_many_rooms(engine: Engine, recorder: Recorder) -> None:
    rooms = [f"room{i}" for i in range(20)]
    for room in rooms:
        await engine.subscribe(room, recorder)
    for i, room in enumerate(rooms):
        await engine.publish(room, new_event("announce", n=i))
    await recorder.until(lambda r: len(r.of("event")) == len(rooms))
    # every room's own events in order; rooms against each other, no order is promised (on
    # a Redis Cluster each master's rooms come on a connection of their own)
    assert sorted((r, p["n"], p["seq"]) for r, _, p in recorder.items) == sorted(
        (room, i, 1) for i, room in enumerate(rooms)
    )


async def test_unsubscribed_rooms_deliver_nothing(engine: Engine, recorder: Recorder) -> None:
    await engine.subscribe("gone", recorder)
    await engine.subscribe("kept", recorder)
    await engine.unsubscribe("gone")
    await engine.publish("gone", new_event("x"))
    await engine.add_likes("gone", 1)
    await engine.publish("kept", new_event("x"))
    # one connection delivers in order, so anything for "gone" would have come first; on a
    # cluster the two rooms may be on two masters' connections: give "gone" a moment more
    await recorder.until(lambda r: bool(r.of("event", "kept")))
    await asyncio.sleep(0.2)
    assert [r for r, _, _ in recorder.items] == ["kept"]


async def test_state_is_fanned_out_but_not_kept(engine: Engine, recorder: Recorder) -> None:
    await engine.subscribe("r", recorder)
    await engine.publish_state("r", {"entrants": 12})
    await recorder.until(lambda r: bool(r.of("state")))
    assert recorder.of("state") == [{"entrants": 12}]
    assert (await engine.snapshot("r", 5)).seq == 0
    assert await engine.events_since("r", 0) == []
