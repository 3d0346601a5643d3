"""The stores a process with a given engine has: on Redis, on the engine's Redis layer, as
liveroom/node.py builds them."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from liveroom.analytics.redis_store import RedisAnalyticsStore
from liveroom.coupons.redis_store import RedisTemplateStore
from liveroom.draws.memory_store import MemoryDrawStore
from liveroom.draws.redis_store import RedisDrawStore
from liveroom.draws.store import DrawStore
from liveroom.engine import create_engine
from liveroom.engine.base import Engine
from liveroom.engine.redis import RedisEngine
from liveroom.integrations.wecom import RedisPacer
from liveroom.jobs.redis_store import RedisJobStore
from liveroom.merchant.nonces import RedisNonces
from liveroom.redis import RedisLayer
from liveroom.sales.redis_store import RedisSaleStore
from liveroom.settings import Settings
from liveroom.shows.redis_store import RedisShowStore
from liveroom.stream.base import CommerceStream
from liveroom.stream.memory import MemoryStream
from liveroom.stream.redis import RedisStream
from liveroom.webhooks.memory_store import MemoryWebhookStore
from liveroom.webhooks.redis_store import RedisWebhookStore
from liveroom.webhooks.store import WebhookStore


def draw_store_for(engine: Engine) -> DrawStore:
    if isinstance(engine, RedisEngine):
        return RedisDrawStore(engine.redis)
    return MemoryDrawStore()


@contextlib.asynccontextmanager
async def second_process(engine: Engine) -> AsyncIterator[Engine | None]:
    """Another process's engine on the same Redis (its own connections), for contract
    tests of what two processes see; None on the memory engine, whose one process is all
    there is (its store is shared as it is)."""
    if engine.name == "memory":
        yield None
        return
    second = create_engine(engine.settings)
    await second.start()
    try:
        yield second
    finally:
        await second.close()


def webhook_store_for(engine: Engine) -> WebhookStore:
    if isinstance(engine, RedisEngine):
        return RedisWebhookStore(engine.redis)
    return MemoryWebhookStore()


def stream_for(engine: Engine) -> CommerceStream:
    if isinstance(engine, RedisEngine):
        return RedisStream(engine.redis)
    return MemoryStream()


class RedisParts:
    """Everything liveroom runs on one Redis layer, as node.py builds it, with a short
    timeout (tests of outages wait for it)."""

    def __init__(self, url: str, prefix: str, cluster: bool = False, **more: object) -> None:
        settings = Settings(
            redis_url=url, key_prefix=prefix, redis_timeout_s=1.0, redis_cluster=cluster
        ).with_(**more)
        self.redis = RedisLayer.from_settings(settings)
        self.engine = RedisEngine(settings, self.redis)
        self.stream = RedisStream(self.redis)
        self.sales = RedisSaleStore(self.redis, self.stream)
        self.templates = RedisTemplateStore(self.redis)
        self.draws = RedisDrawStore(self.redis, self.stream)
        self.nonces = RedisNonces(self.redis)
        self.jobs = RedisJobStore(self.redis)
        self.shows = RedisShowStore(self.redis)
        self.pacer = RedisPacer(self.redis, 20, 60_000)
        self.analytics = RedisAnalyticsStore(self.redis, self.stream)
        self.webhooks = RedisWebhookStore(self.redis)

    async def close(self) -> None:
        await self.engine.close()
        await self.redis.close()
