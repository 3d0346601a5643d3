"""Engine selection: the memory engine unless a Redis URL is configured."""

from __future__ import annotations

from liveroom.engine.base import Engine
from liveroom.settings import Settings


def create_engine(settings: Settings) -> Engine:
    if settings.redis_url:
        from liveroom.engine.redis import RedisEngine

        return RedisEngine(settings)
    from liveroom.engine.memory import MemoryEngine

    return MemoryEngine(settings)
