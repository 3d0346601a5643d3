"""The sale store in Redis: each state change is one Lua script on the room's keys.

Keys (liveroom/redis/keys.py SaleKeys, all under the room's sale base "<prefix>:{<room>}:sale",
so a room's sale keys share its slot): each sale's terms and counters, takens and hold ids;
each hold; the kept grab answers; the due holds and timed sales the sweeper looks at; order
ids; the room's sales, bag and clicks. The sale scripts (liveroom/redis/lua/sale_*.lua) get
the base and derive these keys in Lua, and get the room's commerce stream and its cap, to
record each change in the same step. Two keys are global: the catalogue
(`Keys.products`) and the rooms the sweeper visits (`Keys.rooms_with_sales`).

Grabs, payment confirmations and cancellations are acknowledged through
`RedisLayer.call_durably`: with LIVEROOM_REDIS_WAIT_REPLICAS set, only once that many
replicas have them (liveroom/redis/durability.py), so a failover cannot lose a hold or a
payment a client was told about.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from typing import Any

from liveroom.redis import RedisLayer
from liveroom.redis.guard import guarded
from liveroom.redis.replies import text, text_map, texts
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
from liveroom.sales.store import GrabRequest, SaleStore, new_id
from liveroom.settings import Settings
from liveroom.stream.redis import RedisStream


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
        ref=data.get("ref", ""),
        nick=data.get("nick", ""),
        kind=data.get("kind", rules.PRODUCT),
        valid_from=int(data.get("valid_from", 0) or 0),
    )


def _cfg_fields(cfg: SaleConfig) -> list[str]:
    """The terms as hash fields: tuples as JSON lists, booleans as 1 / 0."""
    out: list[str] = []
    for name, value in vars(cfg).items():
        if isinstance(value, tuple):
            text = json.dumps(list(value))
        elif isinstance(value, bool):
            text = "1" if value else "0"
        else:
            text = str(value)
        out += [name, text]
    return out


def _cfg_value(f: dataclasses.Field, raw: str | None) -> Any:
    """A stored term as its field's type; a term missing from an older sale is its default."""
    if raw is None:
        return f.default
    if f.type == "int":
        return int(raw)
    if f.type == "bool":
        return raw == "1"
    if f.type.startswith("tuple"):
        return tuple(json.loads(raw))
    return raw


_CFG_FIELDS = dataclasses.fields(SaleConfig)
READ_CHUNK = 1000  # holds read per pipelined round trip


