"""The sale store in Redis: each state change is one Lua script on the room's keys.

Key layout (B = "<prefix>:{<room_id>}:sale", the hash tag keeps a room in one slot):
  B:s:<sale>        hash: the sale terms + available, held, sold, started, ended_at
  B:s:<sale>:users  hash: uid -> units held or sold
  B:s:<sale>:holds  set of the sale's hold ids
  B:ans:<sale>:<len(uid)>:<uid>:<request id>  the kept grab answer (string, TTL)
  B:h:<hold>        hash: the hold
  B:due             zset: hold id -> expires_at (what the sweeper looks at)
  B:timers          zset: sale id -> next start/end transition
  B:orders          hash: order id -> hold id (confirm idempotency)
  B:sales           zset: sale id -> created_at
  B:bag, B:clicks   list of pinned skus, hash sku -> clicks
  B:events          stream: the room's commerce events (consumer groups welcome): sale and
                    hold changes from the scripts, draw results and joins via append_event
and two deployment-wide keys: "<prefix>:sale:rooms" (rooms the sweeper visits) and
"<prefix>:products" (sku -> product JSON).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import redis.asyncio as aioredis
from redis import exceptions as rexc

from liveroom.errors import Unavailable
from liveroom.rules import sale as rules
from liveroom.rules.sale import (
    CheckoutOutcome,
    GrabOutcome,
    Hold,
    Product,
    Refusal,
    Sale,
    SaleConfig,
    SweepResult,
)
from liveroom.sales.store import (
    GrabRequest,
    SaleStore,
    event_fields,
    new_id,
    normalize_event,
)

LUA = Path(__file__).parent / "lua"
_COMMON = (LUA / "_common.lua").read_text()


def _lua_constant(name: str) -> int:
    found = re.search(rf"local {name} = (\d+)", _COMMON)
    assert found, f"{name} missing from _common.lua"
    return int(found.group(1))


# One cap for the stream, whoever writes to it: the scripts' own constant.
EVENTS_MAXLEN = _lua_constant("EVENTS_MAXLEN")
MAX_CONNECTIONS = 32
_UNAVAILABLE = (rexc.ConnectionError, rexc.TimeoutError, TimeoutError, ConnectionError)

P = ParamSpec("P")
T = TypeVar("T")


def _guarded(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Turn "Redis is away" into Unavailable, which callers answer as retryable."""

    @wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await fn(*args, **kwargs)
        except _UNAVAILABLE as exc:
            raise Unavailable(str(exc) or type(exc).__name__) from exc
        except rexc.ResponseError as exc:
            if "LOADING" in str(exc) or "MASTERDOWN" in str(exc):
                raise Unavailable(str(exc)) from exc
            raise

    return wrapper


def _hold(data: dict[str, Any]) -> Hold:
    return Hold(
        hold_id=data["hold_id"],
        room_id=data["room_id"],
        sale_id=data["sale_id"],
        uid=data["uid"],
        qty=int(data["qty"]),
        price_fen=int(data["price_fen"]),
        sku=data["sku"],
        created_at=int(data["created_at"]),
        expires_at=int(data["expires_at"]),
        status=data["status"],
        order_id=data.get("order_id", ""),
        request_id=data.get("request_id", ""),
        ended_at=int(data.get("ended_at", 0) or 0),
        src=data.get("src", ""),
    )


_CFG_INTS = (
    "price_fen",
    "stock",
    "limit_per_user",
    "starts_at",
    "hold_s",
    "ends_at",
    "early_access_s",
    "created_at",
)


def _cfg_fields(cfg: SaleConfig) -> list[str]:
    out: list[str] = []
    for name, value in vars(cfg).items():
        out += [name, json.dumps(list(value)) if name == "member_tiers" else str(value)]
    return out


def _sale(data: dict[str, str]) -> Sale:
    kw: dict[str, Any] = {
        k: data.get(k, "") for k in SaleConfig.__dataclass_fields__ if k not in _CFG_INTS
    }
    kw.update({k: int(data[k]) for k in _CFG_INTS})
    kw["member_tiers"] = tuple(json.loads(data["member_tiers"]))
    return Sale(
        SaleConfig(**kw),
        available=int(data["available"]),
        held=int(data["held"]),
        sold=int(data["sold"]),
        started=data.get("started") == "1",
        ended_at=int(data.get("ended_at", 0) or 0),
    )


def _refusal(answer: dict[str, Any]) -> Refusal:
    def opt(name: str) -> int | None:
        return int(answer[name]) if name in answer else None

    return Refusal(
        answer["refused"],
        available=opt("available"),
        limit_left=opt("limit_left"),
        starts_at=opt("starts_at"),
    )


