"""Who gets a socket: half-open connections are closed by the handshake deadline, one
address cannot hold more than its share, and neither gets in the way of real viewers.

Real server processes; the half-open clients are bare TCP sockets doing what a slowloris
attack or a flaky network does: connect and say nothing, stop halfway through the headers,
or send them a byte at a time for ever.
"""

from __future__ import annotations

import asyncio

import pytest
import websockets

from liveroom import tokens
from tests.support.client import Client
from tests.support.rawsock import upgrade_request
from tests.support.server import LiveServer

ROOM = "gate"
HANDSHAKE_S = 3.0


def url(srv: LiveServer, uid: str, role: str = "viewer") -> str:
    return srv.ws_url(ROOM, tokens.mint_for(srv.secret, uid, room=ROOM, role=role))


async def _half_open(
    port: int, kind: str, source: str = "127.0.0.1"
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, asyncio.Task[None] | None]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    request = upgrade_request(f"/ws/rooms/{ROOM}")
    dribble = None
    if kind == "partial":
        writer.write(request[: len(request) // 2])
    elif kind == "byte_at_a_time":

        async def one_byte_at_a_time() -> None:
            # never finishes: by the time the head would be complete the deadline is long past
            for i in range(len(request) - 4):
                try:
                    writer.write(request[i : i + 1])
                    await writer.drain()
                except (ConnectionError, RuntimeError):
                    return
                await asyncio.sleep(0.25)

        dribble = asyncio.create_task(one_byte_at_a_time())
    return reader, writer, dribble


async def _closed_by_server(reader: asyncio.StreamReader, within: float) -> bytes:
    """What the server said before it closed (its 408 / 429), or raise if it never closed."""
    data = b""
    try:
        async with asyncio.timeout(within):
            while chunk := await reader.read(4096):
                data += chunk
    except ConnectionResetError:
        pass
    return data


@pytest.mark.parametrize("engine_kind", ["memory"], indirect=True)
async def test_half_open_flood_is_closed_by_the_deadline_while_viewers_are_served(
    server_env: dict,
) -> None:
    env = {**server_env, "LIVEROOM_HANDSHAKE_TIMEOUT_S": str(HANDSHAKE_S)}
    with LiveServer(env=env) as srv:
        loop = asyncio.get_running_loop()
        started = loop.time()
        flood = []
        for i in range(300):
            flood.append(await _half_open(srv.port, ("silent", "partial", "byte_at_a_time")[i % 3]))
        opened_in = loop.time() - started

        # meanwhile a real viewer joins and hears the host
        viewer = await Client.connect(url(srv, "amy"))
        assert viewer.welcome is not None and viewer.welcome["t"] == "welcome"
        async with await Client.connect(url(srv, "host", "host")) as host:
            ack = await host.request({"t": "announce", "text": "welcome, everyone"})
            got = await viewer.events(lambda e: e.get("type") == "announce")
            assert got["seq"] == ack["seq"]

        # every half-open socket is closed within the deadline (plus slack for two busy
        # cores), each told why
        answers = await asyncio.gather(
            *(_closed_by_server(r, opened_in + HANDSHAKE_S + 10) for r, _, _ in flood)
        )
        for data in answers:
            assert data.startswith(b"HTTP/1.1 408 "), data[:80]
        assert await asyncio.to_thread(srv.metric, "liveroom_handshake_timeouts") == 300

        # the viewer was never disturbed
        late = await Client.connect(url(srv, "bob"))
        await late.close()
        assert (await viewer.request({"t": "ping"}))["t"] == "pong"
        await viewer.close()
        for _, writer, dribble in flood:
            if dribble is not None:
                dribble.cancel()
            writer.close()


@pytest.mark.parametrize("engine_kind", ["memory"], indirect=True)
async def test_one_address_is_capped_and_others_are_served(server_env: dict) -> None:
    cap = 5
    env = {
        **server_env,
        "LIVEROOM_MAX_CONNECTIONS_PER_ADDRESS": str(cap),
        "LIVEROOM_TRUSTED_PROXIES": "none",
        "LIVEROOM_HANDSHAKE_TIMEOUT_S": str(HANDSHAKE_S),
    }
    here, there = {"local_addr": ("127.0.0.1", 0)}, {"local_addr": ("127.0.0.2", 0)}
    with LiveServer(env=env) as srv:
        mine = [await Client.connect(url(srv, f"a{i}"), **here) for i in range(cap)]
        with pytest.raises(websockets.InvalidStatus) as refused:
            await Client.connect(url(srv, "a-too-many"), **here)
        response = refused.value.response
        assert response.status_code == 429
        assert b"too many connections from your address" in response.body
        assert response.headers["Retry-After"] == "10"

        # another address is served as usual
        theirs = [await Client.connect(url(srv, f"b{i}"), **there) for i in range(cap)]
        assert all(c.welcome is not None for c in theirs)

        # a closed socket gives its place back
        await mine.pop().close()
        for _ in range(50):
            try:
                mine.append(await Client.connect(url(srv, "a-again"), **here))
                break
            except websockets.InvalidStatus:
                await asyncio.sleep(0.1)
        assert len(mine) == cap

        # half-open sockets count too, until the deadline closes them
        silent = [await _half_open(srv.port, "silent", "127.0.0.3") for _ in range(cap)]
        extra = await _half_open(srv.port, "silent", "127.0.0.3")
        assert (await _closed_by_server(extra[0], 5)).startswith(b"HTTP/1.1 429 ")
        for reader, _, _ in silent:
            assert (await _closed_by_server(reader, HANDSHAKE_S + 10)).startswith(b"HTTP/1.1 408")
        late = await Client.connect(url(srv, "c-later"), local_addr=("127.0.0.3", 0))
        assert late.welcome is not None

        for c in [*mine, *theirs, late]:
            await c.close()
        for _, writer, _ in [*silent, extra]:
            writer.close()
        await asyncio.sleep(0.5)  # the server sees the closes; /metrics is asked from 127.0.0.1
        assert await asyncio.to_thread(srv.metric, "liveroom_address_refusals") == 2


@pytest.mark.parametrize("engine_kind", ["memory"], indirect=True)
async def test_behind_a_trusted_proxy_the_forwarded_client_is_capped(server_env: dict) -> None:
    env = {
        **server_env,
        "LIVEROOM_MAX_CONNECTIONS_PER_ADDRESS": "2",
        "LIVEROOM_TRUSTED_PROXIES": "127.0.0.1",
    }

    def via_proxy(chain: str) -> dict:
        return {"local_addr": ("127.0.0.1", 0), "additional_headers": {"X-Forwarded-For": chain}}

    with LiveServer(env=env) as srv:
        # the proxy itself is not capped: many clients reach us through it
        direct = [
            await Client.connect(url(srv, f"p{i}"), local_addr=("127.0.0.1", 0)) for i in range(4)
        ]
        # a client that forged its own X-Forwarded-For is still the client the proxy saw
        amy = [
            await Client.connect(url(srv, f"amy{i}"), **via_proxy("10.9.9.9, 203.0.113.7"))
            for i in range(2)
        ]
        with pytest.raises(websockets.InvalidStatus) as refused:
            await Client.connect(url(srv, "amy-3"), **via_proxy("10.1.1.1, 203.0.113.7"))
        assert refused.value.response.status_code == 429
        bob = await Client.connect(url(srv, "bob"), **via_proxy("203.0.113.8"))
        # an untrusted peer cannot pick the address it is counted under
        spoof = [
            await Client.connect(
                url(srv, f"s{i}"),
                local_addr=("127.0.0.2", 0),
                additional_headers={"X-Forwarded-For": f"198.51.100.{i}"},
            )
            for i in range(2)
        ]
        with pytest.raises(websockets.InvalidStatus):
            await Client.connect(
                url(srv, "s3"),
                local_addr=("127.0.0.2", 0),
                additional_headers={"X-Forwarded-For": "198.51.100.77"},
            )
        for c in [*direct, *amy, bob, *spoof]:
            await c.close()
