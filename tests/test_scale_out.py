"""Several `liveroom serve` processes on one Redis share their rooms."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from liveroom import tokens
from tests.support.client import Client
from tests.support.server import LiveServer

ROOM = "shared"


@pytest.fixture
def two_servers(redis_url: str, key_prefix: str) -> Iterator[tuple[LiveServer, LiveServer]]:
    env = {"LIVEROOM_REDIS_URL": redis_url, "LIVEROOM_KEY_PREFIX": key_prefix}
    with LiveServer(env=env) as a, LiveServer(env=env) as b:
        yield a, b


def url(srv: LiveServer, uid: str, role: str = "viewer") -> str:
    return srv.ws_url(ROOM, tokens.mint_for(srv.secret, uid, room=ROOM, role=role))


async def test_comment_on_one_process_reaches_viewers_on_the_other(
    two_servers: tuple[LiveServer, LiveServer],
) -> None:
    a, b = two_servers
    async with (
        await Client.connect(url(a, "amy")) as on_a,
        await Client.connect(url(b, "bob")) as on_b,
    ):
        ack = await on_a.request({"t": "comment", "text": "from A"})
        got = await on_b.events(lambda e: e.get("id") == ack["comment"]["id"])
        assert got["text"] == "from A" and got["seq"] == ack["comment"]["seq"]
        ack_b = await on_b.request({"t": "comment", "text": "from B"})
        assert ack_b["comment"]["seq"] == ack["comment"]["seq"] + 1  # one seq for the room
        await on_a.events(lambda e: e.get("id") == ack_b["comment"]["id"])


async def test_viewer_counts_and_likes_add_up_across_processes(
    two_servers: tuple[LiveServer, LiveServer],
) -> None:
    a, b = two_servers
    on_a = await asyncio.gather(*(Client.connect(url(a, f"a{i}")) for i in range(7)))
    on_b = await asyncio.gather(*(Client.connect(url(b, f"b{i}")) for i in range(5)))
    watcher = on_a[0]
    await watcher.until(lambda f: f.get("viewers") == 12, timeout=15)
    await asyncio.gather(*(c.send({"t": "like", "n": 3}) for c in on_a + on_b))
    await on_b[0].until(lambda f: f.get("likes") == 36, timeout=15)
    await watcher.until(lambda f: f.get("likes") == 36, timeout=15)
    await asyncio.gather(*(c.close() for c in on_b))
    await watcher.until(lambda f: f.get("viewers") == 7, timeout=15)
    await asyncio.gather(*(c.close() for c in on_a))


async def test_moderation_on_one_process_holds_on_the_other(
    two_servers: tuple[LiveServer, LiveServer],
) -> None:
    a, b = two_servers
    async with (
        await Client.connect(url(a, "host", role="host")) as host_a,
        await Client.connect(url(b, "troll")) as troll_b,
    ):
        await host_a.request({"t": "mute", "uid": "troll", "seconds": 120})
        err = await troll_b.request({"t": "comment", "text": "can you hear me"})
        assert err["code"] == "muted"
        await host_a.request({"t": "ban", "uid": "troll"})
        assert (await troll_b.closed())[0] == 4010


async def test_a_crashed_process_drops_out_of_the_viewer_count(
    redis_url: str, key_prefix: str
) -> None:
    env = {
        "LIVEROOM_REDIS_URL": redis_url,
        "LIVEROOM_KEY_PREFIX": key_prefix,
        "LIVEROOM_PRESENCE_TTL_S": "2",
    }
    with LiveServer(env=env) as a, LiveServer(env=env) as b:
        watcher = await Client.connect(url(a, "w"))
        others = await asyncio.gather(*(Client.connect(url(b, f"b{i}")) for i in range(4)))
        await watcher.until(lambda f: f.get("viewers") == 5, timeout=15)
        b.kill()
        await watcher.until(lambda f: f.get("viewers") == 1, timeout=15)
        await asyncio.gather(*(c.close() for c in [watcher, *others]))


async def test_workers_share_rooms(redis_url: str, key_prefix: str) -> None:
    env = {"LIVEROOM_REDIS_URL": redis_url, "LIVEROOM_KEY_PREFIX": key_prefix}
    with LiveServer(env=env, workers=2) as srv:
        clients = await asyncio.gather(*(Client.connect(url(srv, f"u{i}")) for i in range(16)))
        ack = await clients[0].request({"t": "comment", "text": "hello workers"})
        await asyncio.gather(
            *(c.events(lambda e: e.get("id") == ack["comment"]["id"]) for c in clients[1:])
        )
        await clients[-1].until(lambda f: f.get("viewers") == 16, timeout=15)
        await asyncio.gather(*(c.close() for c in clients))
