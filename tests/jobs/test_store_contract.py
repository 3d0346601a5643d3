"""Due jobs on both stores: scheduled once, claimed by one at a time, never lost when a
claimer dies, retried with backoff, moved and dropped. Real Redis, real concurrency."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from liveroom.jobs import DueRef, JobFailed, JobRunner, JobStore, NewJob, Outcome, RetryPolicy
from liveroom.jobs.memory_store import MemoryJobStore
from liveroom.jobs.redis_store import GONE_GRACE_MS, GONE_RECHECK_MS, RedisJobStore
from liveroom.jobs.store import Job, now_ms
from liveroom.redis import RedisLayer
from liveroom.rules import jobs as rules
from tests.conftest import ALL_KINDS, engine_settings

T0 = 1_800_000_000_000
ROOM = "r1"
LEASE = 10_000


@pytest.fixture(params=ALL_KINDS)
def engine_kind(request: pytest.FixtureRequest) -> str:
    """Jobs run on every backend, the cluster included (the due index is a global key)."""
    return request.param


@pytest.fixture
async def make_store(
    engine_kind: str, redis_url: str, key_prefix: str
) -> AsyncIterator[Callable[[], JobStore]]:
    """A store as one process has it; called twice, two processes on the same state."""
    layers: list[RedisLayer] = []
    shared = MemoryJobStore()

    def make() -> JobStore:
        if engine_kind == "memory":
            return shared
        layer = RedisLayer.from_settings(engine_settings(engine_kind, redis_url, key_prefix))
        layers.append(layer)
        return RedisJobStore(layer)

    yield make
    for layer in layers:
        await layer.close()


@pytest.fixture
def store(make_store: Callable[[], JobStore]) -> JobStore:
    return make_store()


def job(job_id: str = "j1", due_at: int = T0, **kw: object) -> NewJob:
    return NewJob(ROOM, job_id, "test", due_at, {"n": 1}, **kw)  # type: ignore[arg-type]


async def claim_next(store: JobStore, now: int, token: str, lease: int = LEASE) -> Job | None:
    for ref in await store.due(now):
        got = await store.claim(ref, now, lease, token)
        if got is not None:
            return got
    return None


async def test_scheduling_the_same_id_again_changes_nothing(store: JobStore) -> None:
    first, created = await store.schedule(job(), T0 - 5000)
    again, created_again = await store.schedule(
        NewJob(ROOM, "j1", "test", T0 + 99_000, {"n": 2}), T0
    )
    assert created and not created_again
    assert again == first and again.payload == {"n": 1} and again.due_at == T0
    assert [j.id for j in await store.room_jobs(ROOM)] == ["j1"]


async def test_a_job_is_claimed_when_due_and_once(store: JobStore) -> None:
    await store.schedule(job(), T0 - 5000)
    assert await store.due(T0 - 1) == []
    got = await claim_next(store, T0, "a")
    assert got is not None and got.state == rules.RUNNING and got.attempts == 1
    assert got.token == "a" and got.lease_until == T0 + LEASE
    assert await claim_next(store, T0 + 1, "b") is None  # leased
    assert await store.complete(got, T0 + 2)
    assert await claim_next(store, T0 + LEASE * 2, "c") is None  # done for good
    done = await store.get(ROOM, "j1")
    assert done is not None and done.state == rules.DONE
    assert await store.due(T0 + LEASE * 2) == []


async def test_two_claimers_racing_one_wins(make_store: Callable[[], JobStore]) -> None:
    a, b = make_store(), make_store()
    for i in range(20):
        await a.schedule(job(f"j{i}"), T0 - 5000)
    refs = await a.due(T0)
    assert len(refs) == 20
    wins = await asyncio.gather(
        *(
            s.claim(ref, T0, LEASE, f"{name}{ref.job_id}")
            for ref in refs
            for s, name in ((a, "a"), (b, "b"), (a, "c"), (b, "d"))
        )
    )
    held = [w for w in wins if w is not None]
    assert sorted(j.id for j in held) == sorted(f"j{i}" for i in range(20))


async def test_a_claimer_that_dies_leaves_the_job_to_another_after_its_lease(
    make_store: Callable[[], JobStore],
) -> None:
    dead, alive = make_store(), make_store()
    await dead.schedule(job(), T0 - 5000)
    lost = await claim_next(dead, T0, "dead", lease=1000)
    assert lost is not None
    assert await claim_next(alive, T0 + 999, "alive") is None
    taken = await claim_next(alive, T0 + 1000, "alive")
    assert taken is not None and taken.attempts == 2 and taken.token == "alive"
    assert not await dead.complete(lost, T0 + 1001)  # too late: its outcome is ignored
    assert await alive.complete(taken, T0 + 1002)


async def test_a_job_whose_holder_died_on_its_last_attempt_fails(store: JobStore) -> None:
    await store.schedule(job(max_attempts=1), T0 - 5000)
    assert await claim_next(store, T0, "a", lease=1000) is not None
    assert await claim_next(store, T0 + 1000, "b") is None
    failed = await store.get(ROOM, "j1")
    assert failed is not None and failed.state == rules.FAILED and "stopped" in failed.error


async def test_a_failed_attempt_is_due_again_at_its_retry_time(store: JobStore) -> None:
    await store.schedule(job(), T0 - 5000)
    got = await claim_next(store, T0, "a")
    assert got is not None
    assert await store.retry(got, T0 + 10, T0 + 5000, "HTTP 502")
    assert await claim_next(store, T0 + 4999, "b") is None
    again = await claim_next(store, T0 + 5000, "b")
    assert again is not None and again.attempts == 2 and again.error == "HTTP 502"
    assert await store.retry(again, T0 + 5010, T0 + 6000, "paced", counted=False)
    third = await claim_next(store, T0 + 6000, "c")
    assert third is not None and third.attempts == 2  # the paced one cost nothing
    assert await store.give_up(third, T0 + 6001, "errcode 93000")
    gone = await store.get(ROOM, "j1")
    assert gone is not None and gone.state == rules.FAILED and gone.error == "errcode 93000"


async def test_reschedule_moves_a_pending_job_and_reruns_a_finished_one(store: JobStore) -> None:
    await store.schedule(job(), T0 - 5000)
    moved = await store.reschedule(ROOM, "j1", T0 + 60_000, T0 - 4000)
    assert moved is not None and moved.due_at == T0 + 60_000
    assert await claim_next(store, T0 + 59_999, "a") is None
    got = await claim_next(store, T0 + 60_000, "a")
    assert got is not None
    assert await store.complete(got, T0 + 60_001)
    again = await store.reschedule(ROOM, "j1", T0 + 90_000, T0 + 70_000)
    assert again is not None and again.state == rules.PENDING and again.attempts == 0
    assert await claim_next(store, T0 + 90_000, "b") is not None
    assert await store.reschedule(ROOM, "nope", T0, T0) is None


async def test_a_cancelled_job_never_runs_and_its_holder_is_ignored(store: JobStore) -> None:
    await store.schedule(job("j1"), T0 - 5000)
    await store.schedule(job("j2"), T0 - 5000)
    assert await store.cancel(ROOM, "j1", T0 - 1)
    assert not await store.cancel(ROOM, "j1", T0 - 1)  # already
    held = await claim_next(store, T0, "a")
    assert held is not None and held.id == "j2"
    assert await claim_next(store, T0, "b") is None
    assert await store.cancel(ROOM, "j2", T0 + 1)
    assert not await store.complete(held, T0 + 2)
    states = {j.id: j.state for j in await store.room_jobs(ROOM)}
    assert states == {"j1": rules.CANCELLED, "j2": rules.CANCELLED}


class Flaky:
    """Fails its first `failures` attempts, then succeeds; records every outcome."""

    kind = "test"

    def __init__(self, failures: int, **failed: object) -> None:
        self.failures = failures
        self.failed = failed
        self.runs: list[int] = []
        self.outcomes: list[Outcome] = []

    async def run(self, job: Job) -> None:
        self.runs.append(now_ms())
        if len(self.runs) <= self.failures:
            raise JobFailed(f"try {len(self.runs)} failed", **self.failed)  # type: ignore[arg-type]

    async def settled(self, job: Job, outcome: Outcome) -> None:
        self.outcomes.append(outcome)


async def until(pred: Callable[[], bool], timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not pred():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_the_runner_retries_with_backoff_then_succeeds(store: JobStore) -> None:
    flaky = Flaky(2)
    runner = JobRunner(store, RetryPolicy(lease_ms=5000, base_ms=200, cap_ms=1000, poll_s=0.02))
    runner.register(flaky)
    await runner.start()
    try:
        await store.schedule(NewJob(ROOM, "j1", "test", now_ms()), now_ms())
        await until(lambda: len(flaky.outcomes) == 3)
    finally:
        await runner.stop()
    assert [o.state for o in flaky.outcomes] == ["retrying", "retrying", "done"]
    gaps = [b - a for a, b in zip(flaky.runs, flaky.runs[1:], strict=False)]
    assert gaps[0] >= 200 and gaps[1] >= 400  # base, then twice the base
    done = await store.get(ROOM, "j1")
    assert done is not None and done.state == rules.DONE and done.attempts == 3


async def test_the_runner_gives_up_after_the_last_attempt(store: JobStore) -> None:
    flaky = Flaky(99)
    runner = JobRunner(store, RetryPolicy(lease_ms=5000, base_ms=10, cap_ms=20, poll_s=0.02))
    runner.register(flaky)
    await runner.start()
    try:
        await store.schedule(NewJob(ROOM, "j1", "test", now_ms(), max_attempts=3), now_ms())
        await until(lambda: len(flaky.outcomes) == 3)
        await asyncio.sleep(0.2)
    finally:
        await runner.stop()
    assert [o.state for o in flaky.outcomes] == ["retrying", "retrying", "failed"]
    assert len(flaky.runs) == 3


async def test_a_runner_looking_while_a_job_is_written_does_not_orphan_it(
    engine_kind: str, store: JobStore
) -> None:
    """The index entry goes first, the job's hash second: a runner round that lands
    between the two finds no job. The job must still run (it once never did)."""
    if engine_kind == "memory":
        pytest.skip("the memory store has no separate index")
    assert isinstance(store, RedisJobStore)
    write = store._write

    async def runner_looks_first(new: NewJob, now: int) -> tuple[object, list[object]]:
        (ref,) = await store.due(now)
        assert await store.claim(ref, now, LEASE, "early") is None  # no job yet
        return await write(new, now)

    store._write = runner_looks_first  # type: ignore[method-assign]
    await store.schedule(job(), T0)
    store._write = write  # type: ignore[method-assign]
    assert await store.due(T0) == [DueRef(ROOM, "j1", 1)]
    got = await store.claim(DueRef(ROOM, "j1", 1), T0, LEASE, "a")
    assert got is not None and got.state == rules.RUNNING


async def test_stale_index_entries_are_dropped_by_whoever_finds_them(
    engine_kind: str, store: JobStore
) -> None:
    if engine_kind != "redis":
        pytest.skip("the memory store has no separate index")
    assert isinstance(store, RedisJobStore)
    index = store.index
    # an entry whose job never got written (its scheduler died), and one of an old version
    await store.client.zadd(index, {rules.index_member(ROOM, "ghost", 1): T0})
    await store.schedule(job(), T0 - 5000)
    await store.reschedule(ROOM, "j1", T0, T0 - 4000)
    await store.client.zadd(index, {rules.index_member(ROOM, "j1", 1): T0})  # left behind
    assert await store.claim(DueRef(ROOM, "ghost", 1), T0, LEASE, "a") is None
    assert await store.claim(DueRef(ROOM, "j1", 1), T0, LEASE, "a") is None
    refs = await store.due(T0)
    assert refs == [DueRef(ROOM, "j1", 2)]  # the old version's entry is gone at once
    # the ghost is looked at again a moment later (its job may be being written), and
    # dropped once it has had no job for the grace period
    ghost = DueRef(ROOM, "ghost", 1)
    assert await store.due(T0 + GONE_RECHECK_MS) == [DueRef(ROOM, "j1", 2), ghost]
    assert await store.claim(ghost, T0 + GONE_GRACE_MS, LEASE, "a") is None
    refs = await store.due(T0 + GONE_GRACE_MS + GONE_RECHECK_MS)
    assert refs == [DueRef(ROOM, "j1", 2)]
    # and a job whose current entry went missing gets it back from the stale one
    await store.client.zrem(index, rules.index_member(ROOM, "j1", 2))
    await store.client.zadd(index, {rules.index_member(ROOM, "j1", 1): T0})
    assert await store.claim(DueRef(ROOM, "j1", 1), T0, LEASE, "a") is None
    assert await store.due(T0) == [DueRef(ROOM, "j1", 2)]