class RedisSaleStore(SaleStore):
    name = "redis"

    def __init__(self, client: aioredis.Redis, prefix: str, answer_ttl_s: int = 600) -> None:
        """`client` must decode responses (decode_responses=True)."""
        self.r = client
        self.prefix = prefix
        self.answer_ttl_s = answer_ttl_s
        self._scripts = {
            name: client.register_script(_COMMON + "\n" + (LUA / f"{name}.lua").read_text())
            for name in ("grab", "confirm", "cancel", "sweep", "create_sale", "end_sale")
        }

    @classmethod
    def from_url(cls, url: str, prefix: str, answer_ttl_s: int = 600) -> RedisSaleStore:
        # A blocking pool: a grab burst queues for a connection instead of failing with
        # "too many connections"; only a real outage turns into a retryable answer.
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            decode_responses=True,
            max_connections=MAX_CONNECTIONS,
            timeout=5,
            socket_timeout=5,
            socket_connect_timeout=2,
        )
        return cls(aioredis.Redis.from_pool(pool), prefix, answer_ttl_s)

    async def close(self) -> None:
        await self.r.aclose()

    def _base(self, room_id: str) -> str:
        return f"{self.prefix}:{{{room_id}}}:sale"

    async def _run(self, name: str, room_id: str, *args: Any) -> Any:
        return await self._scripts[name](keys=[self._base(room_id)], args=list(args))

    # products and the bag ---------------------------------------------------------------------
    @property
    def _products(self) -> str:
        return f"{self.prefix}:products"

    @_guarded
    async def put_product(self, product: Product) -> None:
        await self.r.hset(self._products, product.sku, json.dumps(product.public()))

    @_guarded
    async def get_product(self, sku: str) -> Product | None:
        raw = await self.r.hget(self._products, sku)
        return Product(**json.loads(raw)) if raw else None

    @_guarded
    async def list_products(self) -> list[Product]:
        raw = await self.r.hgetall(self._products)
        return [Product(**json.loads(raw[k])) for k in sorted(raw)]

    @_guarded
    async def delete_product(self, sku: str) -> bool:
        return bool(await self.r.hdel(self._products, sku))

    @_guarded
    async def pin(self, room_id: str, sku: str) -> list[str]:
        key = self._base(room_id) + ":bag"
        # remove-then-append in one transaction keeps a re-pin from duplicating
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.lrem(key, 0, sku).rpush(key, sku).lrange(key, 0, -1)
            *_, bag = await pipe.execute()
        return bag

    @_guarded
    async def unpin(self, room_id: str, sku: str) -> list[str]:
        key = self._base(room_id) + ":bag"
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.lrem(key, 0, sku).lrange(key, 0, -1)
            _, bag = await pipe.execute()
        return bag

    @_guarded
    async def bag(self, room_id: str) -> list[str]:
        return await self.r.lrange(self._base(room_id) + ":bag", 0, -1)

    @_guarded
    async def count_click(self, room_id: str, sku: str) -> int:
        return await self.r.hincrby(self._base(room_id) + ":clicks", sku, 1)

    @_guarded
    async def clicks(self, room_id: str) -> dict[str, int]:
        raw = await self.r.hgetall(self._base(room_id) + ":clicks")
        return {k: int(v) for k, v in raw.items()}

    # sales --------------------------------------------------------------------------------------
    @_guarded
    async def create_sale(self, cfg: SaleConfig) -> Sale:
        await self.r.sadd(f"{self.prefix}:sale:rooms", cfg.room_id)
        created = await self._run(
            "create_sale", cfg.room_id, cfg.sale_id, cfg.created_at, *_cfg_fields(cfg)
        )
        if not created:
            raise rules.SaleError("sale_exists", f"sale {cfg.sale_id} already exists")
        sale = await self.get_sale(cfg.room_id, cfg.sale_id)
        assert sale is not None
        return sale

    @_guarded
    async def get_sale(self, room_id: str, sale_id: str) -> Sale | None:
        data = await self.r.hgetall(f"{self._base(room_id)}:s:{sale_id}")
        return _sale(data) if data else None

    @_guarded
    async def list_sales(self, room_id: str) -> list[Sale]:
        ids = await self.r.zrange(self._base(room_id) + ":sales", 0, -1)
        if not ids:
            return []
        async with self.r.pipeline(transaction=False) as pipe:
            for sale_id in ids:
                pipe.hgetall(f"{self._base(room_id)}:s:{sale_id}")
            return [_sale(data) for data in await pipe.execute() if data]

    @_guarded
    async def shop(self, room_id: str) -> tuple[list[Product], list[Sale]]:
        base = self._base(room_id)
        async with self.r.pipeline(transaction=False) as pipe:
            pipe.lrange(base + ":bag", 0, -1).zrange(base + ":sales", 0, -1)
            skus, sale_ids = await pipe.execute()
        if not skus and not sale_ids:
            return [], []
        async with self.r.pipeline(transaction=False) as pipe:
            if skus:
                pipe.hmget(self._products, skus)
            for sale_id in sale_ids:
                pipe.hgetall(f"{base}:s:{sale_id}")
            replies = await pipe.execute()
        raw_products = replies.pop(0) if skus else []
        products = [Product(**json.loads(raw)) for raw in raw_products if raw]
        return products, [_sale(data) for data in replies if data]

    @_guarded
    async def end_sale(self, room_id: str, sale_id: str, now: int) -> Sale | None:
        if await self._run("end_sale", room_id, sale_id, now) == -1:
            return None
        return await self.get_sale(room_id, sale_id)

    async def grab(
        self,
        room_id: str,
        sale_id: str,
        uid: str,
        tier: str,
        qty: int,
        request_id: str,
        now: int,
        src: str = "",
    ) -> GrabOutcome:
        [outcome] = await self.grab_many(
            room_id, [GrabRequest(sale_id, uid, tier, qty, request_id, src)], now
        )
        return outcome

    @_guarded
    async def grab_many(
        self, room_id: str, requests: list[GrabRequest], now: int
    ) -> list[GrabOutcome]:
        args: list[Any] = [now, self.answer_ttl_s]
        for r in requests:
            args += [r.sale_id, r.uid, r.tier, r.qty, r.request_id, new_id("h"), r.src]
        flat = await self._run("grab", room_id, *args)
        out = []
        for kept, raw in zip(flat[::2], flat[1::2], strict=True):
            answer = json.loads(raw)
            if "hold" in answer:
                out.append(GrabOutcome(hold=_hold(answer["hold"]), duplicate=bool(kept)))
            else:
                out.append(GrabOutcome(refusal=_refusal(answer), duplicate=bool(kept)))
        return out

    @_guarded
    async def get_hold(self, room_id: str, hold_id: str) -> Hold | None:
        data = await self.r.hgetall(f"{self._base(room_id)}:h:{hold_id}")
        return _hold(data) if data else None

    def _checkout(self, outcome: str, raw: str) -> CheckoutOutcome:
        hold = _hold(json.loads(raw)) if raw else None
        if outcome == "ok":
            return CheckoutOutcome(hold=hold)
        if outcome == "duplicate":
            return CheckoutOutcome(hold=hold, duplicate=True)
        return CheckoutOutcome(hold=hold, error=outcome)

    @_guarded
    async def confirm(self, room_id: str, hold_id: str, order_id: str, now: int) -> CheckoutOutcome:
        outcome, raw = await self._run("confirm", room_id, hold_id, order_id, now)
        return self._checkout(outcome, raw)

    @_guarded
    async def cancel(self, room_id: str, hold_id: str, now: int) -> CheckoutOutcome:
        outcome, raw = await self._run("cancel", room_id, hold_id, now)
        return self._checkout(outcome, raw)

    @_guarded
    async def sweep(self, room_id: str, now: int, limit: int = 200) -> SweepResult:
        data = json.loads(await self._run("sweep", room_id, now, limit))
        # cjson writes an empty Lua table as {}, not []
        return SweepResult(
            expired=[_hold(h) for h in data["expired"] or []],
            started=list(data["started"] or []),
            ended=list(data["ended"] or []),
        )

    @_guarded
    async def rooms_with_sales(self) -> list[str]:
        return sorted(await self.r.smembers(f"{self.prefix}:sale:rooms"))

    @_guarded
    async def takens(self, room_id: str, sale_id: str) -> dict[str, int]:
        raw = await self.r.hgetall(f"{self._base(room_id)}:s:{sale_id}:users")
        return {u: int(n) for u, n in raw.items() if int(n)}

    @_guarded
    async def holds(self, room_id: str, sale_id: str) -> list[Hold]:
        ids = await self.r.smembers(f"{self._base(room_id)}:s:{sale_id}:holds")
        holds = [await self.get_hold(room_id, hold_id) for hold_id in sorted(ids)]
        return [h for h in holds if h is not None]

    @_guarded
    async def events(self, room_id: str, after: str = "0-0", count: int = 100) -> list[dict]:
        rows = await self.r.xrange(self._base(room_id) + ":events", min=f"({after}", count=count)
        return [normalize_event(event_id, fields) for event_id, fields in rows]

    @_guarded
    async def append_event(self, room_id: str, event_type: str, fields: Mapping[str, Any]) -> str:
        entry = event_fields(room_id, event_type, fields)
        key = self.events_key(room_id)
        try:
            return await self.r.xadd(key, entry, maxlen=EVENTS_MAXLEN, approximate=True)
        except rexc.ConnectionError:
            # A pooled connection left dead by a Redis restart fails once; this append is
            # not a decision (its events are delivered at least once anyway), so it takes
            # a fresh connection and tries again rather than fail a draw's announcement.
            return await self.r.xadd(key, entry, maxlen=EVENTS_MAXLEN, approximate=True)

    def events_key(self, room_id: str) -> str:
        """The stream a merchant backend reads with XREADGROUP."""
        return self._base(room_id) + ":events"
