"""The analytics store in Redis, shared by every process.

A room's keys (liveroom/redis/keys.py AnalyticsKeys) carry its hash tag: its share codes,
its viewers' first touches, and its figures (per table a hash of counters and a sorted set
of marks). A flush changes the figures and appends its `activity` record to the room's
commerce stream in one MULTI (all in the room's slot), so the figures never count what the
stream does not hold. Marks use ZADD GT / LT: the highest peak and the earliest start win
whichever process writes last, with no script.

Viewer profiles are global (`Keys.viewer`, `Keys.viewers_seen`, `Keys.viewers_spend`): a
profile outlives its shows. They change in one plain pipeline per flush (never a
transaction), so a cluster client can split it by slot: per viewer one `analytics_profile`
script on the profile's one key, and the index updates beside it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from liveroom.analytics.store import SEEN, AnalyticsStore, TouchAsk
from liveroom.redis import RedisLayer
from liveroom.redis.guard import guarded
from liveroom.redis.replies import text, text_map, texts
from liveroom.redis.scripts import run_pipeline
from liveroom.rules.attribution import FIG, Delta, Figures, ShareCode, Touch
from liveroom.rules.segments import Profile, ProfileDelta
from liveroom.stream.events import encode
from liveroom.stream.redis import RedisStream

_NOT_COUNTERS = ("first_seen", "last_seen", "last_room")


class RedisAnalyticsStore(AnalyticsStore):
    name = "redis"

    def __init__(self, redis: RedisLayer, stream: RedisStream) -> None:
        self.stream: RedisStream = stream
        self._client = redis.client
        self._keys = redis.keys
        self._profile = redis.script("analytics_profile")

    # share codes ------------------------------------------------------------------------
    @guarded
    async def add_code(self, code: ShareCode) -> bool:
        key = self._keys.analytics(code.room_id).codes
        return bool(await self._client.hsetnx(key, code.code, code.to_json()))

    @guarded
    async def code(self, room_id: str, code: str) -> ShareCode | None:
        raw = await self._client.hget(self._keys.analytics(room_id).codes, code)
        return ShareCode.from_json(raw) if raw else None

    @guarded
    async def codes(self, room_id: str) -> list[ShareCode]:
        raw = await self._client.hvals(self._keys.analytics(room_id).codes)
        return sorted((ShareCode.from_json(r) for r in raw), key=lambda c: c.created_at)

    # first touches --------------------------------------------------------------------
    @guarded
    async def touches(
        self, room_id: str, asks: Sequence[TouchAsk], ttl_s: int
    ) -> list[tuple[Touch, bool]]:
        key = self._keys.analytics(room_id).touches
        async with self._client.pipeline(transaction=True) as tx:
            for ask in asks:
                if ask.keep:
                    tx.hsetnx(key, ask.uid, ask.touch.encode())
                tx.hget(key, ask.uid)
            if any(ask.keep for ask in asks):
                tx.expire(key, ttl_s)
            replies = iter(await tx.execute())
        out = []
        for ask in asks:
            created = bool(next(replies)) if ask.keep else False
            kept = next(replies)
            out.append((ask.touch if kept is None else Touch.decode(text(kept)), created))
        return out

    # figures ----------------------------------------------------------------------------
    @guarded
    async def apply(
        self, room_id: str, delta: Delta, activity: Mapping[str, Any] | None = None
    ) -> None:
        k = self._keys.analytics(room_id)
        entry = encode(room_id, "activity", activity) if activity is not None else None
        async with self._client.pipeline(transaction=True) as tx:
            for (table, name), n in delta.counts.items():
                tx.hincrby(k.table(table), name, n)
            for marks, flag in ((delta.highs, "gt"), (delta.lows, "lt")):
                by_table: dict[str, dict[str, int]] = {}
                for (table, name), value in marks.items():
                    by_table.setdefault(table, {})[name] = value
                for table, mapping in by_table.items():
                    tx.zadd(k.marks(table), mapping, **{flag: True})  # type: ignore[arg-type]
            if entry is not None:
                tx.xadd(
                    self.stream.key(room_id), entry, maxlen=self.stream.maxlen, approximate=True
                )
            await tx.execute()

    @guarded
    async def figures(self, room_id: str, tables: Sequence[str] = (FIG,)) -> Figures:
        k = self._keys.analytics(room_id)
        async with self._client.pipeline(transaction=False) as pipe:
            for table in tables:
                pipe.hgetall(k.table(table)).zrange(k.marks(table), 0, -1, withscores=True)
            replies = await pipe.execute()
        out = Figures()
        for i, table in enumerate(tables):
            counts, marks = replies[2 * i], replies[2 * i + 1]
            if counts:
                out.counts[table] = {text(f): int(v) for f, v in counts.items()}
            if marks:
                out.marks[table] = {text(f): int(v) for f, v in marks}
        return out

    @guarded
    async def replace(self, room_id: str, figures: Figures) -> None:
        k = self._keys.analytics(room_id)
        tables = set(figures.counts) | set(figures.marks)
        async with self._client.pipeline(transaction=True) as tx:
            for table in tables:
                tx.delete(k.table(table), k.marks(table))
                if figures.counts.get(table):
                    tx.hset(k.table(table), mapping=figures.counts[table])
                if figures.marks.get(table):
                    tx.zadd(k.marks(table), figures.marks[table])  # type: ignore[arg-type]
            await tx.execute()

    @guarded
    async def known(self, room_id: str) -> bool:
        k = self._keys.analytics(room_id)
        return bool(await self._client.exists(k.table(FIG), k.marks(FIG), k.codes))

    # viewer profiles --------------------------------------------------------------------
    @guarded
    async def add_profiles(self, deltas: Mapping[str, ProfileDelta]) -> None:
        if not deltas:
            return
        keys = self._keys
        async with self._client.pipeline(transaction=False) as pipe:
            for uid, d in deltas.items():
                args: list[Any] = [d.seen, d.room]
                for name, n in d.counts.items():
                    args += [name, n]
                self._profile.queue(pipe, [keys.viewer(uid)], args)
                spend = d.counts.get("spend_fen", 0)
                if spend:
                    pipe.zincrby(keys.viewers_spend, spend, uid)
                if d.seen:
                    pipe.zadd(keys.viewers_seen, {uid: d.seen}, gt=True)
            await run_pipeline(pipe)

    @guarded
    async def profiles(self, uids: Sequence[str]) -> list[Profile | None]:
        if not uids:
            return []
        keys = self._keys
        async with self._client.pipeline(transaction=False) as pipe:
            for uid in uids:
                pipe.hgetall(keys.viewer(uid))
            replies = await pipe.execute()
        out: list[Profile | None] = []
        for uid, reply in zip(uids, replies, strict=True):
            raw = text_map(reply)
            if not raw:
                out.append(None)
                continue
            counts = {f: int(v) for f, v in raw.items() if f not in _NOT_COUNTERS}
            first, last = int(raw.get("first_seen", 0)), int(raw.get("last_seen", 0))
            out.append(Profile(uid, counts, first, last, raw.get("last_room", "")))
        return out

    @guarded
    async def index_range(
        self, index: str, lo: int | None, hi: int | None, offset: int, count: int
    ) -> list[str]:
        key = self._keys.viewers_seen if index == SEEN else self._keys.viewers_spend
        low = "-inf" if lo is None else lo
        high = "+inf" if hi is None else hi
        if index != SEEN and lo is None:
            low = "(0"  # spend: only viewers who spent
        uids = await self._client.zrevrangebyscore(key, high, low, start=offset, num=count)
        return texts(uids)
