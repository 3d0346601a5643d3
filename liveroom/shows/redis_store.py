"""Shows in Redis: a room's show and subscribers in its slot (keys.ShowKeys), the
lifecycle moved by one compare-and-set script (show_transition.lua); series are
merchant-level records under global keys (see keys.py)."""

from __future__ import annotations

import json

from liveroom.redis import RedisLayer
from liveroom.redis.guard import guarded
from liveroom.redis.replies import text
from liveroom.rules import show as rules
from liveroom.shows.model import Series, Show
from liveroom.shows.store import NO_SHOW, ShowStore, Subscriber, refused, subscriber_info


def _show(room_id: str, row: list[bytes | None]) -> Show | None:
    rec, status, started_at, ended_at = row
    if status is None:
        return None
    lifecycle = "" if text(status) == NO_SHOW else text(status)
    return Show.from_record(
        room_id, text(rec or b""), lifecycle, int(started_at or 0), int(ended_at or 0)
    )


class RedisShowStore(ShowStore):
    def __init__(self, redis: RedisLayer) -> None:
        self.client = redis.client
        self._keys = redis.keys
        self._transition = redis.script("show_transition")
        self._subscribe = redis.script("show_subscribe")

    async def _read(self, room_id: str) -> Show | None:
        key = self._keys.show(room_id).show
        return _show(
            room_id, await self.client.hmget(key, "rec", "status", "started_at", "ended_at")
        )

    @guarded
    async def get(self, room_id: str) -> Show | None:
        return await self._read(room_id)

    @guarded
    async def transition(
        self, room_id: str, target: str, now: int, show: Show | None = None
    ) -> tuple[Show, str]:
        sources = [s or NO_SHOW for s in rules.TRANSITIONS[target]]
        outcome, was = await self._transition(
            keys=[self._keys.show(room_id).show],
            args=[target, now, show.rec() if show else "", Show(room_id).rec(), *sources],
        )
        was = "" if text(was) == NO_SHOW else text(was)
        if text(outcome) != "ok":
            raise refused(was, target)
        moved = await self._read(room_id)
        assert moved is not None
        return moved, was

    @guarded
    async def put_settings(self, show: Show) -> None:
        key = self._keys.show(show.room_id).show
        async with self.client.pipeline(transaction=True) as tx:
            tx.hsetnx(key, "status", NO_SHOW)
            tx.hset(key, "rec", show.rec())
            await tx.execute()

    @guarded
    async def subscribe(self, room_id: str, sub: Subscriber) -> bool:
        k = self._keys.show(room_id)
        info = json.dumps(subscriber_info(sub), ensure_ascii=False)
        added = await self._subscribe(
            keys=[k.subscribers, k.subscriber_order], args=[sub.uid, info]
        )
        return bool(int(added))

    @guarded
    async def is_subscribed(self, room_id: str, uid: str) -> bool:
        return bool(await self.client.hexists(self._keys.show(room_id).subscribers, uid))

    @guarded
    async def subscribers(
        self, room_id: str, offset: int, count: int
    ) -> tuple[list[Subscriber], int]:
        k = self._keys.show(room_id)
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.lrange(k.subscriber_order, offset, offset + count - 1)
            pipe.llen(k.subscriber_order)
            uids, total = await pipe.execute()
        uids = [text(u) for u in uids]
        rows = await self.client.hmget(k.subscribers, uids) if uids else []
        out = []
        for uid, raw in zip(uids, rows, strict=True):
            info = json.loads(text(raw)) if raw else {"ts": 0}
            out.append(Subscriber(uid, **info))
        return out, int(total)

    @guarded
    async def put_series(self, series: Series) -> None:
        await self.client.hset(self._keys.series, series.series_id, series.to_json())

    @guarded
    async def get_series(self, series_id: str) -> Series | None:
        raw = await self.client.hget(self._keys.series, series_id)
        return Series.from_json(text(raw)) if raw else None

    @guarded
    async def list_series(self) -> list[Series]:
        rows = await self.client.hgetall(self._keys.series)
        return sorted((Series.from_json(text(v)) for v in rows.values()), key=lambda s: s.series_id)

    @guarded
    async def delete_series(self, series_id: str) -> bool:
        return bool(await self.client.hdel(self._keys.series, series_id))

    @guarded
    async def add_episode(self, series_id: str, room_id: str, starts_at: int) -> None:
        await self.client.zadd(self._keys.series_episodes(series_id), {room_id: starts_at}, nx=True)

    @guarded
    async def episodes(self, series_id: str) -> list[tuple[str, int]]:
        rows = await self.client.zrange(
            self._keys.series_episodes(series_id), 0, -1, withscores=True
        )
        return [(text(room), int(score)) for room, score in rows]
