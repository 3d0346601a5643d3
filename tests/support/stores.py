"""The stores a process with a given engine has: on Redis, on the engine's Redis layer, as
liveroom/node.py builds them."""

from __future__ import annotations

from liveroom.draws.memory_store import MemoryDrawStore
from liveroom.draws.redis_store import RedisDrawStore
from liveroom.draws.store import DrawStore
from liveroom.engine.base import Engine
from liveroom.engine.redis import RedisEngine
from liveroom.stream.base import CommerceStream
from liveroom.stream.memory import MemoryStream
from liveroom.stream.redis import RedisStream


def draw_store_for(engine: Engine) -> DrawStore:
    if isinstance(engine, RedisEngine):
        return RedisDrawStore(engine.redis)
    return MemoryDrawStore()


def stream_for(engine: Engine) -> CommerceStream:
    if isinstance(engine, RedisEngine):
        return RedisStream(engine.redis)
    return MemoryStream()
