"""Engine selection: the memory engine unless a Redis URL is configured."""

from __future__ import annotations

from typing import TYPE_CHECKING

from liveroom.engine.base import Engine
from liveroom.settings import Settings

if TYPE_CHECKING:
    from liveroom.redis import RedisLayer


def create_engine(settings: Settings, redis: RedisLayer | None = None) -> Engine:
    """The engine for `settings`; on Redis it uses the process's Redis layer `redis` (or,
    without one, a layer of its own)."""
    if settings.redis_url:
        from liveroom.engine.redis import RedisEngine

        return RedisEngine(settings, redis)
    from liveroom.engine.memory import MemoryEngine

    return MemoryEngine(settings)
