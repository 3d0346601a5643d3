"""Shared fixtures: a real Redis per test prefix, engines for the contract suite, live servers.

Three backends: `memory`, `redis` (the shared Redis on 6379) and `cluster` (a local Redis
Cluster of three masters and three replicas, started once per session when a test first
asks for it). `engine_kind` is memory and Redis here; the contract suites (tests/contract,
the sale and draw store contracts) and a few end-to-end tests ask for all three
(`ALL_KINDS`), so the same tests run on the cluster unchanged.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import redis as redis_sync

from liveroom.engine import create_engine
from liveroom.engine.base import Engine
from liveroom.node import Node, build
from liveroom.settings import Settings
from tests.sales.merchant import Merchant
from tests.support.redis_cluster import RedisCluster
from tests.support.server import LiveServer

REDIS_URL = os.environ.get("LIVEROOM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ALL_KINDS = ["memory", "redis", "cluster"]
REDIS_KINDS = ("redis", "cluster")


def wipe_prefix(url: str, prefix: str, cluster: bool = False) -> None:
    if cluster:
        # every master's keys (the cluster client scans them all)
        client: redis_sync.Redis = redis_sync.RedisCluster.from_url(url)  # type: ignore[assignment]
    else:
        client = redis_sync.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        # one key per DEL: keys of different rooms lie in different cluster slots
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.delete(key)
        pipe.execute()
    finally:
        client.close()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisCluster]:
    """The session's Redis Cluster (about two seconds to start), shared by key prefix like
    the Redis on 6379. Tests that kill or reshard nodes start one of their own."""
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        pytest.skip("no redis-server / redis-cli")
    # nobody kills its nodes: a node timeout long enough that a loaded box never sees a
    # failover nobody asked for
    with RedisCluster(node_timeout_ms=5000) as cluster:
        yield cluster


def backend_kind(request: pytest.FixtureRequest) -> str:
    """The backend the test runs on: its engine_kind or store_kind, else memory/Redis."""
    for name in ("engine_kind", "store_kind"):
        if name in request.fixturenames:
            return request.getfixturevalue(name)
    return "redis"


@pytest.fixture
def redis_url(request: pytest.FixtureRequest) -> str:
    """The shared Redis, or on the `cluster` backend one node of the session's cluster."""
    if backend_kind(request) == "cluster":
        return request.getfixturevalue("redis_cluster").url
    return REDIS_URL


@pytest.fixture
def key_prefix(request: pytest.FixtureRequest, redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own on the shared Redis, deleted afterwards."""
    prefix = f"lrtest-{uuid.uuid4().hex[:10]}"
    yield prefix
    wipe_prefix(redis_url, prefix, cluster=backend_kind(request) == "cluster")


def engine_settings(kind: str, redis_url: str, key_prefix: str, **overrides: object) -> Settings:
    base = Settings(
        redis_url=redis_url if kind in REDIS_KINDS else "",
        redis_cluster=kind == "cluster",
        key_prefix=key_prefix,
    )
    return base.with_(**overrides)


@pytest.fixture(params=["memory", "redis"])
def engine_kind(request: pytest.FixtureRequest) -> str:
    """memory and Redis; a suite that runs on the cluster too overrides it with ALL_KINDS."""
    return request.param


@pytest.fixture
async def engine(engine_kind: str, redis_url: str, key_prefix: str) -> AsyncIterator[Engine]:
    """THE contract fixture: every engine behaviour is tested on both engines through it."""
    eng = create_engine(engine_settings(engine_kind, redis_url, key_prefix))
    await eng.start()
    try:
        yield eng
    finally:
        await eng.close()


@pytest.fixture
def server_env(engine_kind: str, redis_url: str, key_prefix: str) -> dict[str, str]:
    env = {"LIVEROOM_KEY_PREFIX": key_prefix, "LIVEROOM_REDIS_URL": ""}
    if engine_kind in REDIS_KINDS:
        env["LIVEROOM_REDIS_URL"] = redis_url
        env["LIVEROOM_REDIS_CLUSTER"] = "true" if engine_kind == "cluster" else "false"
    return env


@pytest.fixture
def live_server(server_env: dict[str, str]) -> Iterator[LiveServer]:
    """A real server process on the engine under test."""
    with LiveServer(env=server_env) as srv:
        yield srv


@pytest.fixture
async def node(engine_kind: str, redis_url: str, key_prefix: str) -> AsyncIterator[Node]:
    """A whole node (every feature, as liveroom/node.py builds it) in the test's process,
    on the engine under test, started and stopped: for the service seams."""
    n = build(engine_settings(engine_kind, redis_url, key_prefix, coupon_appid="wxc"))
    await n.start()
    try:
        yield n
    finally:
        await n.stop()


@pytest.fixture
async def merchant(live_server: LiveServer) -> AsyncIterator[Merchant]:
    """The merchant backend's signed client of the live server. A test module that needs
    a catalogue or a template first overrides it: `async def merchant(merchant)`, seeds,
    returns it."""
    m = Merchant(live_server.url, live_server.secret)
    yield m
    await m.close()
