"""Viewers that stop reading are cut off for real: socket reset, kernel and process memory
back, while everyone else in the room keeps getting every event.

The bounds are the documented defaults (docs/operations.md, *Slow consumers*): past
`LIVEROOM_SLOW_SOFT_BYTES` waiting a client gets state only; it is closed after
`LIVEROOM_SLOW_GRACE_S` (at once past `LIVEROOM_SLOW_HARD_BYTES`) and its socket is reset
at most `LIVEROOM_SLOW_CLOSE_S` after that.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import psutil
import pytest

from liveroom import tokens
from liveroom.settings import Settings
from tests.support import rawsock
from tests.support.client import Client
from tests.support.marks import crowd
from tests.support.poll import poll_until
from tests.support.server import LiveServer

ROOM = "flood"
N_SLOW = 200
RATE = 300  # announcements a second, about 700 bytes each
TEXT = "闪购马上开始，" * 33  # 231 characters, 693 bytes of UTF-8
MIB = 1024 * 1024
# the most the kernel will buffer for one socket before our own buffer starts to grow
KERNEL_SNDBUF_MAX = int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])


def url(srv: LiveServer, uid: str, role: str = "viewer") -> str:
    return srv.ws_url(ROOM, tokens.mint_for(srv.secret, uid, room=ROOM, role=role))


async def _collect(client: Client, into: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            frame = await client.recv(timeout=1)
        except TimeoutError:
            continue
        into.extend(e["seq"] for e in frame.get("events", ()) if e.get("type") == "announce")
        if frame.get("t") == "ack" and "seq" in frame:
            into.append(-frame["seq"])  # the host's acks: which announcements the room took


@pytest.mark.parametrize("engine_kind", ["memory"], indirect=True)
@crowd
async def test_non_readers_are_reset_and_their_memory_returned(server_env: dict) -> None:
    defaults = Settings()
    # The documented bound runs from the moment a client is `slow_soft_bytes` behind in our
    # buffer; before that its kernel send buffer fills (at most tcp_wmem's maximum). Then
    # the grace, the close grace, and slack for a loaded two-core machine.
    fill_s = (KERNEL_SNDBUF_MAX + defaults.slow_soft_bytes) / (RATE * len(TEXT.encode()))
    bound_s = fill_s + defaults.slow_grace_s + defaults.close_grace_s + 10
    with LiveServer(env=server_env) as srv:
        server = psutil.Process(srv.proc.pid)
        host = await Client.connect(url(srv, "host", "host"))
        readers = [await Client.connect(url(srv, f"reader{i}")) for i in range(3)]
        slow = [
            rawsock.non_reader(
                srv.port,
                f"/ws/rooms/{ROOM}?token={tokens.mint_for(srv.secret, f's{i}', room=ROOM)}",
            )
            for i in range(N_SLOW)
        ]
        slow_ports = {s.getsockname()[1] for s in slow}
        await asyncio.sleep(1)
        baseline = server.memory_info().rss

        stop = asyncio.Event()
        seen: list[list[int]] = [[] for _ in range(1 + len(readers))]
        collectors = [
            asyncio.create_task(_collect(c, into, stop))
            for c, into in zip([host, *readers], seen, strict=True)
        ]
        loop = asyncio.get_running_loop()
        started = loop.time()
        cut_at: dict[int, float] = {}
        peak = baseline
        sent = 0
        while loop.time() - started < bound_s and len(cut_at) < N_SLOW:
            # RATE a second, in bursts of a tenth of a second
            for _ in range(RATE // 10):
                await host.send({"t": "announce", "text": TEXT, "rid": sent})
                sent += 1
            await asyncio.sleep(0.1)
            now = loop.time()
            for i, s in enumerate(slow):
                if i not in cut_at and rawsock.cut_by_peer(s):
                    cut_at[i] = now - started
            peak = max(peak, server.memory_info().rss)
        flood_s = loop.time() - started
        # a last marker every reader must get after the flood
        await host.send({"t": "announce", "text": "the end", "rid": "end"})
        await asyncio.sleep(2)
        stop.set()
        await asyncio.gather(*collectors)

        states = [rawsock.tcp_state(s) for s in slow]
        assert len(cut_at) == N_SLOW, (
            f"{N_SLOW - len(cut_at)} of {N_SLOW} non-readers still connected after "
            f"{flood_s:.0f} s of flood (states {sorted(set(states))})"
        )
        # reset, not a polite FIN queued behind data the client will never read
        assert set(states) == {rawsock.TCP_CLOSE}
        # the server kept nothing of them, not even an orphaned socket with a send queue,
        # and the room forgot them: only the host and the readers are left
        assert rawsock.server_side(srv.port, slow_ports) == []
        assert await asyncio.to_thread(srv.metric, "liveroom_connections") == 1 + len(readers)
        assert await asyncio.to_thread(srv.metric, "liveroom_sockets_reset") >= N_SLOW

        # every reader (and the host) got every announcement the room took, in order
        taken = sorted(-s for s in seen[0] if s < 0)
        assert len(taken) == sent + 1
        for got in seen:
            delivered = [s for s in got if s > 0]
            assert delivered == taken

        # the buffers came back: RSS near where it was with the same sockets idle
        await poll_until(lambda: server.memory_info().rss <= baseline + 24 * MIB, 20, 0.5)
        after = server.memory_info().rss
        assert after <= baseline + 24 * MIB, (
            f"RSS {baseline / MIB:.0f} MiB before, peak {peak / MIB:.0f}, "
            f"{after / MIB:.0f} after the non-readers were cut"
        )
        print(
            f"non-readers cut {min(cut_at.values()):.1f}-{max(cut_at.values()):.1f} s into the "
            f"flood; RSS {baseline / MIB:.0f} -> peak {peak / MIB:.0f} -> {after / MIB:.0f} MiB"
        )
        for s in slow:
            s.close()
        for c in [host, *readers]:
            await c.close()


@pytest.mark.parametrize("engine_kind", ["memory"], indirect=True)
async def test_a_dead_peer_in_a_quiet_room_is_cut_by_the_keepalive(server_env: dict) -> None:
    interval, timeout, grace = 1.0, 1.0, 1.0
    env = {
        **server_env,
        "LIVEROOM_WS_PING_INTERVAL_S": str(interval),
        "LIVEROOM_WS_PING_TIMEOUT_S": str(timeout),
        "LIVEROOM_CLOSE_GRACE_S": str(grace),
    }
    with LiveServer(env=env) as srv:
        alive = await Client.connect(url(srv, "alive"))  # answers pings (websockets does)
        token = tokens.mint_for(srv.secret, "gone", room=ROOM)
        gone = rawsock.non_reader(srv.port, f"/ws/rooms/{ROOM}?token={token}")
        port = gone.getsockname()[1]
        bound = interval + timeout + grace + 5  # slack for a busy machine
        assert await poll_until(lambda: rawsock.cut_by_peer(gone), bound)
        assert rawsock.tcp_state(gone) == rawsock.TCP_CLOSE  # reset: it never read the close
        assert rawsock.server_side(srv.port, {port}) == []
        # the live one is still there, and hears the room
        assert (await alive.request({"t": "ping"}))["t"] == "pong"
        gone.close()
        await alive.close()
