"""Grab batching: the grabs that reach this process together go to the store together.

In a flash sale thousands of grabs for one room arrive within milliseconds. Sent one by
one, each costs a Redis round trip and its Python overhead; batched, a room's queued
grabs go out as one Lua call (`SaleStore.grab_many`), whose answers are exactly those of
the same grabs one by one, in arrival order. Nothing waits on purpose: a lone grab goes
out on the next turn of the event loop; under a burst, grabs queue while a batch is in
flight and leave together with the next one.

A batch that fails for any reason but an outage (`Unavailable`, which every grab of the
batch would meet alike) is sent again one grab at a time, so a grab the store cannot take
fails alone and its neighbours get their answers. Grabs are idempotent by request id, so
a grab the failed batch had already decided gets that same answer again.
"""

from __future__ import annotations

import asyncio
from collections import deque

from liveroom.errors import Unavailable
from liveroom.rules.sale import GrabOutcome
from liveroom.sales.store import GrabRequest, SaleStore, now_ms

MAX_BATCH = 200
MAX_IN_FLIGHT = 2  # batches per room at once: one on the wire while the next one fills


_Queued = tuple[GrabRequest, "asyncio.Future[GrabOutcome]"]


def _fail(batch: list[_Queued], exc: BaseException) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(exc)


class GrabBatcher:
    def __init__(self, store: SaleStore) -> None:
        self.store = store
        self._queues: dict[str, deque[_Queued]] = {}
        self._in_flight: dict[str, int] = {}
        self._tasks: set[asyncio.Task] = set()

    async def grab(self, room_id: str, request: GrabRequest) -> GrabOutcome:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[GrabOutcome] = loop.create_future()
        self._queues.setdefault(room_id, deque()).append((request, future))
        if self._in_flight.get(room_id, 0) < MAX_IN_FLIGHT:
            self._in_flight[room_id] = self._in_flight.get(room_id, 0) + 1
            task = loop.create_task(self._drain(room_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _drain(self, room_id: str) -> None:
        try:
            queue = self._queues[room_id]
            while queue:
                batch = [queue.popleft() for _ in range(min(MAX_BATCH, len(queue)))]
                try:
                    outcomes = await self.store.grab_many(
                        room_id, [req for req, _ in batch], now_ms()
                    )
                except Exception as exc:
                    if isinstance(exc, Unavailable) or len(batch) == 1:
                        _fail(batch, exc)  # an outage: every grab of the batch meets it
                    else:
                        await self._one_by_one(room_id, batch)
                    continue
                for (_, future), outcome in zip(batch, outcomes, strict=True):
                    if not future.done():  # its client may have gone meanwhile
                        future.set_result(outcome)
        finally:
            self._in_flight[room_id] -= 1
            if not self._in_flight[room_id]:
                del self._in_flight[room_id]
                if not self._queues.get(room_id):
                    self._queues.pop(room_id, None)

    async def _one_by_one(self, room_id: str, batch: list[_Queued]) -> None:
        for request, future in batch:
            try:
                (outcome,) = await self.store.grab_many(room_id, [request], now_ms())
            except Exception as exc:
                _fail([(request, future)], exc)
            else:
                if not future.done():
                    future.set_result(outcome)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
