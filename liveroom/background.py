"""Periodic jobs of a process: sweepers, stock and count updates, presence reports.

One bad round (Redis restarting, a bug hit once) must not end a job for the life of the
process, so every round's failure is logged and the next round runs on schedule.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

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
            _stop_if_cancelled(None)
        except asyncio.CancelledError:
            raise
        except Unavailable as exc:
            _stop_if_cancelled(exc)
            if down == 0:
                log.warning(
                    "%s: store unavailable (%s); retrying every %.2fs", name, exc, interval_s
                )
            down += 1
            continue
        except Exception as exc:
            _stop_if_cancelled(exc)
            log.exception("%s failed; next round in %.2fs", name, interval_s)
        if down:
            log.warning("%s: store back after %d failed rounds", name, down)
            down = 0


def _stop_if_cancelled(exc: BaseException | None) -> None:
    """A cancel that the job swallowed, or that reached it as another exception (redis-py
    can turn a read cancelled mid-reply into a timeout, which the outage guard makes
    Unavailable), still ends the job: else it would sleep on with the cancel used up, and
    whoever cancelled it (a feature's stop) would wait for it for ever."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError from exc
