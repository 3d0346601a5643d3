"""Webhook delivery state in Redis, shared by every process: the rooms to visit in one
global set (single-key commands only), each room's cursor and lease in a hash of its own
slot, changed by one script (liveroom/redis/lua/webhook_lease.lua)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from liveroom.redis import RedisLayer
from liveroom.redis.guard import guarded
from liveroom.redis.replies import text, texts
from liveroom.webhooks.store import START, Delivery, WebhookStore


class RedisWebhookStore(WebhookStore):
    def __init__(self, redis: RedisLayer) -> None:
        self._client = redis.client
        self._keys = redis.keys
        self._lease = redis.script("webhook_lease")

    @guarded
    async def mark(self, room_ids: Sequence[str]) -> None:
        if room_ids:
            await self._client.sadd(self._keys.webhook_rooms, *room_ids)

    @guarded
    async def rooms(self) -> list[str]:
        return sorted(texts(await self._client.smembers(self._keys.webhook_rooms)))

    @guarded
    async def forget(self, room_id: str) -> None:
        await self._client.srem(self._keys.webhook_rooms, room_id)

    @guarded
    async def take(self, room_id: str, owner: str, now_ms: int, until_ms: int) -> str | None:
        cursor = await self._call(room_id, "take", owner, now_ms, until_ms)
        return None if cursor is None else text(cursor)

    @guarded
    async def advance(self, room_id: str, owner: str, cursor: str, until_ms: int) -> bool:
        return await self._call(room_id, "advance", owner, 0, until_ms, cursor) == 1

    @guarded
    async def failed(self, room_id: str, owner: str, until_ms: int, error: str) -> int:
        return int(await self._call(room_id, "fail", owner, 0, until_ms, error))

    @guarded
    async def status(self, room_ids: Sequence[str]) -> list[Delivery]:
        async with self._client.pipeline(transaction=False) as pipe:
            for room_id in room_ids:
                pipe.hmget(self._keys.webhook(room_id), "cursor", "failures", "error", "until")
            rows = await pipe.execute()
        return [
            Delivery(
                room_id,
                text(cursor) if cursor else START,
                int(failures or 0),
                text(error) if error else "",
                int(until or 0),
            )
            for room_id, (cursor, failures, error, until) in zip(room_ids, rows, strict=True)
        ]

    @guarded
    async def hold(self, room_id: str, owner: str, until_ms: int) -> bool:
        return await self._call(room_id, "hold", owner, 0, until_ms) == 1

    async def _call(self, room_id: str, op: str, owner: str, now_ms: int, *rest: object) -> Any:
        keys = [self._keys.webhook(room_id)]
        return await self._lease(keys=keys, args=[op, owner, now_ms, *rest])
