"""Draws in Redis, shared by every process: entries counted once across all of them,
a draw finished exactly once, and a draw outliving the process that started it.

Keys (liveroom/redis/keys.py DrawKeys) carry the room's hash tag, so each script
(liveroom/redis/lua/draw_*.lua) touches one Cluster slot: a draw's record, entrants and
nicks; the room's open draws, first-seen times and recent wins per viewer. One key is
global: `Keys.draws_due`, the draws every process's sweeper closes (or announces, if the
closer died). Draw results go to the room's commerce event stream (liveroom/stream), and
so does each entry, written by the draw_enter script in the same step as the entry.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from liveroom.draws.store import Draw, DrawStore, EnterResult, Joined, OpenView
from liveroom.redis import RedisLayer
from liveroom.redis.guard import guard
from liveroom.redis.keys import DrawKeys
from liveroom.redis.replies import text, texts
from liveroom.rules import draw as rules
from liveroom.stream.redis import RedisStream

KEEP_FINISHED_S = 30 * 86400  # the public endpoint serves a finished draw this long
SEEN_TTL_S = 2 * 86400
WINS_KEPT = 5
WINS_TTL_S = 7 * 86400  # as long as a claim ticket lives

# Draws share the process's connection pool: a burst of entries queues here rather than
# taking the connections that comments and joins need.
MAX_IN_FLIGHT = 16

T = TypeVar("T")


def _gated(fn: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    @functools.wraps(fn)
    async def run(self: RedisDrawStore, *args: Any, **kwargs: Any) -> T:
        async with self._gate:
            with guard():
                return await fn(self, *args, **kwargs)

    return run


# A draw's hash: the record that never changes, and what moves (`unannounced` only until
# the room was told of the start; a draw stored before it existed was told).
FIELDS = ("rec", "state", "closed_at", "unannounced")


def _draw(row: list[Any]) -> Draw | None:
    """A draw from HMGET FIELDS."""
    rec, state, closed_at, unannounced = row
    if rec is None:
        return None
    return Draw.from_record(text(rec), text(state), int(closed_at or 0), not unannounced)


class RedisDrawStore(DrawStore):
    def __init__(self, redis: RedisLayer, stream: RedisStream | None = None) -> None:
        """`stream`: the room's commerce stream, where entries are recorded (None: not)."""
        self.redis = redis.client
        self._stream_cap = stream.maxlen if stream is not None else 0
        self._keys = redis.keys
        self._create = redis.script("draw_create")
        self._enter = redis.script("draw_enter")
        self._finish = redis.script("draw_finish")
        self._gate = asyncio.Semaphore(MAX_IN_FLIGHT)

    def _room(self, room_id: str) -> DrawKeys:
        return self._keys.draws(room_id)

    def _draw_keys(self, room_id: str, draw_id: str) -> tuple[str, str, str]:
        k = self._room(room_id)
        return k.draw(draw_id), k.entrants(draw_id), k.nicks(draw_id)

    @_gated
    async def create(self, d: Draw) -> bool:
        rec, _, _ = self._draw_keys(d.room_id, d.id)
        keys = [rec, self._room(d.room_id).open]
        args = [d.to_record(), d.state, d.ends_at, d.id, int(not d.announced)]
        created = await self._create(keys=keys, args=args)
        if not created:
            return False
        await self.redis.zadd(self._keys.draws_due, {f"{d.room_id}/{d.id}": d.ends_at})
        return True

    @_gated
    async def announced(self, room_id: str, draw_id: str) -> None:
        await self.redis.hdel(self._room(room_id).draw(draw_id), "unannounced")

    @_gated
    async def get(self, room_id: str, draw_id: str) -> Draw | None:
        return await self._read(room_id, draw_id)

    async def _read(self, room_id: str, draw_id: str) -> Draw | None:
        key = self._room(room_id).draw(draw_id)
        return _draw(await self.redis.hmget(key, *FIELDS))

    @_gated
    async def open_draws(self, room_id: str) -> list[Draw]:
        ids = sorted(texts(await self.redis.smembers(self._room(room_id).open)))
        draws = [await self._read(room_id, i) for i in ids]
        return [d for d in draws if d is not None and d.state == rules.OPEN]

    @_gated
    async def enter(
        self,
        room_id: str,
        draw_id: str,
        uid: str,
        nick: str,
        now_ms: int,
        src: str = "",
        ref: str = "",
    ) -> EnterResult:
        keys = [*self._draw_keys(room_id, draw_id), self._keys.commerce_stream(room_id)]
        args = [uid, nick, now_ms, self._stream_cap, room_id, draw_id, src, ref]
        added, count = await self._enter(keys=keys, args=args)
        added, count = int(added), int(count)
        if added == -1:
            return EnterResult(code=rules.DRAW_NOT_FOUND, message="no such draw")
        if added == -2:
            code, message = rules.entry_refusal(rules.CLOSED, 0, now_ms) or ("", "")
            return EnterResult(count, code=code, message=message)
        return EnterResult(count, duplicate=added == 0)

    @_gated
    async def count(self, room_id: str, draw_id: str) -> int:
        return int(await self.redis.scard(self._draw_keys(room_id, draw_id)[1]))

    @_gated
    async def entrant_ids(self, room_id: str, draw_id: str) -> list[str]:
        return [text(u) for u in await self.redis.smembers(self._draw_keys(room_id, draw_id)[1])]

    @_gated
    async def nicks(self, room_id: str, draw_id: str, uids: list[str]) -> dict[str, str]:
        if not uids:
            return {}
        names = await self.redis.hmget(self._draw_keys(room_id, draw_id)[2], uids)
        return {u: text(n) for u, n in zip(uids, names, strict=True) if n is not None}

    @_gated
    async def has_entered(self, room_id: str, draw_id: str, uid: str) -> bool:
        return bool(await self.redis.sismember(self._draw_keys(room_id, draw_id)[1], uid))

    def _wins_key(self, room_id: str, uid: str) -> str:
        return self._room(room_id).won(uid)

    @_gated
    async def record_wins(self, room_id: str, draw_id: str, uids: list[str]) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for uid in uids:
                key = self._wins_key(room_id, uid)
                pipe.lrem(key, 0, draw_id)  # a re-announcement must not list it twice
                pipe.lpush(key, draw_id)
                pipe.ltrim(key, 0, WINS_KEPT - 1)
                pipe.expire(key, WINS_TTL_S)
            await pipe.execute()

    @_gated
    async def wins(self, room_id: str, uid: str) -> list[str]:
        return [text(d) for d in await self.redis.lrange(self._wins_key(room_id, uid), 0, -1)]

    @_gated
    async def finish(self, room_id: str, draw_id: str, state: str, now_ms: int) -> Draw | None:
        keys = [*self._draw_keys(room_id, draw_id), self._room(room_id).open]
        won = await self._finish(keys=keys, args=[state, now_ms, draw_id, KEEP_FINISHED_S])
        if not int(won):
            return None
        return await self._read(room_id, draw_id)

    @_gated
    async def due(self, now_ms: int) -> list[tuple[str, str]]:
        members = await self.redis.zrangebyscore(
            self._keys.draws_due, "-inf", now_ms, start=0, num=100
        )
        out = []
        for m in members:
            room_id, _, draw_id = text(m).partition("/")
            out.append((room_id, draw_id))
        return out

    @_gated
    async def done(self, room_id: str, draw_id: str) -> None:
        await self.redis.zrem(self._keys.draws_due, f"{room_id}/{draw_id}")

    @_gated
    async def mark_seen(self, room_id: str, uid: str, now_ms: int) -> int:
        key = self._room(room_id).seen
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hsetnx(key, uid, now_ms)
            pipe.hget(key, uid)
            pipe.expire(key, SEEN_TTL_S)
            _, first, _ = await pipe.execute()
        return int(first)

    @_gated
    async def first_seen(self, room_id: str, uid: str) -> int | None:
        value = await self.redis.hget(self._room(room_id).seen, uid)
        return None if value is None else int(value)

    @_gated
    async def joined(self, room_id: str, uids: Sequence[str | None], now_ms: int) -> list[Joined]:
        seen = self._room(room_id).seen
        viewers = [u for u in uids if u is not None]
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.smembers(self._room(room_id).open)
            for uid in viewers:
                pipe.lrange(self._wins_key(room_id, uid), 0, -1)
                pipe.hsetnx(seen, uid, now_ms)
            if viewers:
                pipe.expire(seen, SEEN_TTL_S)
            first = await pipe.execute()
        open_ids = sorted(text(i) for i in first[0])
        won_ids = {uid: [text(i) for i in first[1 + 2 * n]] for n, uid in enumerate(viewers)}
        every_won = sorted({i for ids in won_ids.values() for i in ids})
        members = sorted(set(viewers))
        async with self.redis.pipeline(transaction=False) as pipe:
            for draw_id in open_ids:
                rec, entrants, _ = self._draw_keys(room_id, draw_id)
                pipe.hmget(rec, *FIELDS)
                pipe.scard(entrants)
                if members:
                    pipe.smismember(entrants, members)
            for draw_id in every_won:
                pipe.hmget(self._draw_keys(room_id, draw_id)[0], *FIELDS)
            rows = iter(await pipe.execute())
        shown: list[tuple[Draw, int, set[str]]] = []
        for _ in open_ids:
            d, count = _draw(next(rows)), int(next(rows))
            inside = next(rows) if members else []
            if d is not None and d.state == rules.OPEN:
                shown.append((d, count, {m for m, hit in zip(members, inside, strict=True) if hit}))
        won = {draw_id: _draw(next(rows)) for draw_id in every_won}
        out = []
        for uid in uids:
            views = [OpenView(d, count, uid in entered) for d, count, entered in shown]
            mine = [won[i] for i in won_ids.get(uid, [])] if uid is not None else []
            out.append(Joined(views, [d for d in mine if d is not None]))
        return out
