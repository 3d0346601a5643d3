"""Draws in Redis, shared by every process: entries counted once across all of them,
a draw finished exactly once, and a draw outliving the process that started it.

Keys of a draw carry the room's hash tag, so each script touches one Cluster slot:
  {prefix}:{room}:draw:{id}        hash: rec (JSON of the fixed fields), state, ends_at, closed_at
  {prefix}:{room}:draw:{id}:in     set of entrant uids
  {prefix}:{room}:draw:{id}:nick   hash uid -> nick, for announcing winners
  {prefix}:{room}:draws:open       set of open draw ids
  {prefix}:{room}:draws:seen       hash uid -> first-seen unix ms (watch-time eligibility)
  {prefix}:{room}:draws:won:{uid}  list of the draw ids uid won lately (re-sent on rejoin)
Outside any room:
  {prefix}:draws:due               sorted set "room/draw" by ends_at, until announced:
                                   what the sweepers close (or announce, if the closer died)
Draw results go to the room's commerce event stream, kept by the sales store.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis import exceptions as rexc

from liveroom.draws.store import Draw, DrawStore, EnterResult, Joined, OpenView
from liveroom.errors import Unavailable
from liveroom.rules import draw as rules

KEEP_FINISHED_S = 30 * 86400  # the public endpoint serves a finished draw this long
SEEN_TTL_S = 2 * 86400
WINS_KEPT = 5
WINS_TTL_S = 7 * 86400  # as long as a claim ticket lives

# The same test as rules.entry_refusal: only an OPEN draw before its end takes entries.
_ENTER = """
local st = redis.call('HMGET', KEYS[1], 'state', 'ends_at')
if not st[1] then return {-1, 0} end
if st[1] ~= 'open' or tonumber(ARGV[3]) >= tonumber(st[2]) then
  return {-2, redis.call('SCARD', KEYS[2])}
