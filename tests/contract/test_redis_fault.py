"""Redis faults: a killed or stalled Redis makes calls fail fast; a restart heals the engine.

Runs its own redis-server (on a free port) so killing it touches nobody else's data.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
import redis as redis_sync

from liveroom.engine.base import new_event
from liveroom.engine.redis import RedisEngine
from liveroom.errors import Unavailable
from liveroom.settings import Settings
from tests.contract.conftest import Recorder
from tests.support.redis_process import RedisProcess

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="no redis-server")


@pytest.fixture
def redis_proc() -> Iterator[RedisProcess]:
    proc = RedisProcess()
    proc.start()
    try:
        yield proc
    finally:
        proc.kill()


@pytest.fixture
async def fault_engine(redis_proc: RedisProcess) -> AsyncIterator[RedisEngine]:
    eng = RedisEngine(Settings(redis_url=redis_proc.url, key_prefix="lrfault"))
    await eng.start()
    try:
        yield eng
    finally:
        await eng.close()


CALLS: dict[str, Callable[[RedisEngine, Recorder], Awaitable[Any]]] = {
    "room": lambda e, _: e.room("r"),
    "snapshot": lambda e, _: e.snapshot("r", 10),
    "publish": lambda e, _: e.publish("r", new_event("x")),
    "events_since": lambda e, _: e.events_since("r", 0),
    "post_comment": lambda e, _: e.post_comment("r", "amy", new_event("comment", id="c"), None),
    "comment_deleted": lambda e, _: e.comment_deleted("r", "c"),
    "moderation": lambda e, _: e.moderation("r", "amy"),
    "publish_state": lambda e, _: e.publish_state("r", {"stock": 1}),
    "add_likes": lambda e, _: e.add_likes("r", 1),
    "report_presence": lambda e, _: e.report_presence("r", 1),
    "subscribe": lambda e, sink: e.subscribe("r2", sink),
}


async def every_call_is_unavailable(eng: RedisEngine, sink: Recorder) -> None:
    for call in CALLS.values():
        # the guard only stops a hang from stalling the suite; a hang fails the test
        with pytest.raises(Unavailable):
            await asyncio.wait_for(call(eng, sink), 15)


async def publish_until_delivered(eng: RedisEngine, recorder: Recorder, room: str) -> dict:
    """After a restart the subscriber comes back on its own; poll until an event flows."""
    async with asyncio.timeout(20):
        while True:
            try:
                stored = await eng.publish(room, new_event("after", room=room))
            except Unavailable:
                await asyncio.sleep(0.1)
                continue
            try:
                await recorder.until(lambda r, e=stored: e in r.of("event", room), timeout=0.5)
                return stored
            except TimeoutError:
                continue  # published before the subscriber was back: try again


async def test_killed_redis_fails_fast_and_a_restart_heals(
    redis_proc: RedisProcess, fault_engine: RedisEngine
) -> None:
    recorder = Recorder()
    await fault_engine.subscribe("r", recorder)
    before = await fault_engine.publish("r", new_event("before"))
    await recorder.until(lambda r: before in r.of("event"))

    redis_proc.kill()
    await every_call_is_unavailable(fault_engine, recorder)

    redis_proc.start()
    # "r" was subscribed before the outage, "r2" was asked for during it: both come back
    for room in ("r", "r2"):
        stored = await publish_until_delivered(fault_engine, recorder, room)
        assert stored["type"] == "after"
    later = [await fault_engine.publish("r", new_event("later", n=i)) for i in range(5)]
    await recorder.until(lambda r: later[-1] in r.of("event", "r"))
    assert recorder.of("event", "r")[-5:] == later
    assert await fault_engine.add_likes("r", 2) == 2


async def test_a_stalled_redis_times_out_instead_of_hanging(
    redis_proc: RedisProcess, fault_engine: RedisEngine
) -> None:
    await fault_engine.publish("r", new_event("before"))
    redis_proc.signal(signal.SIGSTOP)
    try:
        with pytest.raises(Unavailable):
            await asyncio.wait_for(fault_engine.publish("r", new_event("stalled")), 15)
    finally:
        redis_proc.signal(signal.SIGCONT)
    async with asyncio.timeout(20):
        while True:
            try:
                assert (await fault_engine.snapshot("r", 0)).seq >= 1
                break
            except Unavailable:
                await asyncio.sleep(0.1)


async def test_a_dropped_subscription_misses_no_event(fault_engine: RedisEngine) -> None:
    """Events published while the subscriber reconnects are replayed from the history."""
    url = fault_engine.settings.redis_url
    publisher = RedisEngine(Settings(redis_url=url, key_prefix="lrfault", node_id="publisher"))
    await publisher.start()
    try:
        fault_engine.subscriber.backoff_s = (0.5, 2.0)  # a wide window to publish into
        recorder = Recorder()
        await fault_engine.subscribe("busy", recorder)  # has events before the drop
        await fault_engine.subscribe("quiet", recorder)  # has none before the drop
        sent: dict[str, list[dict]] = {"busy": [], "quiet": []}
        for i in range(5):
            sent["busy"].append(await publisher.publish("busy", new_event("before", n=i)))
        await recorder.until(lambda r: len(r.of("event")) == 5)

        killer = redis_sync.Redis.from_url(url)
        assert killer.client_kill_filter(_type="pubsub") >= 1
        killer.close()
        for i in range(20):
            room = ("busy", "quiet")[i % 2]
            sent[room].append(await publisher.publish(room, new_event("during", n=i)))
        # (the reader sees the drop at once and waits 0.5 s to reconnect: they fell in the gap)
        for i in range(6):
            room = ("busy", "quiet")[i % 2]
            sent[room].append(await publisher.publish(room, new_event("after", n=i)))

        for room, expected in sent.items():
            last = expected[-1]
            await recorder.until(lambda r, room=room, last=last: last in r.of("event", room))
            assert recorder.of("event", room) == expected
        # latest-value state (stock, counts) published in the gap is in no history: the
        # room says it came back once its missed events are in, so owners publish it again
        assert recorder.of("resubscribed", "busy") == [None]
        busy = [(k, p) for r, k, p in recorder.items if r == "busy"]
        back = busy.index(("resubscribed", None))
        assert "during" not in [p["type"] for k, p in busy[back:] if k == "event"]
    finally:
        await publisher.close()


async def restart_empty(redis_proc: RedisProcess, eng: RedisEngine) -> None:
    """Kill Redis and start it again without data; return once eng's subscriber is back."""
    redis_proc.kill()
    async with asyncio.timeout(20):
        # the reader notices the drop; there is no event for "lost", so poll briefly
        while eng.subscriber.connected.is_set():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        redis_proc.start()  # empty: no persistence
        await eng.subscriber.connected.wait()


