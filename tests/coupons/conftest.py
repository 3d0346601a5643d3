"""Fixtures for the coupon tests: the template store on each backend (its contract)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from liveroom.coupons.memory_store import MemoryTemplateStore
from liveroom.coupons.redis_store import RedisTemplateStore
from liveroom.coupons.store import TemplateStore
from liveroom.redis import RedisLayer
from liveroom.settings import Settings
from tests.conftest import ALL_KINDS


@pytest.fixture(params=ALL_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
async def template_store(
    store_kind: str, redis_url: str, key_prefix: str
) -> AsyncIterator[TemplateStore]:
    if store_kind == "memory":
        yield MemoryTemplateStore()
        return
    settings = Settings(
        redis_url=redis_url, key_prefix=key_prefix, redis_cluster=store_kind == "cluster"
    )
    redis = RedisLayer.from_settings(settings)
    try:
        yield RedisTemplateStore(redis)
    finally:
        await redis.close()
