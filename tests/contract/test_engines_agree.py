"""Both engines give the same answers to the same random sequence of calls.

The contract tests pin each behaviour on its own; this drives the two engines side by
side through arbitrary mixes of publishes, room changes, moderation, comments (retries,
hosts, limits), deletes, likes, state, presence, snapshots and recoveries over a tiny
history, and demands
identical results and identical fan-out, so an interaction nobody thought to test cannot
drift either.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liveroom.engine import create_engine
from liveroom.engine.base import Engine, new_event
from tests.conftest import engine_settings
from tests.contract.conftest import Recorder

UIDS = ["amy", "bob", "host"]

room_changes = st.fixed_dictionaries(
    {},
    optional={
        "title": st.text(max_size=8),
        "slow_mode": st.sampled_from([0, 3600]),
        "pinned": st.none() | st.just("pinned!"),
        "keywords": st.lists(st.sampled_from(["spam", "广告"]), max_size=2),
        "allow_anonymous": st.booleans(),
    },
)
# -1 ban, 0/None clear, +1 muted for an hour, -2 a mute that already ran out
moderation = st.none() | st.tuples(st.sampled_from(UIDS), st.sampled_from([-1, 0, None, 1, -2]))

ops = st.lists(
    st.one_of(
        st.tuples(st.just("publish"), room_changes, moderation),
        st.tuples(st.just("comment"), st.sampled_from(UIDS), st.sampled_from([None, "m1", "m2"])),
        st.tuples(st.just("delete"), st.integers(0, 5)),
        st.tuples(st.just("likes"), st.integers(1, 5)),
        st.tuples(st.just("snapshot"), st.integers(0, 4)),
        st.tuples(st.just("since"), st.integers(-1, 25)),
        st.tuples(st.just("moderation"), st.sampled_from(UIDS)),
        st.tuples(
            st.just("room"),
        ),
    ),
    max_size=40,
)


def _until(code: Any) -> float | None:
    if code in (1, -2):
        return time.time() + (3600 if code == 1 else -60)
    return code


async def _apply(eng: Engine, room: str, op: tuple, step: int, comments: list[str]) -> Any:
    kind = op[0]
    if kind == "publish":
        mod = None if op[2] is None else (op[2][0], _until(op[2][1]))
        event = {"type": "announce", "ts": step, "n": step}
        return await eng.publish(room, event, room_changes=op[1] or None, moderation=mod)
    if kind == "comment":
        uid = op[1]
        event = new_event("comment", id=f"c{step}", uid=uid, text="hi")
        event["ts"] = step
        if uid == "host":
            event["host"] = True
        result = await eng.post_comment(room, uid, event, op[2])
        if result.event is not None and not result.duplicate:
            comments.append(result.event["id"])
        # retry_after of mutes and slow mode depends on the clock; the rate limit's does not
        wait = result.retry_after if result.code == "rate_limited" else None
        return (result.event, result.code, result.duplicate, wait)
    if kind == "delete":
        target = comments[op[1]] if op[1] < len(comments) else f"missing{op[1]}"
        return await eng.comment_deleted(room, target)
    if kind == "likes":
        return await eng.add_likes(room, op[1])
    if kind == "snapshot":
        return await eng.snapshot(room, op[1])
    if kind == "since":
        return await eng.events_since(room, op[1])
    if kind == "presence":
        return await eng.report_presence(room, op[1])  # one process: its own count
    if kind == "state":
        return await eng.publish_state(room, {"stock": {"sku": op[1]}})
    if kind == "bad_field":
        try:
            await eng.publish(room, {"type": "x", "ts": step}, room_changes={"colour": "red"})
        except ValueError:
            return "refused"
        return "accepted"
    if kind == "moderation":
        mod = await eng.moderation(room, op[1])
        return (mod.banned, mod.muted(time.time()))
    return await eng.room(room)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sequence=ops)
def test_memory_and_redis_engines_agree(
    sequence: list[tuple], redis_url: str, key_prefix: str
) -> None:
    async def run() -> None:
        overrides = {"history_size": 6, "comment_rate": 0.0001, "comment_burst": 2}
        engines = [
            create_engine(engine_settings(kind, redis_url, key_prefix, **overrides))
            for kind in ("memory", "redis")
        ]
        for eng in engines:
            await eng.start()
        try:
            room = uuid.uuid4().hex  # a fresh room per example on the test's prefix
            fanned = [Recorder(), Recorder()]
            for eng, recorder in zip(engines, fanned, strict=True):
                await eng.subscribe(room, recorder)
            comments: list[list[str]] = [[], []]
            for step, op in enumerate(sequence):
                got = [await _apply(e, room, op, step, comments[i]) for i, e in enumerate(engines)]
                assert got[0] == got[1], f"step {step} {op}"
            # and every process was told the same things in the same order
            want = len(fanned[0].items)
            await fanned[1].until(lambda r: len(r.items) >= want)
            assert fanned[0].items == fanned[1].items
        finally:
            for eng in engines:
                await eng.close()

    asyncio.run(run())