def _sale(data: dict[str, str]) -> Sale:
    kw = {f.name: _cfg_value(f, data.get(f.name)) for f in _CFG_FIELDS}
    return Sale(
        SaleConfig(**kw),
        available=int(data["available"]),
        held=int(data["held"]),
        sold=int(data["sold"]),
        started=data.get("started") == "1",
        ended_at=int(data.get("ended_at", 0) or 0),
        redeemed=int(data.get("redeemed", 0) or 0),
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

    def __init__(self, redis: RedisLayer, stream: RedisStream, answer_ttl_s: int = 600) -> None:
        self.stream: RedisStream = stream
        self.answer_ttl_s = answer_ttl_s
        self._redis = redis
        self._client = redis.client
        self._keys = redis.keys
        self._owned: RedisLayer | None = None  # a layer of its own, closed with the store
        self._scripts = {
            name: redis.script(f"sale_{name}")
            for name in ("grab", "confirm", "cancel", "sweep", "create", "end")
        }

    @classmethod
    def from_url(
        cls, url: str, prefix: str, answer_ttl_s: int = 600, cluster: bool = False
    ) -> RedisSaleStore:
        """A store with a Redis layer (and stream) of its own, for tests and tools; the
        server builds its stores on the process's one layer (liveroom/node.py)."""
        settings = Settings(redis_url=url, key_prefix=prefix, redis_cluster=cluster)
        redis = RedisLayer.from_settings(settings)
        store = cls(redis, RedisStream(redis), answer_ttl_s)
        store._owned = redis
        return store

    async def close(self) -> None:
        if self._owned is not None:
            await self._owned.close()

    async def _run(self, name: str, room_id: str, *args: Any, durable: bool = False) -> Any:
        keys = [self._keys.sale(room_id).base, self.stream.key(room_id)]
        script, argv = self._scripts[name], [self.stream.maxlen, *args]
        if durable:
            return await self._redis.call_durably(script, room_id, keys, argv)
        return await script(keys=keys, args=argv)

    # products and the bag ---------------------------------------------------------------------
    @guarded
    async def put_product(self, product: Product) -> None:
        await self._client.hset(self._keys.products, product.sku, json.dumps(product.public()))

    @guarded
    async def get_product(self, sku: str) -> Product | None:
        raw = await self._client.hget(self._keys.products, sku)
        return Product(**json.loads(raw)) if raw else None

    @guarded
    async def list_products(self) -> list[Product]:
        raw = text_map(await self._client.hgetall(self._keys.products))
        return [Product(**json.loads(raw[k])) for k in sorted(raw)]

    @guarded
    async def delete_product(self, sku: str) -> bool:
        return bool(await self._client.hdel(self._keys.products, sku))

    @guarded
    async def pin(self, room_id: str, sku: str) -> list[str]:
        key = self._keys.sale(room_id).bag
        # remove-then-append in one transaction keeps a re-pin from duplicating
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.lrem(key, 0, sku).rpush(key, sku).lrange(key, 0, -1)
            *_, bag = await pipe.execute()
        return texts(bag)

    @guarded
    async def unpin(self, room_id: str, sku: str) -> list[str]:
        key = self._keys.sale(room_id).bag
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.lrem(key, 0, sku).lrange(key, 0, -1)
            _, bag = await pipe.execute()
        return texts(bag)

    @guarded
    async def bag(self, room_id: str) -> list[str]:
        return texts(await self._client.lrange(self._keys.sale(room_id).bag, 0, -1))

    @guarded
    async def count_click(self, room_id: str, sku: str) -> int:
        return await self._client.hincrby(self._keys.sale(room_id).clicks, sku, 1)

    @guarded
    async def clicks(self, room_id: str) -> dict[str, int]:
        raw = text_map(await self._client.hgetall(self._keys.sale(room_id).clicks))
        return {k: int(v) for k, v in raw.items()}

    # sales --------------------------------------------------------------------------------------
    @guarded
    async def create_sale(self, cfg: SaleConfig) -> Sale:
        created = await self._run(
            "create", cfg.room_id, cfg.sale_id, cfg.created_at, *_cfg_fields(cfg)
        )
        # after the sale exists: a sweep forgetting the room meanwhile checks again after
        # forgetting it (SalesService._forget_if_idle), so one of the two puts it back
        await self._client.sadd(self._keys.rooms_with_sales, cfg.room_id)
        if not created:
            raise rules.SaleError("sale_exists", f"sale {cfg.sale_id} already exists")
        sale = await self.get_sale(cfg.room_id, cfg.sale_id)
        assert sale is not None
        return sale

    @guarded
    async def get_sale(self, room_id: str, sale_id: str) -> Sale | None:
        data = await self._client.hgetall(self._keys.sale(room_id).sale(sale_id))
        return _sale(text_map(data)) if data else None

    @guarded
    async def list_sales(self, room_id: str) -> list[Sale]:
        k = self._keys.sale(room_id)
        ids = texts(await self._client.zrange(k.sales, 0, -1))
        if not ids:
            return []
        async with self._client.pipeline(transaction=False) as pipe:
            for sale_id in ids:
                pipe.hgetall(k.sale(sale_id))
            return [_sale(text_map(data)) for data in await pipe.execute() if data]

    @guarded
    async def shop(self, room_id: str) -> tuple[list[Product], list[Sale]]:
        k = self._keys.sale(room_id)
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.lrange(k.bag, 0, -1).zrange(k.sales, 0, -1)
            skus, sale_ids = await pipe.execute()
        if not skus and not sale_ids:
            return [], []
        async with self._client.pipeline(transaction=False) as pipe:
            if skus:
                pipe.hmget(self._keys.products, skus)
            for sale_id in sale_ids:
                pipe.hgetall(k.sale(text(sale_id)))
            replies = await pipe.execute()
        raw_products = replies.pop(0) if skus else []
        products = [Product(**json.loads(raw)) for raw in raw_products if raw]
        return products, [_sale(text_map(data)) for data in replies if data]

    @guarded
    async def end_sale(self, room_id: str, sale_id: str, now: int) -> Sale | None:
        if await self._run("end", room_id, sale_id, now) == -1:
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
        ref: str = "",
        nick: str = "",
    ) -> GrabOutcome:
        [outcome] = await self.grab_many(
            room_id, [GrabRequest(sale_id, uid, tier, qty, request_id, src, ref, nick)], now
        )
        return outcome

    @guarded
    async def grab_many(
        self, room_id: str, requests: list[GrabRequest], now: int
    ) -> list[GrabOutcome]:
        args: list[Any] = [now, self.answer_ttl_s]
        for r in requests:
            args += [r.sale_id, r.uid, r.tier, r.qty, r.request_id, new_id("h"), r.src, r.ref]
            args.append(r.nick)
        flat = await self._run("grab", room_id, *args, durable=True)
        out = []
        for kept, raw in zip(flat[::2], flat[1::2], strict=True):
            answer = json.loads(raw)
            if "hold" in answer:
                out.append(GrabOutcome(hold=_hold(answer["hold"]), duplicate=bool(kept)))
            else:
                out.append(GrabOutcome(refusal=_refusal(answer), duplicate=bool(kept)))
        return out

    @guarded
    async def get_hold(self, room_id: str, hold_id: str) -> Hold | None:
        data = await self._client.hgetall(self._keys.sale(room_id).hold(hold_id))
        return _hold(text_map(data)) if data else None

    @guarded
    async def units_of(self, room_id: str, uids: Sequence[str]) -> list[list[Hold]]:
        k = self._keys.sale(room_id)
        async with self._client.pipeline(transaction=False) as pipe:
            for uid in uids:
                pipe.smembers(k.user_units(uid))
            ids = [sorted(texts(members)) for members in await pipe.execute()]
        units = {u.hold_id: u for u in await self._read_holds(room_id, {i for m in ids for i in m})}
        return [
            sorted((units[i] for i in mine if i in units), key=lambda u: (u.created_at, u.hold_id))
            for mine in ids
        ]

    def _checkout(self, reply: list[bytes]) -> CheckoutOutcome:
        outcome, raw = text(reply[0]), reply[1]
        hold = _hold(json.loads(raw)) if raw else None
        if outcome == "ok":
            return CheckoutOutcome(hold=hold)
        if outcome == "duplicate":
            return CheckoutOutcome(hold=hold, duplicate=True)
        return CheckoutOutcome(hold=hold, error=outcome)

    @guarded
    async def confirm(self, room_id: str, hold_id: str, order_id: str, now: int) -> CheckoutOutcome:
        reply = await self._run("confirm", room_id, hold_id, order_id, now, durable=True)
        return self._checkout(reply)

    @guarded
    async def cancel(self, room_id: str, hold_id: str, now: int) -> CheckoutOutcome:
        return self._checkout(await self._run("cancel", room_id, hold_id, now, durable=True))

    @guarded
    async def sweep(
        self, room_id: str, now: int, limit: int = 200, check_idle: bool = False
    ) -> SweepResult:
        data = json.loads(await self._run("sweep", room_id, now, limit, int(check_idle)))
        # cjson writes an empty Lua table as {}, not []
        return SweepResult(
            expired=[_hold(h) for h in data["expired"] or []],
            started=list(data["started"] or []),
            ended=list(data["ended"] or []),
            untold=sorted(data["untold"] or []),
            idle=bool(data["idle"]),
        )

    @guarded
    async def rooms_with_sales(self) -> list[str]:
        return sorted(texts(await self._client.smembers(self._keys.rooms_with_sales)))

    @guarded
    async def forget_room(self, room_id: str) -> None:
        await self._client.srem(self._keys.rooms_with_sales, room_id)

    @guarded
    async def remember_room(self, room_id: str) -> None:
        await self._client.sadd(self._keys.rooms_with_sales, room_id)

    @guarded
    async def told_end(self, room_id: str, sale_id: str) -> None:
        await self._client.srem(self._keys.sale(room_id).untold, sale_id)

    @guarded
    async def takens(self, room_id: str, sale_id: str) -> dict[str, int]:
        raw = text_map(await self._client.hgetall(self._keys.sale(room_id).takens(sale_id)))
        return {u: int(n) for u, n in raw.items() if int(n)}

    @guarded
    async def holds(self, room_id: str, sale_id: str) -> list[Hold]:
        ids = texts(await self._client.smembers(self._keys.sale(room_id).sale_holds(sale_id)))
        return await self._read_holds(room_id, ids)

    async def _read_holds(self, room_id: str, hold_ids: Iterable[str]) -> list[Hold]:
        """The holds (or coupons) of these ids that exist, in id order, a pipelined read of
        READ_CHUNK at a time: a drop of 10,000 claims is ten round trips, not 10,000."""
        k = self._keys.sale(room_id)
        wanted = sorted(hold_ids)
        out: list[Hold] = []
        for start in range(0, len(wanted), READ_CHUNK):
            async with self._client.pipeline(transaction=False) as pipe:
                for hold_id in wanted[start : start + READ_CHUNK]:
                    pipe.hgetall(k.hold(hold_id))
                out += [_hold(text_map(data)) for data in await pipe.execute() if data]
        return out
