"""One socket's failure costs that socket only: the room's tick, and every other viewer's
events, go on.

A socket can die between two ticks in ways the hub only learns about when it writes:
uvloop raises RuntimeError on a transport whose handle is closed, a socket can raise
OSError. The app runs in-process under uvicorn here, so the test can give two real viewers
such a transport while everyone talks to the server over real sockets.
"""

from __future__ import annotations

import asyncio
from typing import Any

import websockets

from liveroom import tokens
from liveroom.connection import Connection
from liveroom.metrics import METRICS
from liveroom.settings import DEV_SECRET, Settings
from tests.support.client import Client
from tests.support.inprocess import served

ROOM = "storm"
ANNOUNCEMENTS = 30


class ClosedUnderUs:
    """A transport as uvloop leaves it when the socket closed mid-tick: writes raise."""

    def __init__(self, real: Any, exc: Exception, on: str) -> None:
        self.real = real
        self.exc = exc
        self.on = on

    def get_write_buffer_size(self) -> int:
        if self.on == "size":
            raise self.exc
        return 0

    def write(self, data: bytes) -> None:
        raise self.exc

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def token(uid: str, role: str = "viewer") -> str:
    return tokens.mint_for(DEV_SECRET, uid, room=ROOM, role=role)


async def _announcements(client: Client, last: str) -> list[int]:
    seqs: list[int] = []
    while True:
        frame = await client.recv(timeout=20)
        for e in frame.get("events", ()):
            if e.get("type") == "announce":
                seqs.append(e["seq"])
                if e["text"] == last:
                    return seqs


async def test_a_socket_that_raises_on_write_costs_only_itself(key_prefix: str) -> None:
    settings = Settings(key_prefix=key_prefix, gc_freeze_s=0)
    async with served(settings) as srv:
        sender = await Client.connect(srv.ws_url(ROOM, token("host", "host")))
        host = await Client.connect(srv.ws_url(ROOM, token("host", "host")))  # a second tab
        viewers = [
            await Client.connect(
                srv.ws_url(ROOM, token(f"v{i}")), fmt="json" if i % 2 else "msgpack"
            )
            for i in range(40)
        ]
        victims = [await Client.connect(srv.ws_url(ROOM, token(f"victim{i}"))) for i in range(2)]
        channel = srv.node.hub.rooms[ROOM]
        conns: dict[str, Connection] = {c.uid: c for c in channel.conns}
        # what the hub writes to: the transport of a LIVE connection
        for uid, exc, on in (
            (
                "victim0",
                RuntimeError("unable to perform operation on <TCPTransport closed=True>"),
                "write",
            ),
            ("victim1", OSError(32, "Broken pipe"), "size"),
        ):
            conn = conns[uid]
            conn.transport = conn.live_transport = ClosedUnderUs(conn.transport, exc, on)
        failures_before, ticks_failed_before = METRICS.write_failures, METRICS.tick_failures

        everyone = [host, *viewers]
        readers = [
            asyncio.create_task(_announcements(c, f"a{ANNOUNCEMENTS - 1}")) for c in everyone
        ]
        acks = [
            await sender.request({"t": "announce", "text": f"a{i}"}) for i in range(ANNOUNCEMENTS)
        ]
        taken = [a["seq"] for a in acks]
        got = await asyncio.gather(*readers)

        # every other viewer and the host got every announcement, in order, once
        for seqs in got:
            assert seqs == taken
        assert METRICS.tick_failures == ticks_failed_before
        assert METRICS.write_failures - failures_before == 2
        # the two are gone from the room, and their sockets were cut, not left dangling
        for uid in ("victim0", "victim1"):
            assert conns[uid] not in channel.conns
            assert uid not in channel.by_uid
        for victim in victims:
            try:
                await victim.closed(timeout=10)
            except (websockets.ConnectionClosed, OSError):
                pass
            assert victim.ws.state is websockets.State.CLOSED

        # and the room goes on
        ack = await sender.request({"t": "announce", "text": "still here"})
        for c in everyone:
            e = await c.events(lambda e: e.get("text") == "still here")
            assert e["seq"] == ack["seq"]
        for c in [sender, *everyone]:
            await c.close()
