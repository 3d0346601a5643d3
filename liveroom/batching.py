"""Per-room batches: the requests of a room that reach this process together leave for the
store together.

A room under load gets many requests within a turn of the event loop (thousands of grabs
in a flash sale, hundreds of comments a second in a busy room). Sent one by one, each costs
a Redis round trip, its command encoding and its reply parsing; batched, a room's queued
requests go out as one call (one Lua script over an array), whose answers are exactly those
of the same requests one by one, in arrival order. Nothing waits on purpose: a lone request
goes out on the next turn of the loop; under load, requests queue while a batch is in
flight and leave together with the next one, so a batch holds what arrived during one
round trip (at most a tick's worth while the process is busy writing a tick).

A batch that fails for any reason but an outage (`Unavailable`, which every request of the
batch would meet alike) is sent again one request at a time, so a request the store cannot
take fails alone and its neighbours get their answers. Requests must therefore be
idempotent (a request id, a client id) so that one the failed batch had already decided
gets that same answer again.

Used by the sale grabs (sales/batcher.py), the Redis engine's comments and moderation reads
(engine/redis.py), and the reads and writes behind a joining viewer's welcome.

`immediate`: each request goes to the store at once, alone. For a store in this process (the
memory engine) a batch saves no round trip, and the hop through the batch's task costs a
turn of the event loop, which in a join storm (thousands of ready sockets a turn) is the
price of a whole turn per batched step.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from liveroom.errors import Unavailable

Req = TypeVar("Req")
Out = TypeVar("Out")

# What sends one room's batch: (room id, requests in arrival order) -> one answer each.
SendMany = Callable[[str, list[Req]], Awaitable[list[Out]]]

MAX_BATCH = 200
MAX_IN_FLIGHT = 2  # batches per room at once: one on the wire while the next one fills


class RoomBatcher(Generic[Req, Out]):
    def __init__(
        self,
        send_many: SendMany[Req, Out],
        max_batch: int = MAX_BATCH,
        max_in_flight: int = MAX_IN_FLIGHT,
        immediate: bool = False,
    ) -> None:
        self._send_many = send_many
        self.immediate = immediate
        self.max_batch = max_batch
        self.max_in_flight = max_in_flight
        self._queues: dict[str, deque[tuple[Req, asyncio.Future[Out]]]] = {}
        self._in_flight: dict[str, int] = {}
        self._tasks: set[asyncio.Task] = set()

    async def submit(self, room_id: str, request: Req) -> Out:
        """The request's answer, from a batch of the room's requests."""
        if self.immediate:
            (outcome,) = await self._send_many(room_id, [request])
            return outcome
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Out] = loop.create_future()
        self._queues.setdefault(room_id, deque()).append((request, future))
        flying = self._in_flight.get(room_id, 0)
        if flying < self.max_in_flight:
            self._in_flight[room_id] = flying + 1
            task = loop.create_task(self._drain(room_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _drain(self, room_id: str) -> None:
        try:
            queue = self._queues[room_id]
            while queue:
                batch = [queue.popleft() for _ in range(min(self.max_batch, len(queue)))]
                try:
                    outcomes = await self._send_many(room_id, [req for req, _ in batch])
                except asyncio.CancelledError:
                    _cancel(batch)  # closing: nobody waits for an answer that never comes
                    raise
                except Exception as exc:
                    if isinstance(exc, Unavailable) or len(batch) == 1:
                        _fail(batch, exc)  # an outage: every request of the batch meets it
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

    async def _one_by_one(self, room_id: str, batch: list[tuple[Req, asyncio.Future[Out]]]) -> None:
        for i, (request, future) in enumerate(batch):
            try:
                (outcome,) = await self._send_many(room_id, [request])
            except asyncio.CancelledError:
                _cancel(batch[i:])
                raise
            except Exception as exc:
                _fail([(request, future)], exc)
            else:
                if not future.done():
                    future.set_result(outcome)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for queue in self._queues.values():
            _cancel(list(queue))
            queue.clear()


def _cancel(batch: list[tuple[Req, asyncio.Future[Out]]]) -> None:
    for _, future in batch:
        future.cancel()


def _fail(batch: list[tuple[Req, asyncio.Future[Out]]], exc: BaseException) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(exc)


class SharedRead(Generic[Out]):
    """One read of a room's state for every caller that asked while none was on its way.

    For what every joining viewer reads alike (a room's shop, its show): a read that starts
    after a caller asked is as fresh as the caller's own would have been, so the viewers who
    join together share it instead of each reading the same keys."""

    def __init__(self, read: Callable[[str], Awaitable[Out]]) -> None:
        self._read = read
        # one read on its way at a time: whoever asks meanwhile waits for the next one,
        # which all of them share
        self._batches: RoomBatcher[None, Out] = RoomBatcher(
            self._read_for, max_batch=10_000, max_in_flight=1
        )

    async def get(self, room_id: str) -> Out:
        return await self._batches.submit(room_id, None)

    async def _read_for(self, room_id: str, callers: list[None]) -> list[Out]:
        value = await self._read(room_id)
        return [value] * len(callers)

    async def close(self) -> None:
        await self._batches.close()
