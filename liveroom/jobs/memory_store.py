"""Due jobs in this process, for the memory engine: each step runs without awaiting, so it
is atomic as each Redis script is, and decides as liveroom/rules/jobs.py says."""

from __future__ import annotations

from dataclasses import replace

from liveroom.jobs.store import DueRef, Job, JobStore, NewJob, now_ms
from liveroom.rules import jobs as rules


class MemoryJobStore(JobStore):
    def __init__(self) -> None:
        self._jobs: dict[tuple[str, str], Job] = {}
        self._expires: dict[tuple[str, str], int] = {}  # finished job -> forget at (ms)

    def _live(self, room_id: str, job_id: str, now: int) -> Job | None:
        key = (room_id, job_id)
        expires = self._expires.get(key)
        if expires is not None and expires <= now:
            self._jobs.pop(key, None)
            self._expires.pop(key, None)
        return self._jobs.get(key)

    def _put(self, job: Job, now: int) -> Job:
        key = (job.room_id, job.id)
        self._jobs[key] = job
        if job.state in rules.LIVE:
            self._expires.pop(key, None)
        else:
            self._expires[key] = now + self.keep_s * 1000
        return job

    async def schedule(self, job: NewJob, now: int) -> tuple[Job, bool]:
        existing = self._live(job.room_id, job.id, now)
        if existing is not None:
            return existing, False
        stored = Job(
            job.room_id,
            job.id,
            job.kind,
            job.due_at,
            dict(job.payload),
            job.max_attempts,
            created_at=now,
            updated_at=now,
        )
        return self._put(stored, now), True

    async def reschedule(self, room_id: str, job_id: str, due_at: int, now: int) -> Job | None:
        job = self._live(room_id, job_id, now)
        if job is None:
            return None
        moved = replace(
            job,
            state=rules.PENDING,
            due_at=due_at,
            attempts=0,
            token="",
            lease_until=0,
            error="",
            version=job.version + 1,
            updated_at=now,
        )
        return self._put(moved, now)

    async def cancel(self, room_id: str, job_id: str, now: int) -> bool:
        job = self._live(room_id, job_id, now)
        if job is None or job.state not in rules.LIVE:
            return False
        gone = replace(
            job,
            state=rules.CANCELLED,
            token="",
            lease_until=0,
            version=job.version + 1,
            updated_at=now,
        )
        self._put(gone, now)
        return True

    async def due(self, now: int, limit: int = 100) -> list[DueRef]:
        found = []
        for job in list(self._jobs.values()):
            if job.state not in rules.LIVE:
                continue
            at = job.due_at if job.state == rules.PENDING else job.lease_until
            if at <= now:
                found.append((at, DueRef(job.room_id, job.id, job.version)))
        found.sort(key=lambda pair: pair[0])
        return [ref for _, ref in found[:limit]]

    async def claim(self, ref: DueRef, now: int, lease_ms: int, token: str) -> Job | None:
        job = self._live(ref.room_id, ref.job_id, now)
        if job is None or job.version != ref.version:
            return None
        decision, _ = rules.claim_decision(
            job.state, job.due_at, job.lease_until, job.attempts, job.max_attempts, now
        )
        if decision == rules.GIVE_UP:
            error = "its process stopped during the last attempt"
            self._put(replace(job, state=rules.FAILED, token="", error=error, updated_at=now), now)
            return None
        if decision != rules.CLAIM:
            return None
        claimed = replace(
            job,
            state=rules.RUNNING,
            attempts=job.attempts + 1,
            lease_until=now + lease_ms,
            token=token,
            updated_at=now,
        )
        return self._put(claimed, now)

    def _held(self, job: Job, now: int) -> Job | None:
        current = self._live(job.room_id, job.id, now)
        if current is None or current.state != rules.RUNNING or current.token != job.token:
            return None
        return current

    async def complete(self, job: Job, now: int) -> bool:
        current = self._held(job, now)
        if current is None:
            return False
        done = replace(current, state=rules.DONE, token="", lease_until=0, error="")
        self._put(replace(done, updated_at=now), now)
        return True

    async def retry(
        self, job: Job, now: int, retry_at: int, error: str, counted: bool = True
    ) -> bool:
        current = self._held(job, now)
        if current is None:
            return False
        again = replace(
            current,
            state=rules.PENDING,
            due_at=retry_at,
            token="",
            lease_until=0,
            error=error,
            attempts=current.attempts if counted else current.attempts - 1,
            updated_at=now,
        )
        self._put(again, now)
        return True

    async def give_up(self, job: Job, now: int, error: str) -> bool:
        current = self._held(job, now)
        if current is None:
            return False
        failed = replace(current, state=rules.FAILED, token="", lease_until=0, error=error)
        self._put(replace(failed, updated_at=now), now)
        return True

    async def get(self, room_id: str, job_id: str) -> Job | None:
        return self._live(room_id, job_id, now_ms())

    async def room_jobs(self, room_id: str) -> list[Job]:
        now = now_ms()
        jobs = [self._live(r, j, now) for (r, j) in list(self._jobs) if r == room_id]
        return sorted((j for j in jobs if j is not None), key=lambda j: (j.created_at, j.id))
