"""Lucky draws: the store that keeps them (memory or Redis, matching the engine)."""

from __future__ import annotations

from typing import Any

from liveroom.draws.store import DrawStore


def _redis_client(engine: Any) -> Any:
    for attr in ("redis", "client", "_redis"):
        client = getattr(engine, attr, None)
        if client is not None and hasattr(client, "register_script"):
            return client
    raise RuntimeError("the Redis engine exposes no redis.asyncio client")


def create_store(engine: Any) -> DrawStore:
    """The draw store that lives where the engine's room state lives."""
    if engine.name == "redis":
        from liveroom.draws.redis_store import RedisDrawStore

        return RedisDrawStore(_redis_client(engine), engine.settings.key_prefix)
    from liveroom.draws.memory_store import MemoryDrawStore

    return MemoryDrawStore()
