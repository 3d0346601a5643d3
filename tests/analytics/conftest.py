"""Fixtures for the analytics tests: the analytics store on each backend (THE contract
fixture: memory, Redis and a Redis Cluster), each with the commerce stream its activity
records go to."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from liveroom.analytics.memory_store import MemoryAnalyticsStore
from liveroom.analytics.redis_store import RedisAnalyticsStore
from liveroom.analytics.store import AnalyticsStore
from liveroom.redis import RedisLayer
from liveroom.stream.memory import MemoryStream
from liveroom.stream.redis import RedisStream
from tests.conftest import ALL_KINDS, engine_settings

T0 = 1_800_000_000_000  # a fixed "now" in ms


@pytest.fixture(params=ALL_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
async def open_store(
    store_kind: str, redis_url: str, key_prefix: str
) -> AsyncIterator[Callable[[], AnalyticsStore]]:
    """Opens a store on the backend under test; on Redis each one is a process of its own
    (its own connections) over the same data, on memory they are the one store."""
    layers: list[RedisLayer] = []
    memory = MemoryAnalyticsStore(MemoryStream())

    def open_one() -> AnalyticsStore:
        if store_kind == "memory":
            return memory
        layer = RedisLayer.from_settings(engine_settings(store_kind, redis_url, key_prefix))
        layers.append(layer)
        return RedisAnalyticsStore(layer, RedisStream(layer))

    yield open_one
    for layer in layers:
        await layer.close()


@pytest.fixture
def store(open_store: Callable[[], AnalyticsStore]) -> AnalyticsStore:
    return open_store()
