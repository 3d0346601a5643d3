"""Periodic jobs of a process: sweepers, stock and count updates, presence reports.

One bad round (Redis restarting, a bug hit once) must not end a job for the life of the
process, so every round's failure is logged and the next round runs on schedule.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from liveroom.errors import Unavailable

log = logging.getLogger("liveroom.background")


async def every(interval_s: float, job: Callable[[], Awaitable[object]]) -> None:
    """Run `job` every `interval_s` seconds until cancelled."""
    name = getattr(job, "__qualname__", repr(job))
    down = 0  # rounds in a row the store was unavailable: log the first, not every tick
    while True:
        await asyncio.sleep(interval_s)
        try:
            await job()
        except asyncio.CancelledError:
            raise
        except Unavailable as exc:
            if down == 0:
                log.warning(
                    "%s: store unavailable (%s); retrying every %.2fs", name, exc, interval_s
                )
            down += 1
            continue
        except Exception:
            log.exception("%s failed; next round in %.2fs", name, interval_s)
        if down:
            log.warning("%s: store back after %d failed rounds", name, down)
            down = 0


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]], retry_s: float = 0.5) -> None:
    """Cancel `tasks` and wait until every one has ended, however it ends.

    A cancel can be lost: on Python 3.11, `asyncio.wait_for` (redis-py sends every command
    through it) returns its result and drops the cancel when the two land in one turn of
    the loop, and the task runs on; a shutdown that cancelled once and awaited the task
    then waited for ever (seen: a worker of `--workers 2` that never exited after
    SIGTERM, about 1 run in 10). So a task still running `retry_s` later is cancelled
    again. Failures of the tasks are taken here: at shutdown they no longer matter.
    """
    tasks = list(tasks)
    pending = {t for t in tasks if not t.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=retry_s)
    for task in tasks:
        if not task.cancelled():
            task.exception()  # retrieved, so the loop does not log it as never retrieved
