"""Fan-out under real concurrency: many clients in one room, sampling, slow consumers."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket

import pytest

from liveroom import tokens
from liveroom.protocol import CLOSE_SLOW_CONSUMER
from tests.support.client import Client
from tests.support.marks import crowd
from tests.support.server import LiveServer

ROOM = "big"


def token(srv: LiveServer, uid: str, role: str = "viewer") -> str:
    return tokens.mint_for(srv.secret, uid, room=ROOM, role=role)


async def _collect(client: Client, until_text: str) -> list[dict]:
    """Every event this client gets until the host's closing announcement, frame seqs checked."""
    events: list[dict] = []
    last_frame_seq = client.welcome["seq"]
    while True:
        frame = await client.recv(timeout=30)
        if frame.get("t") != "tick":
            continue
        assert frame["seq"] >= last_frame_seq
        last_frame_seq = frame["seq"]
        events.extend(frame["events"])
        if any(e.get("text") == until_text for e in frame["events"]):
            return events


async def test_hundreds_of_clients_get_every_unsampled_event_in_order(
    live_server: LiveServer,
) -> None:
    n = 300
    host = await Client.connect(live_server.ws_url(ROOM, token(live_server, "host", "host")))
    viewers: list[Client] = []
    for i in range(0, n, 50):  # connect in concurrent batches
        viewers += await asyncio.gather(
            *(
                Client.connect(
                    live_server.ws_url(ROOM, token(live_server, f"v{j}")),
                    fmt="json" if j % 2 else "msgpack",
                )
                for j in range(i, i + 50)
            )
        )
    collectors = [asyncio.create_task(_collect(c, "the end")) for c in [host, *viewers]]
    # viewers talk all at once (comments may be sampled); the host's messages never are
    talkers = viewers[:100]
    await asyncio.gather(
        *(c.send({"t": "comment", "text": f"hi from {i}"}) for i, c in enumerate(talkers))
    )
    for i in range(20):
        await host.send({"t": "announce", "text": f"a{i}"})
    await asyncio.gather(*(c.send({"t": "comment", "text": "again"}) for c in talkers))
    await host.send({"t": "announce", "text": "the end"})
    results = await asyncio.gather(*collectors)

    host_events = results[0]
    host_seqs = [e["seq"] for e in host_events]
    assert host_seqs == sorted(host_seqs) and len(set(host_seqs)) == len(host_seqs)
    # the host sees every event: 20 announcements, 200 comments and the end
    assert host_seqs == list(range(host_seqs[0], host_seqs[0] + 221))
    high = [e["seq"] for e in host_events if e["type"] == "announce"]
    assert len(high) == 21
    for got in results[1:]:
        seqs = [e["seq"] for e in got]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        assert set(high) <= set(seqs)  # no viewer misses a high-lane event
        assert set(seqs) <= set(host_seqs)
    await asyncio.gather(*(c.close() for c in [host, *viewers]))


async def test_busy_room_is_sampled_for_viewers_but_not_for_the_host(server_env: dict) -> None:
    env = {
        **server_env,
        "LIVEROOM_READABLE_COMMENTS_PER_S": "5",
        "LIVEROOM_COMMENT_BURST": "50",
    }
    with LiveServer(env=env) as srv:
        host = await Client.connect(srv.ws_url(ROOM, token(srv, "host", "host")))
        viewer = await Client.connect(srv.ws_url(ROOM, token(srv, "watcher")))
        talkers = await asyncio.gather(
            *(Client.connect(srv.ws_url(ROOM, token(srv, f"t{i}"))) for i in range(20))
        )
        h_task = asyncio.create_task(_collect(host, "done"))
        v_task = asyncio.create_task(_collect(viewer, "done"))
        for round_ in range(10):
            await asyncio.gather(*(t.send({"t": "comment", "text": f"{round_}"}) for t in talkers))
        # the author always gets its own accepted comment in its ack
        ack = await talkers[0].request({"t": "comment", "text": "mine"})
        assert ack["comment"]["text"] == "mine"
        await asyncio.sleep(0.3)
        await host.send({"t": "announce", "text": "done"})
        host_events, viewer_events = await asyncio.gather(h_task, v_task)
        host_comments = [e for e in host_events if e["type"] == "comment"]
        viewer_comments = [e for e in viewer_events if e["type"] == "comment"]
        assert len(host_comments) == 201
        assert 0 < len(viewer_comments) < 100
        skipped = sum(f.get("skipped", 0) for f in viewer.seen if f.get("t") == "tick")
        assert skipped == 201 - len(viewer_comments)
        for c in [host, viewer, *talkers]:
            await c.close()