async def test_seqs_keep_climbing_when_redis_comes_back_empty(
    redis_proc: RedisProcess, fault_engine: RedisEngine
) -> None:
    """A Redis without persistence restarts empty; seqs must not start over at 1, or
    every process would drop the new events as already seen."""
    recorder = Recorder()
    await fault_engine.subscribe("r", recorder)
    for i in range(5):
        await fault_engine.publish("r", new_event("before", n=i))
    await recorder.until(lambda r: r.seqs() == [1, 2, 3, 4, 5])

    # the subscriber, once back, puts the counter where its viewers are: even a process
    # that never saw the room continues from there
    await restart_empty(redis_proc, fault_engine)
    url = redis_proc.url
    newcomer = RedisEngine(Settings(redis_url=url, key_prefix="lrfault", node_id="newcomer"))
    await newcomer.start()
    try:
        assert (await newcomer.publish("r", new_event("newcomer")))["seq"] == 6
    finally:
        await newcomer.close()
    await recorder.until(lambda r: r.seqs()[-1] == 6)

    # a publishing process carries what it has seen into its own scripts, so it goes on
    # from there even before its subscriber is back
    fault_engine.subscriber.backoff_s = (3.0, 3.0)
    redis_proc.kill()
    redis_proc.start()
    async with asyncio.timeout(20):
        while True:
            try:
                stored = await fault_engine.publish("r", new_event("after"))
                break
            except Unavailable:
                await asyncio.sleep(0.05)
    assert stored["seq"] == 7
    await recorder.until(lambda r: stored in r.of("event"), timeout=20)
    assert recorder.seqs() == [1, 2, 3, 4, 5, 6, 7]
