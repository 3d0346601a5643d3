"""Grab batching: the grabs that reach this process together go to the store together.

In a flash sale thousands of grabs for one room arrive within milliseconds; batched
(liveroom/batching.py), a room's queued grabs go out as one Lua call
(`SaleStore.grab_many`), whose answers are exactly those of the same grabs one by one, in
arrival order. A batch that fails for any reason but an outage is sent again one grab at a
time, so a grab the store cannot take fails alone; grabs are idempotent by request id, so a
grab the failed batch had already decided gets that same answer again.
"""

from __future__ import annotations

from liveroom.batching import MAX_BATCH, MAX_IN_FLIGHT, RoomBatcher
from liveroom.rules.sale import GrabOutcome
from liveroom.sales.store import GrabRequest, SaleStore, now_ms

__all__ = ["MAX_BATCH", "MAX_IN_FLIGHT", "GrabBatcher"]


class GrabBatcher:
    def __init__(self, store: SaleStore) -> None:
        self.store = store
        self._batches: RoomBatcher[GrabRequest, GrabOutcome] = RoomBatcher(self._send)

    async def grab(self, room_id: str, request: GrabRequest) -> GrabOutcome:
        return await self._batches.submit(room_id, request)

    async def _send(self, room_id: str, requests: list[GrabRequest]) -> list[GrabOutcome]:
        return await self.store.grab_many(room_id, requests, now_ms())

    async def close(self) -> None:
        await self._batches.close()
