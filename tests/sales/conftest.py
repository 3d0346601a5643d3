"""Fixtures for the sale tests: a sale store on each backend (THE store contract fixture)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from liveroom.rules import sale as rules
from liveroom.rules.sale import Product, SaleConfig
from liveroom.sales.memory_store import MemorySaleStore
from liveroom.sales.redis_store import RedisSaleStore
from liveroom.sales.store import SaleStore
from tests.conftest import ALL_KINDS

T0 = 1_800_000_000_000  # a fixed "now" in ms: store operations take time as an argument


@pytest.fixture(params=ALL_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
async def sale_store(store_kind: str, redis_url: str, key_prefix: str) -> AsyncIterator[SaleStore]:
    """Every store behaviour is tested on both stores through this fixture."""
    if store_kind == "memory":
        store: SaleStore = MemorySaleStore()
    else:
        store = RedisSaleStore.from_url(redis_url, key_prefix, cluster=store_kind == "cluster")
    try:
        yield store
    finally:
        await store.close()


PRODUCT = Product(
    sku="tea-01", title="Spring tea", price_fen=9900, appid="wx123", page="pages/buy/index"
)


def make_sale(sale_id: str = "s1", room_id: str = "r1", now: int = T0, **raw: object) -> SaleConfig:
    terms = {"stock": 10, "limit_per_user": 2, "hold_s": 60, **raw}
    return rules.build_sale(terms, PRODUCT, sale_id=sale_id, room_id=room_id, now=now)


async def assert_invariants(store: SaleStore, room_id: str, sale_id: str) -> rules.Sale:
    sale = await store.get_sale(room_id, sale_id)
    assert sale is not None
    takens = await store.takens(room_id, sale_id)
    holds = await store.holds(room_id, sale_id)
    assert rules.invariant_violations(sale, takens, holds) == []
    return sale
