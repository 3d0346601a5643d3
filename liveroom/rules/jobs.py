"""Due jobs: when a job may be claimed, and when a failed one runs again. Pure.

Both job stores (memory, and Redis in liveroom/redis/lua/job_*.lua) make these decisions
the same way; the contract suite (tests/jobs) holds them to it. A job is `pending` until
its due time, `running` while a process holds its lease, then `done`, `failed` (gave up
after its last attempt) or `cancelled`. A running job whose lease ran out (its process
died, or hangs) is claimable again, so nothing due is ever lost; a job is claimed by one
process at a time, so nothing is run twice while its holder lives.
"""

from __future__ import annotations

import re

PENDING = "pending"
RUNNING = "running"
DONE = "done"
FAILED = "failed"
CANCELLED = "cancelled"
STATES = (PENDING, RUNNING, DONE, FAILED, CANCELLED)
LIVE = frozenset({PENDING, RUNNING})  # still to run (or running)

# What a claim finds (claim_decision)
CLAIM = "claim"  # take it now
LATER = "later"  # not yet: due, or leased, until the returned time
FINISHED = "finished"  # done, failed or cancelled: nothing to do
GIVE_UP = "give_up"  # its lease ran out on its last attempt: mark it failed

# A job id names the job within its room, chosen by the feature that schedules it, so
# scheduling the same job again is harmless. No "/": the due index joins room, id and
# version with it.
JOB_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}\Z")


def claim_decision(
    state: str, due_at: int, lease_until: int, attempts: int, max_attempts: int, now: int
) -> tuple[str, int]:
    """What a claim at `now` does: (CLAIM, 0), (LATER, when), (FINISHED, 0), (GIVE_UP, 0)."""
    if state == PENDING:
        return (CLAIM, 0) if due_at <= now else (LATER, due_at)
    if state == RUNNING:
        if lease_until > now:
            return LATER, lease_until
        # its holder died or hung: another attempt, unless that was the last one
        return (GIVE_UP, 0) if attempts >= max_attempts else (CLAIM, 0)
    return FINISHED, 0


def backoff_ms(attempt: int, base_ms: int, cap_ms: int) -> int:
    """Wait before attempt `attempt + 1`: base, 2 x base, 4 x base, ... at most cap."""
    return min(cap_ms, base_ms * 2 ** max(0, attempt - 1))


def retry_at(
    attempts: int, max_attempts: int, now: int, base_ms: int, cap_ms: int, not_before: int = 0
) -> int | None:
    """When a job that failed its `attempts`-th attempt runs again; None: give up.
    `not_before` is a time the far side asked for (a rate limit's window), if later."""
    if attempts >= max_attempts:
        return None
    return max(now + backoff_ms(attempts, base_ms, cap_ms), not_before)


def index_member(room_id: str, job_id: str, version: int) -> str:
    """A job's entry in the global due index: the version tells a stale entry (left by a
    reschedule or a cancel) from the job's current one."""
    return f"{room_id}/{job_id}/{version}"


def parse_member(member: str) -> tuple[str, str, int] | None:
    room_id, _, rest = member.partition("/")
    job_id, _, version = rest.rpartition("/")
    if not room_id or not job_id or not version.isdigit():
        return None
    return room_id, job_id, int(version)
