"""Due jobs: the record, and the store interface both engines implement.

A job is anything a feature wants done at a time, once, by whichever process gets to it:
a WeCom reminder before a show, a notice when it goes live, later a coupon drop or a
sale's start. The feature names the job (its id within the room, so scheduling it again
is harmless), says which handler runs it (`kind`) and hands it a JSON `payload`.

The decisions (may it be claimed, when is a failed one retried) are in
liveroom/rules/jobs.py; a store keeps jobs and makes each step atomic. The contract suite
in tests/jobs runs against both stores.
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from liveroom.rules import jobs as rules

# A finished job (done, failed, cancelled) is kept this long for the host panel's listing.
KEEP_FINISHED_S = 7 * 86400
DEFAULT_MAX_ATTEMPTS = 6


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class NewJob:
    """What a feature schedules."""

    room_id: str
    id: str
    kind: str
    due_at: int  # unix ms
    payload: dict[str, Any] = field(default_factory=dict)
    max_attempts: int = DEFAULT_MAX_ATTEMPTS

    def __post_init__(self) -> None:
        if not rules.JOB_ID.match(self.id):
            raise ValueError(f"job id {self.id!r} must be 1-128 of A-Z a-z 0-9 _ . : -")
        if not self.kind or not 1 <= self.max_attempts <= 100:
            raise ValueError("a job needs a kind and 1..100 attempts")

    def encoded_payload(self) -> str:
        return json.dumps(self.payload, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Job:
    """A job as stored. `token` is the lease a claim handed to its holder."""

    room_id: str
    id: str
    kind: str
    due_at: int
    payload: dict[str, Any]
    max_attempts: int
    state: str = rules.PENDING
    attempts: int = 0
    lease_until: int = 0
    token: str = ""
    error: str = ""
    version: int = 1
    created_at: int = 0
    updated_at: int = 0

    @property
    def member(self) -> str:
        """Its entry in the due index."""
        return rules.index_member(self.room_id, self.id, self.version)

    def public(self) -> dict[str, Any]:
        """What a host or merchant may see of it (payloads hold no secrets by contract)."""
        return {
            "job_id": self.id,
            "kind": self.kind,
            "state": self.state,
            "due_at": self.due_at,
            "attempts": self.attempts,
            "max_attempts": self.max_attempts,
            "error": self.error,
            "updated_at": self.updated_at,
            "payload": self.payload,
        }

    @classmethod
    def from_fields(cls, room_id: str, job_id: str, f: dict[str, str]) -> Job:
        return cls(
            room_id=room_id,
            id=job_id,
            kind=f["kind"],
            due_at=int(f["due_at"]),
            payload=json.loads(f["payload"]),
            max_attempts=int(f["max_attempts"]),
            state=f["state"],
            attempts=int(f["attempts"]),
            lease_until=int(f["lease_until"]),
            token=f["token"],
            error=f["error"],
            version=int(f["version"]),
            created_at=int(f["created_at"]),
            updated_at=int(f["updated_at"]),
        )


@dataclass(frozen=True)
class DueRef:
    """An entry of the due index: which job to try to claim."""

    room_id: str
    job_id: str
    version: int


class JobStore(ABC):
    keep_s: int = KEEP_FINISHED_S

    async def close(self) -> None:  # noqa: B027 - optional hook
        pass

    @abstractmethod
    async def schedule(self, job: NewJob, now: int) -> tuple[Job, bool]:
        """Create the job unless its id exists in the room; (the job as stored, created).
        Scheduling an existing id changes nothing, whatever its state."""

    @abstractmethod
    async def reschedule(self, room_id: str, job_id: str, due_at: int, now: int) -> Job | None:
        """Due at `due_at` from now on: a pending job moves, a running one is due again
        (its holder's outcome is ignored), a finished one runs once more. None: no such
        job."""

    @abstractmethod
    async def cancel(self, room_id: str, job_id: str, now: int) -> bool:
        """A job not finished yet will not run (a running one's outcome is ignored);
        False when it had finished or does not exist."""

    @abstractmethod
    async def due(self, now: int, limit: int = 100) -> list[DueRef]:
        """Jobs that may be due by `now`, earliest first (a claim decides)."""

    @abstractmethod
    async def claim(self, ref: DueRef, now: int, lease_ms: int, token: str) -> Job | None:
        """Take the job for `lease_ms` if it is due (or its last holder's lease ran out):
        the job with `token`, or None. One claimer at a time wins."""

    @abstractmethod
    async def complete(self, job: Job, now: int) -> bool:
        """The holder ran it. False when its lease was taken over (or it was cancelled or
        rescheduled meanwhile)."""

    @abstractmethod
    async def retry(
        self, job: Job, now: int, retry_at: int, error: str, counted: bool = True
    ) -> bool:
        """The holder failed (or, `counted=False`, put it off unattempted): due again at
        `retry_at`."""

    @abstractmethod
    async def give_up(self, job: Job, now: int, error: str) -> bool:
        """The holder failed its last attempt: the job is failed for good."""

    @abstractmethod
    async def get(self, room_id: str, job_id: str) -> Job | None: ...

    @abstractmethod
    async def room_jobs(self, room_id: str) -> list[Job]:
        """The room's jobs (finished ones for KEEP_FINISHED_S), oldest first."""
