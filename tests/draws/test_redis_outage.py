"""Redis goes away mid-draw: entries get a clear retryable error, and once Redis is back
the same press enters, once. Runs against a Redis of its own (AOF on, so it restarts with
its data), never the shared one."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from liveroom import tokens
from tests.draws.test_room_draws import PRIZE, ROOM, fetch, verify_with_cli
from tests.support.client import Client
from tests.support.redis_process import RedisProcess
from tests.support.server import LiveServer, free_port

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="no redis-server")


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    srv = RedisProcess(data_dir=tmp_path)
    srv.start()
    yield srv
    srv.stop()


async def test_entries_during_a_redis_outage_are_refused_then_retried(
    own_redis: RedisProcess,
) -> None:
    env = {"LIVEROOM_REDIS_URL": own_redis.url, "LIVEROOM_KEY_PREFIX": "lrtest-draw-outage"}
    with LiveServer(env=env, port=free_port()) as srv:

        async def join(uid: str, role: str = "viewer") -> Client:
            token = tokens.mint_for(srv.secret, uid, room=ROOM, role=role, nick=uid)
            return await Client.connect(srv.ws_url(ROOM, token))

        host, v1, v2 = await join("host", "host"), await join("v1"), await join("v2")
        ack = await host.request(
            {"t": "start_draw", "prize": PRIZE, "winners": 1, "duration_s": 600}
        )
        draw_id = ack["draw_id"]
        assert (await v1.request({"t": "enter_draw", "draw_id": draw_id}))["entered"]

        own_redis.stop()
        down = await v2.request({"t": "enter_draw", "draw_id": draw_id})
        assert (down["t"], down["code"]) == ("error", "unavailable")
        assert down["retry_after"] > 0
        own_redis.start()

        for _ in range(50):  # the client retries as told until Redis answers again
            again = await v2.request({"t": "enter_draw", "draw_id": draw_id})
            if again["t"] == "ack":
                break
            assert again["code"] == "unavailable"
            await asyncio.sleep(again["retry_after"] / 10)
        assert again["t"] == "ack" and again["entrants"] == 2 and not again["duplicate"]
        closed = await host.request({"t": "close_draw", "draw_id": draw_id})
        assert closed["t"] == "ack" and closed["entrants_count"] == 2, closed
        record = await asyncio.to_thread(fetch, srv, draw_id)
        assert record["entrants"] == ["v1", "v2"]
        status, report = await asyncio.to_thread(verify_with_cli, srv, draw_id)
        assert status == 0 and report["winners"] == [w["uid"] for w in closed["winners"]]
        for c in (host, v1, v2):
            await c.close()
