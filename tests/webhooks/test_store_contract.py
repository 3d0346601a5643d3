"""The webhook delivery store's contract, on both engines: one process at a time delivers a
room (a lease that runs out when its holder dies), the cursor moves only for the holder,
and the rooms to visit are the ones marked and not forgotten."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from liveroom.engine.base import Engine
from liveroom.webhooks.store import START, Delivery, WebhookStore
from tests.conftest import ALL_KINDS
from tests.support.stores import second_process, webhook_store_for

T = 1_800_000_000_000


@pytest.fixture(params=ALL_KINDS)
def engine_kind(request: pytest.FixtureRequest) -> str:
    """Memory, Redis, and a Redis Cluster: the rooms' set is global, each lease in its
    room's slot."""
    return request.param


@pytest.fixture
async def store(engine: Engine) -> WebhookStore:
    return webhook_store_for(engine)


@pytest.fixture
async def other(engine: Engine, store: WebhookStore) -> AsyncIterator[WebhookStore]:
    """The same state as a second process sees it (its own connection)."""
    async with second_process(engine) as second:
        yield store if second is None else webhook_store_for(second)


async def test_one_process_at_a_time_delivers_a_room(
    store: WebhookStore, other: WebhookStore
) -> None:
    takes = await asyncio.gather(
        *(s.take("r1", f"p{i}", T, T + 10_000) for i, s in enumerate([store, other] * 4))
    )
    [winner] = [f"p{i}" for i, cursor in enumerate(takes) if cursor is not None]
    assert [c for c in takes if c is not None] == [START]
    loser = "p1" if winner != "p1" else "p0"
    assert not await other.advance("r1", loser, "5-0", T + 10_000)
    assert await store.advance("r1", winner, "5-0", T + 10_000)
    assert await other.take("r1", loser, T + 9_999, T + 20_000) is None  # still held
    # the holder died: its lease runs out and another goes on from its cursor
    assert await other.take("r1", loser, T + 10_000, T + 20_000) == "5-0"
    assert not await store.advance("r1", winner, "9-0", T + 30_000)  # it lost the room
    assert await store.take("r1", winner, T + 10_001, T + 30_000) is None
    # a release (a hold until now) lets anyone take it at once
    assert await other.hold("r1", loser, T + 10_002)
    assert await store.take("r1", winner, T + 10_002, T + 30_000) == "5-0"
    assert not await other.hold("r1", loser, T + 99_000)
    # a backoff (a hold until later) keeps everybody else out till then
    assert await store.hold("r1", winner, T + 60_000)
    assert await other.take("r1", loser, T + 59_999, T + 70_000) is None
    assert await other.take("r1", loser, T + 60_000, T + 70_000) == "5-0"
    # rooms are apart
    assert await store.take("r2", winner, T + 60_000, T + 70_000) == START


async def test_the_rooms_to_visit_are_marked_until_forgotten(
    store: WebhookStore, other: WebhookStore
) -> None:
    assert await store.rooms() == []
    await store.mark(["r2", "r1"])
    await other.mark(["r1", "r3"])
    await store.mark([])
    assert await other.rooms() == ["r1", "r2", "r3"]
    await other.forget("r2")
    await other.forget("never")
    assert await store.rooms() == ["r1", "r3"]
    await store.mark(["r2"])
    assert await other.rooms() == ["r1", "r2", "r3"]


async def test_failures_are_counted_for_all_until_the_cursor_moves(
    store: WebhookStore, other: WebhookStore
) -> None:
    assert await store.status(["r1"]) == [Delivery("r1")]
    assert await store.take("r1", "p0", T, T + 10_000) == START
    assert await other.failed("r1", "p1", T + 20_000, "HTTP 502") == 0  # not its lease
    assert await store.failed("r1", "p0", T + 11_000, "HTTP 502") == 1
    assert await store.failed("r1", "p0", T + 12_000, "ReadTimeout") == 2
    # the count is the room's, not the process's: whoever takes over backs off from it
    assert await other.take("r1", "p1", T + 12_000, T + 20_000) == START
    assert await other.failed("r1", "p1", T + 21_000, "HTTP 503") == 3
    [stands] = await store.status(["r1"])
    assert stands == Delivery("r1", START, 3, "HTTP 503", T + 21_000)
    assert await other.advance("r1", "p1", "7-0", T + 22_000)
    assert await store.status(["r1", "r2"]) == [
        Delivery("r1", "7-0", 0, "", T + 22_000),
        Delivery("r2"),
    ]
