"""Lucky draws: the store that keeps them (memory or Redis, matching the engine)."""

from __future__ import annotations

from typing import Any

from liveroom.draws.store import DrawStore


def create_store(engine: Any) -> DrawStore:
    """The draw store that lives where the engine's room state lives (on Redis it shares
    the engine's client and connection pool)."""
    if engine.name == "redis":
        from liveroom.draws.redis_store import RedisDrawStore

        return RedisDrawStore(engine.client, engine.settings.key_prefix)
    from liveroom.draws.memory_store import MemoryDrawStore

    return MemoryDrawStore()
