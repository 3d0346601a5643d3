"""Flash sales: products, the room's shopping bag, sales, holds and checkout.

`create_store` picks the store that matches the engine, so a deployment configures Redis
once (LIVEROOM_REDIS_URL) and rooms and sales live side by side under one key prefix.
"""

from __future__ import annotations

from liveroom.engine.base import Engine
from liveroom.sales.store import SaleStore


def create_store(engine: Engine) -> SaleStore:
    settings = engine.settings
    ttl = max(settings.dedup_ttl_s, 600)
    if engine.name == "redis" or settings.redis_url:
        from liveroom.sales.redis_store import RedisSaleStore

        # Own client (same URL): sale calls need decoded replies and short timeouts so a
        # Redis outage becomes a quick retryable answer instead of a hung grab.
        return RedisSaleStore.from_url(settings.redis_url, settings.key_prefix, ttl)
    from liveroom.sales.memory_store import MemorySaleStore

    return MemorySaleStore(answer_ttl_s=ttl)
