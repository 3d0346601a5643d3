"""Due jobs in Redis, shared by every process.

A job is a hash in its room's slot (keys.JobKeys), changed only by the job_*.lua scripts,
so each step is atomic and a room's scripts touch one Cluster slot. Which jobs are due
across all rooms is one global sorted set, `keys.jobs_due`, of "<room>/<job>/<version>"
by due time. The index is a hint, never the truth, and it is only ever touched by
single-key commands, so no script spans two slots:

- scheduling adds the entry before the job exists (version 1 is known in advance), so a
  process that dies between the two leaves an entry without a job (dropped when found),
  never a job without an entry;
- a claim moves the entry to the lease's end, a retry to its new due time; a finished or
  cancelled job's entry is removed; whoever finds an entry the job no longer matches
  (a stale version, a job gone or finished, an entry left behind by a process that died
  between a script and its index update) puts it right.
"""

from __future__ import annotations

from typing import Any

from liveroom.jobs.store import DueRef, Job, JobStore, NewJob
from liveroom.redis import RedisLayer
from liveroom.redis.guard import guarded
from liveroom.redis.replies import text
from liveroom.rules import jobs as rules


def _fields(flat: list[Any]) -> dict[str, str]:
    return {text(flat[i]): text(flat[i + 1]) for i in range(0, len(flat), 2)}


# an index entry whose job hash is missing is looked at again after GONE_RECHECK_MS, and
# dropped once it has been missing for GONE_GRACE_MS
GONE_RECHECK_MS = 1000
GONE_GRACE_MS = 30_000


