"""Due jobs: anything time-driven, done once by whichever process gets to it.

How a feature uses it (the WeCom notices of liveroom/shows are the first user):

1. Implement `JobKind`: a `kind` name, `async run(job)` that does the work (raise
   `JobFailed` to retry: with `retry_after_ms` when the far side asked for a pause,
   `final=True` when retrying cannot help, `counted=False` when it was put off rather than
   tried), and `async settled(job, outcome)` to report each attempt's outcome.
2. Register it once, where the node builds the feature: `node.jobs.register(kind)`.
3. Schedule: `await jobs.store.schedule(NewJob(room_id, job_id, kind, due_at, payload), now)`.
   The job id is yours, unique within the room: scheduling the same id again changes
   nothing, so every process may schedule the same job. `reschedule` moves it (or runs a
   finished one again), `cancel` drops it.

Guarantees: a due job is claimed by one process at a time, for a lease
(LIVEROOM_JOBS_LEASE_S); run within its lease it runs once. A process that dies holding a
lease leaves the job to another once the lease runs out (so a job whose holder died after
doing the work but before saying so runs twice: make the work idempotent where it can be).
A failed attempt is retried with exponential backoff from LIVEROOM_JOBS_RETRY_BASE_S, up
to the job's max_attempts, then the job is `failed`. Payloads are stored as they are and
shown to hosts: never put a secret in one.
"""

from liveroom.jobs.runner import DONE, JobFailed, JobKind, JobRunner, Outcome, RetryPolicy
from liveroom.jobs.store import DueRef, Job, JobStore, NewJob, now_ms

__all__ = [
    "DONE",
    "DueRef",
    "Job",
    "JobFailed",
    "JobKind",
    "JobRunner",
    "JobStore",
    "NewJob",
    "Outcome",
    "RetryPolicy",
    "now_ms",
]
