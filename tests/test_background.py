"""Stopping background tasks: a process's shutdown must end, even when a cancel is lost."""

from __future__ import annotations

import asyncio

from liveroom.background import cancel_and_wait, every


async def test_a_task_that_lost_its_cancel_is_cancelled_again() -> None:
    """On Python 3.11, asyncio.wait_for drops a cancel that lands in the turn its inner
    call finishes (redis-py sends every command through it), and the task runs on; the
    old shutdown (one cancel, then await the task) waited for ever on such a task."""
    lost = asyncio.Event()

    async def loses_one_cancel() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            lost.set()  # as wait_for does when the inner call has just finished
        await asyncio.sleep(30)

    task = asyncio.get_running_loop().create_task(loses_one_cancel())
    await asyncio.sleep(0)
    await asyncio.wait_for(cancel_and_wait([task], retry_s=0.05), 5)
    assert lost.is_set() and task.cancelled()


async def test_a_periodic_job_that_lost_its_cancel_stops() -> None:
    runs = 0
    started = asyncio.Event()

    async def job() -> None:
        nonlocal runs
        runs += 1
        started.set()
        if runs == 1:
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                pass  # lost inside the job: every() goes on to its next round

    task = asyncio.get_running_loop().create_task(every(0.01, job))
    await started.wait()
    await asyncio.wait_for(cancel_and_wait([task], retry_s=0.05), 5)
    assert task.done()


async def test_failures_and_finished_tasks_are_taken_without_raising() -> None:
    async def fails() -> None:
        raise RuntimeError("a bug hit at shutdown")

    loop = asyncio.get_running_loop()
    failed, done = loop.create_task(fails()), loop.create_task(asyncio.sleep(0))
    await asyncio.sleep(0.01)
    await cancel_and_wait([failed, done])  # no raise: at shutdown they no longer matter
    assert failed.done() and done.done()
