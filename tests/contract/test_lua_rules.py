"""The Lua copies of the comment rules compute exactly what liveroom.rules computes.

The Redis engine must decide rate limits and slow mode inside its script (atomically), so
lib_room.lua carries the arithmetic of rules/ratelimit.py; this checks the two agree bit for
bit on arbitrary inputs, rather than trusting a reading of both.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis as redis_sync
from hypothesis import given, settings
from hypothesis import strategies as st

from liveroom.redis.scripts import load
from liveroom.rules import ratelimit, social_proof
from tests.conftest import REDIS_URL

HARNESS = """
local stored = false
if ARGV[1] ~= '' then stored = ARGV[1] end
local allowed, bucket = take(stored, tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]))
local last = false
if ARGV[5] ~= '' then last = tonumber(ARGV[5]) end
local wait = slow_mode_wait(last, tonumber(ARGV[2]), tonumber(ARGV[6]))
return {allowed and 1 or 0, bucket, fmt(wait)}
"""


@pytest.fixture(scope="module")
def run() -> Iterator[object]:
    lib = load("lib_room").text
    client = redis_sync.Redis.from_url(REDIS_URL)
    script = client.register_script(lib + HARNESS)
    yield script
    client.close()


times = st.floats(min_value=1.7e9, max_value=1.8e9, allow_nan=False)
buckets = st.none() | st.builds(
    ratelimit.Bucket, st.floats(min_value=0, max_value=20, allow_nan=False), times
)


@settings(max_examples=300, deadline=None)
@given(
    bucket=buckets,
    now=times,
    rate=st.floats(min_value=0.01, max_value=100),
    burst=st.integers(min_value=1, max_value=20),
    last=st.none() | times,
    slow=st.integers(min_value=0, max_value=600),
)
def test_token_bucket_and_slow_mode_match_the_python_rules(
    run: object,
    bucket: ratelimit.Bucket | None,
    now: float,
    rate: float,
    burst: int,
    last: float | None,
    slow: int,
) -> None:
    stored = "" if bucket is None else f"{bucket.tokens!r} {bucket.stamp!r}"
    args = [stored, repr(now), repr(rate), burst, "" if last is None else repr(last), slow]
    allowed, lua_bucket, lua_wait = run(keys=[], args=args)  # type: ignore[operator]
    want_allowed, want_bucket = ratelimit.take(bucket, now, rate, burst)
    tokens, stamp = (float(x) for x in lua_bucket.split())
    assert (bool(allowed), tokens, stamp) == (want_allowed, want_bucket.tokens, want_bucket.stamp)
    assert float(lua_wait) == ratelimit.slow_mode_wait(last, now, slow)


PACE_HARNESS = """
local last_at, pending, count = pace_take(tonumber(ARGV[1]), tonumber(ARGV[2]),
  tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]))
return {last_at, pending, count}
"""


@pytest.fixture(scope="module")
def run_pace() -> Iterator[object]:
    client = redis_sync.Redis.from_url(REDIS_URL)
    yield client.register_script(load("lib_room").text + PACE_HARNESS)
    client.close()


ms = st.integers(min_value=0, max_value=2_000_000_000_000)


@settings(max_examples=300, deadline=None)
@given(
    last_at=ms,
    pending=st.integers(min_value=0, max_value=10**6),
    added=st.integers(min_value=0, max_value=1),
    ahead=st.integers(min_value=-10_000, max_value=10_000),
    window=st.integers(min_value=0, max_value=60_000),
)
def test_announcement_pace_matches_the_python_rule(
    run_pace: object, last_at: int, pending: int, added: int, ahead: int, window: int
) -> None:
    """The social-proof slot (rules.social_proof.take_slot) decides alike in Lua, at the
    window's edge (ahead = 0) and on either side of it."""
    now = last_at + window + ahead
    got = run_pace(keys=[], args=[last_at, pending, added, now, window])  # type: ignore[operator]
    pace, count = social_proof.take_slot(social_proof.Pace(last_at, pending), added, now, window)
    assert got == [pace.last_at, pace.pending, count]
