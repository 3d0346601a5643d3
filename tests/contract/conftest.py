"""Contract-suite helpers: engines with test settings, a second "process", a recording sink.

Every test here runs on every backend (memory, Redis, Redis Cluster) through
`engine_kind`. A "peer" is another process's view of the same rooms: for Redis a second
RedisEngine with its own node_id on the same key prefix, for the memory engine (one
process by design) the same engine object.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from liveroom.engine import create_engine
from liveroom.engine.base import Engine
from tests.conftest import ALL_KINDS, engine_settings

MakeEngine = Callable[..., Awaitable[Engine]]


@pytest.fixture(params=ALL_KINDS)
def engine_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
async def make_engine(
    engine_kind: str, redis_url: str, key_prefix: str
) -> AsyncIterator[MakeEngine]:
    """Build started engines on the test's prefix with settings overrides; closed after."""
    made: list[Engine] = []

    async def make(**overrides: Any) -> Engine:
        eng = create_engine(engine_settings(engine_kind, redis_url, key_prefix, **overrides))
        await eng.start()
        made.append(eng)
        return eng

    yield make
    for eng in made:
        await eng.close()


@pytest.fixture
async def peer(engine: Engine, engine_kind: str, make_engine: MakeEngine) -> Engine:
    """Another process sharing the engine's rooms."""
    if engine_kind == "memory":
        return engine
    return await make_engine(node_id=engine.settings.node_id + "-peer")


class Recorder:
    """A sink that keeps what it is given, for tests to wait on."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str, Any]] = []
        self._changed = asyncio.Event()

    def __call__(self, room_id: str, kind: str, payload: Any) -> None:
        self.items.append((room_id, kind, payload))
        self._changed.set()

    def of(self, kind: str, room_id: str | None = None) -> list[Any]:
        return [p for r, k, p in self.items if k == kind and room_id in (None, r)]

    def seqs(self, room_id: str | None = None) -> list[int]:
        return [e["seq"] for e in self.of("event", room_id)]

    async def until(self, done: Callable[[Recorder], bool], timeout: float = 5.0) -> None:
        """Wait until `done` holds; fail (not hang) if it never does."""
        async with asyncio.timeout(timeout):
            while not done(self):
                self._changed.clear()
                await self._changed.wait()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()