class RedisJobStore(JobStore):
    def __init__(self, redis: RedisLayer) -> None:
        self._gone_since: dict[str, int] = {}  # index member -> first seen without its job
        self.client = redis.client
        self._keys = redis.keys
        self._schedule = redis.script("job_schedule")
        self._claim = redis.script("job_claim")
        self._settle = redis.script("job_settle")
        self._reschedule = redis.script("job_reschedule")
        self._cancel = redis.script("job_cancel")

    @property
    def index(self) -> str:
        return self._keys.jobs_due

    def _job_key(self, room_id: str, job_id: str) -> str:
        return self._keys.jobs(room_id).job(job_id)

    @guarded
    async def schedule(self, job: NewJob, now: int) -> tuple[Job, bool]:
        member = rules.index_member(job.room_id, job.id, 1)
        await self.client.zadd(self.index, {member: job.due_at}, nx=True)  # entry first
        created, flat = await self._write(job, now)
        stored = Job.from_fields(job.room_id, job.id, _fields(flat))
        if not created and stored.member != member:
            await self.client.zrem(self.index, member)  # the job existed: not its entry
        elif created:
            # a runner that looked between the entry and the hash found no job ('gone'):
            # the entry is put back where it belongs
            await self.client.zadd(self.index, {member: job.due_at})
        return stored, bool(created)

    async def _write(self, job: NewJob, now: int) -> tuple[Any, list[Any]]:
        k = self._keys.jobs(job.room_id)
        created, flat = await self._schedule(
            keys=[k.job(job.id), k.jobs],
            args=[job.id, job.kind, job.encoded_payload(), job.due_at, job.max_attempts, now],
        )
        return created, flat

    @guarded
    async def reschedule(self, room_id: str, job_id: str, due_at: int, now: int) -> Job | None:
        key = self._job_key(room_id, job_id)
        for _ in range(10):  # compare-and-set on the version; retried on a race
            version = await self.client.hget(key, "version")
            if version is None:
                return None
            old = rules.index_member(room_id, job_id, int(version))
            new = rules.index_member(room_id, job_id, int(version) + 1)
            await self.client.zadd(self.index, {new: due_at})
            reply = await self._reschedule(keys=[key], args=[due_at, now, int(version)])
            outcome = text(reply[0])
            if outcome == "ok":
                await self.client.zrem(self.index, old)
                return await self.get(room_id, job_id)
            await self.client.zrem(self.index, new)
            if outcome == "gone":
                return None
        raise RuntimeError(f"job {room_id}/{job_id} kept changing while being rescheduled")

    @guarded
    async def cancel(self, room_id: str, job_id: str, now: int) -> bool:
        reply = await self._cancel(keys=[self._job_key(room_id, job_id)], args=[now, self.keep_s])
        if text(reply[0]) != "cancelled":
            return False
        await self.client.zrem(self.index, rules.index_member(room_id, job_id, int(reply[1])))
        return True

    @guarded
    async def due(self, now: int, limit: int = 100) -> list[DueRef]:
        members = await self.client.zrangebyscore(self.index, "-inf", now, start=0, num=limit)
        refs = []
        for m in members:
            parsed = rules.parse_member(text(m))
            if parsed is None:
                await self.client.zrem(self.index, m)  # not ours: never claimable
                continue
            refs.append(DueRef(*parsed))
        return refs

    @guarded
    async def claim(self, ref: DueRef, now: int, lease_ms: int, token: str) -> Job | None:
        member = rules.index_member(ref.room_id, ref.job_id, ref.version)
        reply = await self._claim(
            keys=[self._job_key(ref.room_id, ref.job_id)],
            args=[now, lease_ms, token, ref.version, self.keep_s],
        )
        outcome = text(reply[0])
        if outcome == "claimed":
            job = Job.from_fields(ref.room_id, ref.job_id, _fields(reply[1]))
            await self.client.zadd(self.index, {member: job.lease_until}, xx=True)
            return job
        if outcome == "later":
            await self.client.zadd(self.index, {member: int(reply[1])}, xx=True)
        elif outcome == "stale":
            await self.client.zrem(self.index, member)
            version, state, next_ms = int(reply[1]), text(reply[2]), int(reply[3])
            if state in rules.LIVE:  # its current entry, in case whoever moved it died
                current = rules.index_member(ref.room_id, ref.job_id, version)
                await self.client.zadd(self.index, {current: next_ms}, nx=True)
        elif outcome == "gone":
            await self._gone(member, now)
        else:  # finished, given up
            await self.client.zrem(self.index, member)
        return None

    async def _gone(self, member: str, now: int) -> None:
        """An entry without a job: its scheduler died before writing it, or is writing it
        right now (the entry goes first). Looked at again a moment later, and dropped only
        once it has been without a job for GONE_GRACE_MS."""
        first = self._gone_since.setdefault(member, now)
        if now - first >= GONE_GRACE_MS:
            del self._gone_since[member]
            await self.client.zrem(self.index, member)
            return
        if len(self._gone_since) > 10_000:  # forget old sightings (another process dropped them)
            cut = now - 2 * GONE_GRACE_MS
            self._gone_since = {m: t for m, t in self._gone_since.items() if t > cut}
        await self.client.zadd(self.index, {member: now + GONE_RECHECK_MS}, xx=True)

    async def _settle_as(
        self, job: Job, now: int, outcome: str, retry_at: int, error: str, counted: bool
    ) -> bool:
        settled = await self._settle(
            keys=[self._job_key(job.room_id, job.id)],
            args=[job.token, now, outcome, retry_at, error, "1" if counted else "0", self.keep_s],
        )
        if not int(settled):
            return False
        if outcome == "retry":
            await self.client.zadd(self.index, {job.member: retry_at}, xx=True)
        else:
            await self.client.zrem(self.index, job.member)
        return True

    @guarded
    async def complete(self, job: Job, now: int) -> bool:
        return await self._settle_as(job, now, rules.DONE, 0, "", True)

    @guarded
    async def retry(
        self, job: Job, now: int, retry_at: int, error: str, counted: bool = True
    ) -> bool:
        return await self._settle_as(job, now, "retry", retry_at, error, counted)

    @guarded
    async def give_up(self, job: Job, now: int, error: str) -> bool:
        return await self._settle_as(job, now, rules.FAILED, 0, error, True)

    @guarded
    async def get(self, room_id: str, job_id: str) -> Job | None:
        flat = await self.client.hgetall(self._job_key(room_id, job_id))
        if not flat:
            return None
        return Job.from_fields(room_id, job_id, {text(k): text(v) for k, v in flat.items()})

    @guarded
    async def room_jobs(self, room_id: str) -> list[Job]:
        k = self._keys.jobs(room_id)
        ids = [text(i) for i in await self.client.zrange(k.jobs, 0, 499)]
        async with self.client.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hgetall(k.job(job_id))
            rows = await pipe.execute()
        jobs, gone = [], []
        for job_id, row in zip(ids, rows, strict=True):
            if row:
                jobs.append(
                    Job.from_fields(room_id, job_id, {text(a): text(b) for a, b in row.items()})
                )
            else:
                gone.append(job_id)
        if gone:
            await self.client.zrem(k.jobs, *gone)
        return jobs
