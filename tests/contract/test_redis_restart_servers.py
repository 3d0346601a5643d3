"""Two `liveroom serve` processes ride out a Redis restart without dropping their viewers.

While Redis is down a host command gets a clear error frame and sockets stay open;
afterwards events flow again from one server to the other's viewers, seq going on from
where it was. Both with an append-only file (as production should run) and without one,
where Redis comes back empty and only the processes remember the seqs.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from liveroom import tokens
from tests.support.client import Client
from tests.support.redis_process import RedisProcess
from tests.support.server import LiveServer

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="no redis-server")

ROOM = "restart1"


@pytest.fixture(params=["persistent", "volatile"])
def redis_proc(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RedisProcess]:
    proc = RedisProcess(data_dir=tmp_path if request.param == "persistent" else None)
    proc.start()
    try:
        yield proc
    finally:
        proc.kill()


@pytest.fixture
def servers(redis_proc: RedisProcess) -> Iterator[tuple[LiveServer, LiveServer]]:
    env = {"LIVEROOM_REDIS_URL": redis_proc.url, "LIVEROOM_KEY_PREFIX": f"lr-{uuid.uuid4().hex}"}
    with LiveServer(env=env) as a, LiveServer(env=env) as b:
        yield a, b


async def announce(host: Client, text: str) -> dict:
    """The ack or the error frame answering one announce (errors may come without a rid)."""
    host.rid = getattr(host, "rid", 0) + 1
    rid = f"a{host.rid}"
    await host.send({"t": "announce", "text": text, "rid": rid})
    return await host.until(
        lambda f: (f.get("t") == "ack" and f.get("rid") == rid) or f.get("t") == "error"
    )


async def announce_until_accepted(host: Client, text: str) -> dict:
    """Retry a host command until Redis is back; every refusal must be an error frame."""
    async with asyncio.timeout(30):
        while True:
            reply = await announce(host, text)
            if reply["t"] == "ack":
                return reply
            await asyncio.sleep(0.2)


async def test_viewers_keep_their_socket_and_their_events_across_a_redis_restart(
    redis_proc: RedisProcess, servers: tuple[LiveServer, LiveServer]
) -> None:
    a, b = servers
    host_url = a.ws_url(ROOM, tokens.mint_for(a.secret, "host1", room=ROOM, role="host"))
    viewer_url = b.ws_url(ROOM, tokens.mint_for(b.secret, "amy", room=ROOM))
    async with await Client.connect(host_url) as host, await Client.connect(viewer_url) as amy:
        await announce_until_accepted(host, "before")
        before = await amy.events(lambda e: e.get("text") == "before")

        redis_proc.kill()
        assert (await announce(host, "lost"))["t"] == "error"
        assert (await host.request({"t": "ping"}))["t"] == "pong"  # the socket still serves

        redis_proc.start()
        await announce_until_accepted(host, "after")
        after = await amy.events(lambda e: e.get("text") == "after", timeout=30)
        assert after["seq"] == before["seq"] + 1  # the refused one took no seq
        seen = [e["seq"] for f in amy.seen if f.get("t") == "tick" for e in f.get("events", [])]
        assert seen == sorted(set(seen))
        assert all(f.get("t") != "error" for f in amy.seen)  # the viewer never noticed
