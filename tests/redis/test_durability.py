"""LIVEROOM_REDIS_WAIT_REPLICAS: a grab or a payment is acknowledged only once a replica
has it; while none can take it the answer is "unavailable", and the retry with the same
request id (from any process, on any connection) gets the one answer once it can.

A master and a replica of the test's own; the replica is paused (SIGSTOP) to stand for a
replica that lags or is cut off.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import pytest
import redis as redis_sync

from liveroom.errors import Unavailable
from liveroom.redis import RedisLayer
from liveroom.sales.redis_store import RedisSaleStore
from liveroom.settings import Settings
from liveroom.stream.redis import RedisStream
from tests.sales.conftest import T0, make_sale
from tests.support.redis_process import RedisProcess

T = TypeVar("T")

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="no redis-server")


@pytest.fixture
def replicated() -> Iterator[tuple[RedisProcess, RedisProcess]]:
    master = RedisProcess(args=("--repl-diskless-sync-delay", "0")).start()
    replica = RedisProcess(args=("--replicaof", "127.0.0.1", str(master.port))).start()
    try:
        client = redis_sync.Redis(port=master.port)
        deadline = time.monotonic() + 10
        while not any(
            isinstance(v, dict) and v.get("state") == "online"
            for k, v in client.info("replication").items()
            if k.startswith("slave")
        ):
            assert time.monotonic() < deadline, "replica never came online"
            time.sleep(0.05)
        client.close()
        yield master, replica
    finally:
        replica.kill()
        master.kill()


async def until_acknowledged(call: Callable[[], Awaitable[T]], timeout: float = 20) -> T:
    """Retry a call refused as unavailable, as a client does (same request id, same order
    id): on a loaded machine a healthy replica can take longer than the 300 ms WAIT."""
    async with asyncio.timeout(timeout):
        while True:
            try:
                return await call()
            except Unavailable:
                await asyncio.sleep(0.1)


def store(url: str) -> RedisSaleStore:
    """One process's sale store with WAIT for one replica, 300 ms at most."""
    settings = Settings(
        redis_url=url, key_prefix="lrwait", redis_wait_replicas=1, redis_wait_timeout_ms=300
    )
    redis = RedisLayer.from_settings(settings)
    return RedisSaleStore(redis, RedisStream(redis))


async def test_nothing_is_acknowledged_that_no_replica_has(
    replicated: tuple[RedisProcess, RedisProcess],
) -> None:
    master, replica = replicated
    one, other = store(master.url), store(master.url)  # two processes of a deployment
    try:
        await one.create_sale(make_sale())
        held = await until_acknowledged(lambda: one.grab("r1", "s1", "u1", "", 1, "req-1", T0))
        assert held.hold is not None  # a replica had it: acknowledged

        replica.signal(signal.SIGSTOP)
        try:
            with pytest.raises(Unavailable, match="0 of 1 replicas"):
                await one.grab("r1", "s1", "u2", "", 1, "req-2", T0)
            # the hold is on the master only: a retry from another connection must not
            # be told it has it, though its own call writes nothing new
            with pytest.raises(Unavailable):
                await other.grab("r1", "s1", "u2", "", 1, "req-2", T0)
            with pytest.raises(Unavailable):
                await other.confirm("r1", held.hold.hold_id, "order-1", T0 + 1)
        finally:
            replica.signal(signal.SIGCONT)

        # the replica catches up; the retries get the one answer each
        again = await until_acknowledged(lambda: other.grab("r1", "s1", "u2", "", 1, "req-2", T0))
        assert again.hold is not None and again.duplicate  # the one answer, kept
        hold_id = held.hold.hold_id
        paid = await until_acknowledged(lambda: other.confirm("r1", hold_id, "order-1", T0 + 1))
        assert paid.duplicate and paid.hold is not None and paid.hold.status == "paid"
        sale = await other.get_sale("r1", "s1")
        assert sale is not None and (sale.available, sale.held, sale.sold) == (8, 1, 1)
        # the replica has exactly what was acknowledged
        on_replica = redis_sync.Redis(port=replica.port)
        key = "lrwait:{r1}:sale:s:s1"
        assert on_replica.hmget(key, "available", "held", "sold") == [b"8", b"1", b"1"]
        on_replica.close()
    finally:
        await one._redis.close()
        await other._redis.close()


def test_a_wait_longer_than_the_socket_timeout_is_refused_at_start() -> None:
    settings = Settings(
        redis_url="redis://127.0.0.1:1/0",
        redis_wait_replicas=1,
        redis_wait_timeout_ms=3000,
        redis_timeout_s=3,
    )
    with pytest.raises(ValueError, match="WAIT_TIMEOUT_MS"):
        RedisLayer.from_settings(settings)
