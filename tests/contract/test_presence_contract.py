"""Likes counted exactly and viewer counts summed over live processes."""

from __future__ import annotations

import asyncio

import pytest

from liveroom.engine.base import Engine
from tests.contract.conftest import MakeEngine, Recorder


async def test_likes_are_counted_exactly_under_concurrency(
    engine: Engine, peer: Engine, recorder: Recorder
) -> None:
    await engine.subscribe("r", recorder)
    totals = await asyncio.gather(*((engine, peer)[i % 2].add_likes("r", 3) for i in range(300)))
    assert sorted(totals) == list(range(3, 901, 3))
    assert (await peer.snapshot("r", 0)).likes == 900
    await recorder.until(lambda r: 900 in r.of("likes"))
    assert sorted(recorder.of("likes")) == list(range(3, 901, 3))


async def test_likes_are_per_room(engine: Engine) -> None:
    assert await engine.add_likes("a", 5) == 5
    assert await engine.add_likes("b", 2) == 2
    assert await engine.add_likes("a", 1) == 6


async def test_presence_reports_this_processes_count(engine: Engine) -> None:
    assert await engine.report_presence("r", 3) == 3
    assert (await engine.snapshot("r", 0)).viewers == 3
    assert await engine.report_presence("r", 0) == 0
    assert (await engine.snapshot("r", 0)).viewers == 0


async def test_presence_is_summed_over_processes(engine_kind: str, make_engine: MakeEngine) -> None:
    if engine_kind == "memory":
        pytest.skip("the memory engine is one process: its count is the local count")
    a = await make_engine(node_id="node-a")
    b = await make_engine(node_id="node-b")
    assert await a.report_presence("r", 3) == 3
    assert await b.report_presence("r", 4) == 7
    assert (await a.snapshot("r", 0)).viewers == 7
    assert await a.report_presence("r", 5) == 9  # a replaces its own count
    assert await b.report_presence("r", 0) == 5
    assert await b.report_presence("other", 1) == 1


async def test_a_process_that_stops_reporting_drops_out(
    engine_kind: str, make_engine: MakeEngine
) -> None:
    if engine_kind == "memory":
        pytest.skip("the memory engine is one process: it cannot lose a peer")
    a = await make_engine(node_id="node-a", presence_ttl_s=0.3)
    b = await make_engine(node_id="node-b", presence_ttl_s=0.3)
    await a.report_presence("r", 3)
    assert await b.report_presence("r", 4) == 7
    await asyncio.sleep(0.4)
    assert await b.report_presence("r", 4) == 4  # a crashed: its count expired
    assert (await b.snapshot("r", 0)).viewers == 4
    await asyncio.sleep(0.4)
    assert (await b.snapshot("r", 0)).viewers == 0  # nobody reports any more
