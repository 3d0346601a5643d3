"""The cluster client of the one Redis layer (liveroom/redis/client.py): what it adds to
redis-py's RedisCluster, on a real cluster."""

from __future__ import annotations

import asyncio
import shutil

import pytest
from redis import exceptions as rexc

from liveroom.errors import Unavailable
from liveroom.redis.guard import is_outage
from tests.sales.conftest import PRODUCT
from tests.support.redis_cluster import RedisCluster
from tests.support.server import free_port
from tests.support.stores import RedisParts

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="no redis-server")


async def test_a_burst_queues_for_its_turn_instead_of_failing(
    redis_cluster: RedisCluster, key_prefix: str
) -> None:
    """redis-py's per-node pools fail a call at once when full; the layer queues it, as
    one Redis's blocking pool does: 300 calls at once on 4 connections all succeed."""
    # the wait for a turn is long: this is about queueing, not speed (a loaded machine is slow)
    parts = RedisParts(
        redis_cluster.url, key_prefix, cluster=True, redis_pool_size=4, redis_timeout_s=15.0
    )
    try:
        await parts.sales.put_product(PRODUCT)
        rooms = [f"room-{i}" for i in range(100)]  # on every master
        results = await asyncio.gather(
            *(parts.sales.count_click(r, "tea-01") for r in rooms),
            *(parts.sales.shop(r) for r in rooms),  # pipelines across slots
            *(parts.sales.pin(r, "tea-01") for r in rooms),  # transactions
        )
        assert results[:100] == [1] * 100
        assert results[200:] == [["tea-01"]] * 100
        shops = await asyncio.gather(*(parts.sales.shop(r) for r in rooms))
        assert shops == [([PRODUCT], [])] * 100
    finally:
        await parts.close()


async def test_an_unreachable_cluster_is_unavailable() -> None:
    parts = RedisParts(f"redis://127.0.0.1:{free_port()}/0", "lrnowhere", cluster=True)
    try:
        with pytest.raises(Unavailable):
            await parts.sales.get_product("tea-01")
        with pytest.raises(Unavailable):
            await parts.engine.subscribe("r1", lambda *a: None)
    finally:
        await parts.close()


def test_the_cluster_clients_own_not_now_errors_are_outages() -> None:
    try:
        try:
            raise rexc.ConnectionError("refused")
        except rexc.ConnectionError as cause:
            raise rexc.RedisClusterException("Redis Cluster cannot be connected") from cause
    except rexc.RedisClusterException as exc:
        assert is_outage(exc)
    assert is_outage(rexc.SlotNotCoveredError('Slot "7" not covered by the cluster'))
    assert is_outage(rexc.ClusterError("TTL exhausted."))
    assert not is_outage(rexc.RedisClusterException("ERROR: a pipelined call is blocked"))
    assert not is_outage(rexc.ClusterCrossSlotError())