def _raw_ws_connect(port: int, path: str) -> socket.socket:
    """A WebSocket client that never reads: a tiny receive buffer and no read loop."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: liveroom.json\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert b" 101 " in head
    return sock


@pytest.mark.parametrize("engine_kind", ["memory"], indirect=True)
@crowd
async def test_slow_consumer_is_cut_loose_and_recovers_with_since(server_env: dict) -> None:
    env = {
        **server_env,
        "LIVEROOM_SLOW_SOFT_BYTES": "20000",
        "LIVEROOM_SLOW_HARD_BYTES": "200000",
        "LIVEROOM_SLOW_GRACE_S": "2",
        # time enough for this client, reading again, to drain megabytes through its tiny
        # window and reach the close frame before the socket is reset
        "LIVEROOM_CLOSE_GRACE_S": "15",
    }
    with LiveServer(env=env) as srv:
        host = await Client.connect(srv.ws_url(ROOM, token(srv, "host", "host")))
        healthy = await Client.connect(srv.ws_url(ROOM, token(srv, "ok")))
        slow = _raw_ws_connect(srv.port, f"/ws/rooms/{ROOM}?token={token(srv, 'slow')}")
        received: list[int] = []

        async def read_healthy() -> None:
            while True:
                frame = await healthy.recv(timeout=30)
                received.extend(e["seq"] for e in frame.get("events", []))

        reader = asyncio.create_task(read_healthy())
        closed = None
        sent = 0
        for _ in range(4000):
            await host.send({"t": "announce", "text": "x" * 1900})
            sent += 1
            if sent % 50 == 0:
                await asyncio.sleep(0.06)
                line = await _metrics(srv, "liveroom_slow_closed")
                if line >= 1:
                    closed = True
                    break
        assert closed, "the slow consumer was never closed"
        # read what the slow socket got: data then a close frame with a reconnect hint
        slow.setblocking(False)
        loop = asyncio.get_running_loop()
        data = b""
        while True:
            try:
                chunk = await asyncio.wait_for(loop.sock_recv(slow, 65536), 5)
            except TimeoutError:
                break
            if not chunk:
                break
            data += chunk
        slow.close()
        marker = bytes([0x88])
        close_at = data.rfind(marker)
        assert close_at >= 0, "no close frame"
        close_payload = data[close_at + 2 : close_at + 2 + data[close_at + 1]]
        assert int.from_bytes(close_payload[:2], "big") == CLOSE_SLOW_CONSUMER
        hint = json.loads(close_payload[2:])
        assert hint["reconnect"] is True
        back = await Client.connect(srv.ws_url(ROOM, token(srv, "slow"), since=hint["since"]))
        assert back.welcome["recovered"] is True
        got = [e["seq"] for e in back.welcome["events"]]
        assert got == list(range(hint["since"] + 1, back.welcome["seq"] + 1))
        # the healthy client was never dropped
        await host.send({"t": "announce", "text": "bye"})
        await asyncio.sleep(0.5)
        reader.cancel()
        assert received and received == sorted(received)
        assert received[-1] == back.welcome["seq"] + 1 or received[-1] >= back.welcome["seq"]
        for c in (host, healthy, back):
            await c.close()


async def _metrics(srv: LiveServer, name: str) -> float:
    import urllib.request

    def get() -> float:
        with urllib.request.urlopen(f"{srv.url}/metrics", timeout=5) as resp:
            for line in resp.read().decode().splitlines():
                if line.startswith(name + " "):
                    return float(line.split()[1])
        return 0.0

    return await asyncio.to_thread(get)


async def test_viewers_joining_together_each_get_an_exact_welcome(live_server: LiveServer) -> None:
    """A join storm while the room is busy: the viewers joining together share one snapshot
    read (liveroom/welcome.py), those coming back with the same `since` one history read,
    and still each welcome holds exactly what its viewer missed, and its ticks go on from
    the welcome's seq without a gap or a repeat (the events are host comments, never
    sampled, so the room's seqs are all there is to see)."""
    host = await Client.connect(live_server.ws_url(ROOM, token(live_server, "host", "host")))
    for i in range(10):
        await host.request({"t": "comment", "text": f"warm-up {i}"})
    posting = True

    async def post() -> None:
        n = 0
        while posting:
            await host.request({"t": "comment", "text": f"live {n}"})
            n += 1

    poster = asyncio.create_task(post())
    sinces = [None, 3, 7, 10] * 15  # new arrivals and three groups coming back
    viewers = await asyncio.gather(
        *(
            Client.connect(live_server.ws_url(ROOM, token(live_server, f"j{i}"), since=since))
            for i, since in enumerate(sinces)
        )
    )
    posting = False
    await poster
    await host.request({"t": "comment", "text": "the end"})
    for since, viewer in zip(sinces, viewers, strict=True):
        welcome = viewer.welcome
        if since is None:
            assert welcome["recovered"] is None and welcome["events"] == []
        else:
            assert welcome["recovered"] is True
            assert [e["seq"] for e in welcome["events"]] == list(
                range(since + 1, welcome["seq"] + 1)
            )
        later = [e["seq"] for e in await _collect(viewer, "the end")]
        assert later == list(range(welcome["seq"] + 1, later[-1] + 1))
    for client in (host, *viewers):
        await client.close()