end
local added = redis.call('SADD', KEYS[2], ARGV[1])
if added == 1 then redis.call('HSET', KEYS[3], ARGV[1], ARGV[2]) end
return {added, redis.call('SCARD', KEYS[2])}
"""

# Compare-and-set out of OPEN: whoever runs this first finishes the draw; the rest get 0.
_FINISH = """
if redis.call('HGET', KEYS[1], 'state') ~= 'open' then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'closed_at', ARGV[2])
redis.call('SREM', KEYS[4], ARGV[3])
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[4]) end
return 1
"""


# Draws share the engine's connection pool: a burst of entries queues here rather than
# taking the connections that comments and joins need.
MAX_IN_FLIGHT = 16

T = TypeVar("T")
_DOWN = (rexc.ConnectionError, rexc.TimeoutError, OSError)


def _gated(fn: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    @functools.wraps(fn)
    async def run(self: RedisDrawStore, *args: Any, **kwargs: Any) -> T:
        async with self._gate:
            try:
                return await fn(self, *args, **kwargs)
            except _DOWN as exc:  # the one error callers handle, as for the engine
                raise Unavailable(f"redis unavailable: {exc}") from exc

    return run


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _draw(row: list[Any]) -> Draw | None:
    """A draw from HMGET rec, state, closed_at."""
    rec, state, closed_at = row
    if rec is None:
        return None
    return Draw.from_record(_s(rec), _s(state), int(closed_at or 0))


class RedisDrawStore(DrawStore):
    def __init__(self, client: Any, prefix: str) -> None:
        self.redis = client
        self.prefix = prefix
        self._enter = client.register_script(_ENTER)
        self._finish = client.register_script(_FINISH)
        self._gate = asyncio.Semaphore(MAX_IN_FLIGHT)

    def _room(self, room_id: str, name: str) -> str:
        return f"{self.prefix}:{{{room_id}}}:{name}"

    def _keys(self, room_id: str, draw_id: str) -> tuple[str, str, str]:
        base = self._room(room_id, f"draw:{draw_id}")
        return base, f"{base}:in", f"{base}:nick"

    @property
    def _due(self) -> str:
        return f"{self.prefix}:draws:due"

    @_gated
    async def create(self, d: Draw) -> None:
        rec, _, _ = self._keys(d.room_id, d.id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hsetnx(rec, "rec", d.to_record())
            pipe.hset(rec, mapping={"state": d.state, "ends_at": d.ends_at, "closed_at": 0})
            pipe.sadd(self._room(d.room_id, "draws:open"), d.id)
            created, *_ = await pipe.execute()
        if not created:
            raise ValueError(f"draw {d.id} exists")
        await self.redis.zadd(self._due, {f"{d.room_id}/{d.id}": d.ends_at})

    @_gated
    async def get(self, room_id: str, draw_id: str) -> Draw | None:
        return await self._read(room_id, draw_id)

    async def _read(self, room_id: str, draw_id: str) -> Draw | None:
        return _draw(
            await self.redis.hmget(self._keys(room_id, draw_id)[0], "rec", "state", "closed_at")
        )

    async def open_draws(self, room_id: str) -> list[Draw]:
        ids = sorted(_s(i) for i in await self.redis.smembers(self._room(room_id, "draws:open")))
        draws = [await self.get(room_id, i) for i in ids]
        return [d for d in draws if d is not None and d.state == rules.OPEN]

    @_gated
    async def enter(
        self, room_id: str, draw_id: str, uid: str, nick: str, now_ms: int
    ) -> EnterResult:
        added, count = await self._enter(
            keys=list(self._keys(room_id, draw_id)), args=[uid, nick, now_ms]
        )
        added, count = int(added), int(count)
        if added == -1:
            return EnterResult(code=rules.DRAW_NOT_FOUND, message="no such draw")
        if added == -2:
            code, message = rules.entry_refusal(rules.CLOSED, 0, now_ms) or ("", "")
            return EnterResult(count, code=code, message=message)
        return EnterResult(count, duplicate=added == 0)

    @_gated
    async def count(self, room_id: str, draw_id: str) -> int:
        return int(await self.redis.scard(self._keys(room_id, draw_id)[1]))

    @_gated
    async def entrant_ids(self, room_id: str, draw_id: str) -> list[str]:
        return [_s(u) for u in await self.redis.smembers(self._keys(room_id, draw_id)[1])]

    @_gated
    async def nicks(self, room_id: str, draw_id: str, uids: list[str]) -> dict[str, str]:
        if not uids:
            return {}
        names = await self.redis.hmget(self._keys(room_id, draw_id)[2], uids)
        return {u: _s(n) for u, n in zip(uids, names, strict=True) if n is not None}

    @_gated
    async def has_entered(self, room_id: str, draw_id: str, uid: str) -> bool:
        return bool(await self.redis.sismember(self._keys(room_id, draw_id)[1], uid))

    def _wins_key(self, room_id: str, uid: str) -> str:
        return self._room(room_id, f"draws:won:{uid}")

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
        return [_s(d) for d in await self.redis.lrange(self._wins_key(room_id, uid), 0, -1)]

    @_gated
    async def finish(self, room_id: str, draw_id: str, state: str, now_ms: int) -> Draw | None:
        keys = [*self._keys(room_id, draw_id), self._room(room_id, "draws:open")]
        won = await self._finish(keys=keys, args=[state, now_ms, draw_id, KEEP_FINISHED_S])
        if not int(won):
            return None
        return await self._read(room_id, draw_id)

    @_gated
    async def due(self, now_ms: int) -> list[tuple[str, str]]:
        members = await self.redis.zrangebyscore(self._due, "-inf", now_ms, start=0, num=100)
        out = []
        for m in members:
            room_id, _, draw_id = _s(m).partition("/")
            out.append((room_id, draw_id))
        return out

    @_gated
    async def done(self, room_id: str, draw_id: str) -> None:
        await self.redis.zrem(self._due, f"{room_id}/{draw_id}")

    @_gated
    async def mark_seen(self, room_id: str, uid: str, now_ms: int) -> int:
        key = self._room(room_id, "draws:seen")
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hsetnx(key, uid, now_ms)
            pipe.hget(key, uid)
            pipe.expire(key, SEEN_TTL_S)
            _, first, _ = await pipe.execute()
        return int(first)

    @_gated
    async def first_seen(self, room_id: str, uid: str) -> int | None:
        value = await self.redis.hget(self._room(room_id, "draws:seen"), uid)
        return None if value is None else int(value)

    @_gated
    async def joined(self, room_id: str, uid: str | None, now_ms: int) -> Joined:
        seen = self._room(room_id, "draws:seen")
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.smembers(self._room(room_id, "draws:open"))
            if uid is not None:
                pipe.lrange(self._wins_key(room_id, uid), 0, -1)
                pipe.hsetnx(seen, uid, now_ms)
                pipe.expire(seen, SEEN_TTL_S)
            first = await pipe.execute()
        open_ids = sorted(_s(i) for i in first[0])
        won_ids = [_s(i) for i in first[1]] if uid is not None else []
        async with self.redis.pipeline(transaction=False) as pipe:
            for draw_id in open_ids:
                rec, members, _ = self._keys(room_id, draw_id)
                pipe.hmget(rec, "rec", "state", "closed_at")
                pipe.scard(members)
                pipe.sismember(members, uid or "")
            for draw_id in won_ids:
                pipe.hmget(self._keys(room_id, draw_id)[0], "rec", "state", "closed_at")
            rows = await pipe.execute()
        views = []
        for n in range(len(open_ids)):
            d = _draw(rows[3 * n])
            if d is not None and d.state == rules.OPEN:
                views.append(OpenView(d, int(rows[3 * n + 1]), bool(rows[3 * n + 2])))
        won = [_draw(row) for row in rows[3 * len(open_ids) :]]
        return Joined(views, [d for d in won if d is not None])
