"""The per-room batcher under the grabs, the Redis comments and the shared welcome reads."""

from __future__ import annotations

import asyncio

import pytest

from liveroom.batching import RoomBatcher, SharedRead


async def test_what_arrives_while_a_batch_is_out_leaves_together_in_order() -> None:
    sent: list[list[int]] = []
    gate = asyncio.Event()

    async def send_many(room_id: str, items: list[int]) -> list[int]:
        sent.append(items)
        await gate.wait()
        return [i * 10 for i in items]

    batcher: RoomBatcher[int, int] = RoomBatcher(send_many, max_in_flight=1)
    first = asyncio.create_task(batcher.submit("r", 0))
    await asyncio.sleep(0)
    rest = [asyncio.create_task(batcher.submit("r", i)) for i in range(1, 6)]
    await asyncio.sleep(0)
    gate.set()
    assert [await t for t in (first, *rest)] == [0, 10, 20, 30, 40, 50]
    assert sent == [[0], [1, 2, 3, 4, 5]]


async def test_an_immediate_batcher_sends_each_request_alone_in_its_callers_turn() -> None:
    """For a store in this process: no batch task, no turn of the loop between the call
    and the store, each request alone (a failure is its own), whatever arrives together."""
    sent: list[list[int]] = []

    async def send_many(room_id: str, items: list[int]) -> list[int]:
        sent.append(items)
        if items == [3]:
            raise ValueError("bad item")
        return [i * 10 for i in items]

    batcher: RoomBatcher[int, int] = RoomBatcher(send_many, max_in_flight=1, immediate=True)
    calls = [batcher.submit("r", i) for i in range(5)]
    got = await asyncio.gather(*calls, return_exceptions=True)
    assert got[:3] == [0, 10, 20] and isinstance(got[3], ValueError) and got[4] == 40
    assert sent == [[0], [1], [2], [3], [4]]
    # in the caller's own turn: done without the loop running anything else first
    step = batcher.submit("r", 7).__await__()
    with pytest.raises(StopIteration) as done:
        next(step)
    assert done.value.value == 70


async def test_closing_cancels_every_caller_instead_of_leaving_it_waiting() -> None:
    async def never(room_id: str, items: list[int]) -> list[int]:
        await asyncio.Event().wait()
        return items

    batcher: RoomBatcher[int, int] = RoomBatcher(never, max_in_flight=1)
    callers = [asyncio.create_task(batcher.submit("r", i)) for i in range(3)]
    await asyncio.sleep(0.01)  # the first is on its way, the others queued behind it
    await batcher.close()
    for caller in callers:
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(caller, 5)


async def test_a_shared_read_serves_everyone_who_asked_before_it_started() -> None:
    reads = 0

    async def read(room_id: str) -> int:
        nonlocal reads
        reads += 1
        await asyncio.sleep(0.01)
        return reads

    shared: SharedRead[int] = SharedRead(read)
    first = await asyncio.gather(*(shared.get("r") for _ in range(50)))
    assert set(first) == {1} and reads == 1
    assert await shared.get("r") == 2  # asked after: a fresh read
