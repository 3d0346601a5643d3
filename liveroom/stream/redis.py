"""The commerce stream in Redis: one Redis stream per room, in the room's slot.

Sale and hold events are added by the sale Lua scripts in the same step as the change they
record (they get `key(room_id)` and `maxlen` with each call); everything else comes through
`append`. A merchant backend reads the same key with a consumer group (docs/merchant-api.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from redis import exceptions as rexc

from liveroom.redis import RedisLayer
from liveroom.redis.guard import guarded
from liveroom.redis.replies import text, text_map
from liveroom.stream.base import MAXLEN, CommerceStream
from liveroom.stream.events import decode, encode


class RedisStream(CommerceStream):
    name = "redis"

    def __init__(self, redis: RedisLayer, maxlen: int = MAXLEN) -> None:
        self.maxlen = maxlen  # what the sale scripts get as the stream's cap, too
        self._client = redis.client
        self._keys = redis.keys

    def key(self, room_id: str) -> str:
        """The Redis stream of the room (what the sale scripts get as their stream key)."""
        return self._keys.commerce_stream(room_id)

    @guarded
    async def append_many(
        self, room_id: str, events: Sequence[tuple[str, Mapping[str, Any]]]
    ) -> list[str]:
        entries = [encode(room_id, event_type, fields) for event_type, fields in events]
        key = self.key(room_id)
        try:
            ids = await self._xadd(key, entries)
        except rexc.ConnectionError:
            # A pooled connection left dead by a Redis restart fails once; an append is
            # not a decision (its events are delivered at least once anyway), so it takes
            # a fresh connection and tries again rather than fail a draw's announcement.
            ids = await self._xadd(key, entries)
        if self.listeners:
            for entry in entries:
                self._tell(room_id, entry)
        return [text(event_id) for event_id in ids]

    async def _xadd(self, key: str, entries: list[dict[str, str]]) -> list[Any]:
        if len(entries) == 1:
            return [await self._client.xadd(key, entries[0], maxlen=self.maxlen, approximate=True)]
        async with self._client.pipeline(transaction=False) as pipe:
            for entry in entries:
                pipe.xadd(key, entry, maxlen=self.maxlen, approximate=True)
            return await pipe.execute()

    @guarded
    async def read(self, room_id: str, after: str = "0-0", count: int = 100) -> list[dict]:
        rows = await self._client.xrange(self.key(room_id), min=f"({after}", count=count)
        return [decode(text(event_id), text_map(entry)) for event_id, entry in rows]
