"""Periodic jobs end when cancelled, whatever the job did with the cancel."""

from __future__ import annotations

import asyncio

import pytest

from liveroom.background import every
from liveroom.errors import Unavailable


async def swallows() -> None:
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        return  # a library that eats the cancel of a call in flight


async def turns_it_into_an_outage() -> None:
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        raise Unavailable("redis unavailable: Timeout reading from socket") from None


@pytest.mark.parametrize("job", [swallows, turns_it_into_an_outage])
async def test_a_job_cancelled_mid_round_ends_for_good(job: object) -> None:
    """Else it sleeps on with its cancel used up, and a feature's stop, which cancels it
    and waits for it, waits for ever (it hung node.stop() in 1 test run of 8)."""
    started = asyncio.Event()

    async def round_() -> None:
        started.set()
        await job()  # type: ignore[operator]

    task = asyncio.get_running_loop().create_task(every(0.001, round_))
    await started.wait()
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=2)
    assert done and task.cancelled()


async def test_a_failed_round_does_not_end_the_job() -> None:
    rounds = 0

    async def flaky() -> None:
        nonlocal rounds
        rounds += 1
        raise Unavailable("down") if rounds % 2 else RuntimeError("a bug hit once")

    task = asyncio.get_running_loop().create_task(every(0.001, flaky))
    async with asyncio.timeout(5):
        while rounds < 6:  # noqa: ASYNC110 - counting rounds of the job under test
            await asyncio.sleep(0.005)
    assert not task.done()
    task.cancel()
    await asyncio.wait([task])
