"""Shared fixtures: a real Redis per test prefix, engines for the contract suite, live servers."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import redis as redis_sync

from liveroom.engine import create_engine
from liveroom.engine.base import Engine
from liveroom.settings import Settings
from tests.support.server import LiveServer

REDIS_URL = os.environ.get("LIVEROOM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def wipe_prefix(url: str, prefix: str) -> None:
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


@pytest.fixture
def redis_url() -> str:
    return REDIS_URL


@pytest.fixture
def key_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own on the shared Redis, deleted afterwards."""
    prefix = f"lrtest-{uuid.uuid4().hex[:10]}"
    yield prefix
    wipe_prefix(redis_url, prefix)


def engine_settings(kind: str, redis_url: str, key_prefix: str, **overrides: object) -> Settings:
    base = Settings(redis_url=redis_url if kind == "redis" else "", key_prefix=key_prefix)
    return base.with_(**overrides)


@pytest.fixture(params=["memory", "redis"])
def engine_kind(request: pytest.FixtureRequest) -> str:
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
    if engine_kind == "redis":
        env["LIVEROOM_REDIS_URL"] = redis_url
    return env


@pytest.fixture
def live_server(server_env: dict[str, str]) -> Iterator[LiveServer]:
    """A real server process on the engine under test."""
    with LiveServer(env=server_env) as srv:
        yield srv
