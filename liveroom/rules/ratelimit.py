"""Token bucket for per-user limits.

The Redis engine runs the same arithmetic in Lua (redis/lua/lib_room.lua); the contract suite
checks that both agree.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bucket:
    tokens: float
    stamp: float  # seconds


def take(bucket: Bucket | None, now: float, rate: float, burst: int) -> tuple[bool, Bucket]:
    """Take one token; return whether allowed and the bucket to store."""
    if bucket is None:
        tokens = float(burst)
    else:
        tokens = min(float(burst), bucket.tokens + max(0.0, now - bucket.stamp) * rate)
    if tokens >= 1.0:
        return True, Bucket(tokens - 1.0, now)
    return False, Bucket(tokens, now)


def slow_mode_wait(last_comment_at: float | None, now: float, slow_s: int) -> float:
    """Seconds a user must still wait under slow mode (0 when they may speak)."""
    if slow_s <= 0 or last_comment_at is None:
        return 0.0
    return max(0.0, last_comment_at + slow_s - now)
