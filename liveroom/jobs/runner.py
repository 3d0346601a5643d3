"""The job runner: every process polls the due jobs, claims what is due, and runs it.

A feature that wants something done at a time implements `JobKind` (a `kind` name, `run`
and `settled`) and registers it with the node's runner when it is built; then it schedules
jobs of that kind from anywhere with `runner.store.schedule(NewJob(...), now)`. See
liveroom/jobs/__init__.py for the whole contract.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from dataclasses import dataclass
from typing import Protocol

from liveroom.background import cancel_and_wait, every
from liveroom.errors import Unavailable
from liveroom.jobs.store import Job, JobStore, now_ms
from liveroom.rules import jobs as rules
from liveroom.types import Feature

log = logging.getLogger("liveroom.jobs")


class JobFailed(Exception):
    """Raised by `JobKind.run`: this attempt failed. `retry_after_ms`: the far side asked
    us to wait (a rate limit); `final`: retrying cannot help; `counted=False`: it was not
    attempted at all (put off by pacing), so it costs no attempt."""

    def __init__(
        self, error: str, *, retry_after_ms: int = 0, final: bool = False, counted: bool = True
    ) -> None:
        super().__init__(error)
        self.error = error
        self.retry_after_ms = retry_after_ms
        self.final = final
        self.counted = counted


@dataclass(frozen=True)
class Outcome:
    """How an attempt ended: `done`, `retrying` (due again at `retry_at`), `failed`."""

    state: str
    error: str = ""
    retry_at: int = 0


DONE = Outcome("done")


class JobKind(Protocol):
    """What a feature implements to have jobs of its kind run."""

    kind: str

    async def run(self, job: Job) -> None:
        """Do the job; raise JobFailed to have it retried (or given up on)."""

    async def settled(self, job: Job, outcome: Outcome) -> None:
        """Told after each attempt (to report it); must not raise."""


@dataclass(frozen=True)
class RetryPolicy:
    lease_ms: int = 30_000
    base_ms: int = 5_000
    cap_ms: int = 600_000
    poll_s: float = 0.5
    concurrency: int = 8


class JobRunner(Feature):
    """Built once per process in liveroom/node.py, before the features that register kinds."""

    def __init__(self, store: JobStore, policy: RetryPolicy) -> None:
        self.store = store
        self.policy = policy
        self._kinds: dict[str, JobKind] = {}
        self._task: asyncio.Task | None = None
        self._running: set[asyncio.Task] = set()
        self._gate = asyncio.Semaphore(policy.concurrency)

    def register(self, kind: JobKind) -> None:
        if kind.kind in self._kinds:
            raise ValueError(f"job kind {kind.kind!r} is registered twice")
        self._kinds[kind.kind] = kind

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(every(self.policy.poll_s, self.run_due), name="job-runner")

    async def stop(self) -> None:
        await cancel_and_wait(t for t in (self._task, *self._running) if t is not None)
        await self.store.close()

    async def run_due(self) -> int:
        """One round: claim every due job (that a free slot can take) and start it."""
        started = 0
        for ref in await self.store.due(now_ms()):
            if self._gate.locked():
                break  # busy: the rest stay due for the next round (or another process)
            token = secrets.token_hex(8)
            job = await self.store.claim(ref, now_ms(), self.policy.lease_ms, token)
            if job is None:
                continue
            await self._gate.acquire()
            task = asyncio.get_running_loop().create_task(self._run(job))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
            started += 1
        return started

    async def _run(self, job: Job) -> None:
        try:
            outcome = await self._attempt(job)
            kind = self._kinds.get(job.kind)
            if kind is not None and outcome is not None:
                with contextlib.suppress(Exception):
                    await kind.settled(job, outcome)
        except Unavailable:
            log.warning("job %s/%s: store unavailable; its lease runs out", job.room_id, job.id)
        except Exception:
            log.exception("job %s/%s: runner failed; its lease runs out", job.room_id, job.id)
        finally:
            self._gate.release()

    async def _attempt(self, job: Job) -> Outcome | None:
        """Run it and settle it in the store; None when the lease was lost meanwhile."""
        kind = self._kinds.get(job.kind)
        p = self.policy
        try:
            if kind is None:
                raise JobFailed(f"no handler for job kind {job.kind!r}", final=True)
            await asyncio.wait_for(kind.run(job), p.lease_ms / 1000 * 0.8)
        except JobFailed as err:
            failure = err
        except TimeoutError:
            failure = JobFailed("took longer than its lease")
        except Exception as exc:
            log.exception("job %s/%s (%s) raised", job.room_id, job.id, job.kind)
            failure = JobFailed(f"{type(exc).__name__}: {exc}")
        else:
            return DONE if await self.store.complete(job, now_ms()) else None
        now = now_ms()
        attempts = job.attempts if failure.counted else job.attempts - 1
        when = None
        if not failure.final:
            when = rules.retry_at(
                attempts, job.max_attempts, now, p.base_ms, p.cap_ms, now + failure.retry_after_ms
            )
        if when is None:
            ok = await self.store.give_up(job, now, failure.error)
            return Outcome("failed", failure.error) if ok else None
        ok = await self.store.retry(job, now, when, failure.error, failure.counted)
        return Outcome("retrying", failure.error, when) if ok else None
