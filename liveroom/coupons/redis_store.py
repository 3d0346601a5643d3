"""Templates in Redis. Keys (liveroom/redis/keys.py): a hash per template (its JSON and
its total, and what drops reserved), the index of template ids, and each template's drops.
All global (a template belongs to no room); a reservation is one script on one key."""

from __future__ import annotations

from liveroom.coupons.store import Reservation, Stored, TemplateStore
from liveroom.redis import RedisLayer
from liveroom.redis.guard import guarded
from liveroom.redis.replies import text_map, texts
from liveroom.rules.coupon import Template, template_from_json, template_json


def _stored(data: dict[str, str]) -> Stored:
    return Stored(template_from_json(data["rec"]), int(data.get("reserved", 0) or 0))


class RedisTemplateStore(TemplateStore):
    name = "redis"

    def __init__(self, redis: RedisLayer) -> None:
        self._client = redis.client
        self._keys = redis.keys
        self._put = redis.script("coupon_put")
        self._reserve = redis.script("coupon_reserve")

    @guarded
    async def put(self, template: Template) -> Stored | None:
        key = self._keys.coupon_template(template.template_id)
        reserved = await self._put(keys=[key], args=[template_json(template), template.total])
        if reserved == -1:
            return None
        await self._client.sadd(self._keys.coupon_templates, template.template_id)
        return Stored(template, int(reserved))

    @guarded
    async def get(self, template_id: str) -> Stored | None:
        data = await self._client.hgetall(self._keys.coupon_template(template_id))
        return _stored(text_map(data)) if data else None

    @guarded
    async def list(self) -> list[Stored]:
        ids = sorted(texts(await self._client.smembers(self._keys.coupon_templates)))
        out = []
        for template_id in ids:  # one key each: on a cluster they lie in different slots
            stored = await self.get(template_id)
            if stored is not None:
                out.append(stored)
        return out

    @guarded
    async def reserve(self, template_id: str, count: int, drop: str = "") -> Reservation:
        ok, left = await self._call("reserve", template_id, count, drop)
        if ok == -1:
            return Reservation(False, 0, found=False)
        return Reservation(ok > 0, left, again=ok == 2)

    @guarded
    async def unreserve(self, template_id: str, count: int, drop: str = "") -> bool:
        return (await self._call("unreserve", template_id, count, drop))[0] == 1

    @guarded
    async def release(self, template_id: str, count: int, once: str = "") -> bool:
        return (await self._call("give_back", template_id, count, once))[0] == 1

    async def _call(self, op: str, template_id: str, count: int, drop: str) -> tuple[int, int]:
        key = self._keys.coupon_template(template_id)
        ok, left = await self._reserve(keys=[key], args=[op, count, drop])
        return int(ok), int(left)

    @guarded
    async def add_drop(self, template_id: str, room_id: str, drop_id: str) -> None:
        await self._client.sadd(self._keys.coupon_drops(template_id), f"{room_id}/{drop_id}")

    @guarded
    async def drops(self, template_id: str) -> list[tuple[str, str]]:
        members = texts(await self._client.smembers(self._keys.coupon_drops(template_id)))
        return sorted(tuple(m.split("/", 1)) for m in members)  # type: ignore[misc]
