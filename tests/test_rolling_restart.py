"""A rolling restart during a flash sale loses nothing (docs/operations.md, *Graceful restarts*).

Two `liveroom serve` processes on one Redis, 1,000 real viewers spread over both, a host,
comments flowing and a flash sale with grabs in flight. One process gets SIGTERM: it stops
reading new frames, lets the ones being handled finish, closes every viewer with 1012 and
the `since` to resume from, and exits. Its viewers come back on the other process (the
test plays the load balancer) with that `since`; frames the closing process never started
are sent again, unchanged, where they reconnect.

Then every viewer has seen every room event exactly once, in order; every grab has exactly
one answer and the store agrees with the answers; every host announcement and comment is
in the room once.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from typing import Any

import psutil
import pytest

from liveroom import tokens
from liveroom.protocol import CLOSE_SERVICE_RESTART
from tests.sales.merchant import Merchant
from tests.sales.test_grab_concurrency import Check
from tests.support.client import Client, ResumingClient
from tests.support.marks import crowd
from tests.support.poll import poll_until
from tests.support.server import LiveServer

ROOM = "rolling"
VIEWERS = 1000
GRABBERS = 600
STOCK = 200
COMMENTERS = 10
LIKERS = range(700, 800)
WINDOW_S = 4.0  # grabs, comments and announcements spread over this; SIGTERM in its middle


@pytest.fixture
def two_servers(redis_url: str, key_prefix: str) -> Iterator[tuple[LiveServer, LiveServer]]:
    env = {"LIVEROOM_REDIS_URL": redis_url, "LIVEROOM_KEY_PREFIX": key_prefix}
    with LiveServer(env=env) as a, LiveServer(env=env) as b:
        yield a, b


def _consecutive(events: list[dict[str, Any]]) -> bool:
    seqs = [e["seq"] for e in events]
    return seqs == list(range(seqs[0], seqs[0] + len(seqs))) if seqs else True


@pytest.mark.timeout(420)
@crowd
async def test_sigterm_mid_sale_hands_every_viewer_over_with_nothing_lost(
    two_servers: tuple[LiveServer, LiveServer],
) -> None:
    a, b = two_servers
    merchant = Merchant(b.url, b.secret)
    await merchant.ok("POST", "/api/products", {"sku": "tea", "title": "Tea", "price_fen": 100})
    sale = await merchant.ok(
        "POST",
        f"/api/rooms/{ROOM}/sales",
        {"sku": "tea", "stock": STOCK, "limit_per_user": 1, "hold_s": 600},
    )
    sid = sale["sale"]["sale_id"]
    check = Check(merchant, ROOM, sid)

    a_stopping = False

    def balancer(start_on: LiveServer, uid: str, role: str = "viewer") -> Any:
        token = tokens.mint_for(a.secret, uid, room=ROOM, role=role, ttl_s=3600)

        def url_for(since: int | None) -> str:
            srv = b if a_stopping else start_on
            return srv.ws_url(ROOM, token, since=since)

        return url_for

    host = ResumingClient(balancer(a, "host", "host"))
    await host.start()
    viewers = [ResumingClient(balancer(a if i % 2 else b, f"u{i}")) for i in range(VIEWERS)]
    for i in range(0, VIEWERS, 100):
        await asyncio.gather(*(v.start() for v in viewers[i : i + 100]))
    on_a = {i for i in range(VIEWERS) if i % 2}

    # the show: grabs, comments and host announcements spread over the window
    loop = asyncio.get_running_loop()
    t0 = loop.time() + 0.5

    async def at(offset: float) -> None:
        await asyncio.sleep(max(0.0, t0 + offset - loop.time()))

    async def grab(i: int) -> dict[str, Any]:
        await at(WINDOW_S * i / GRABBERS)
        frame = {"t": "grab", "sale_id": sid, "qty": 1, "request_id": f"g-{i}"}
        return await viewers[i].request(frame)

    async def comments(i: int) -> list[dict[str, Any]]:
        out = []
        for k in range(4):
            await at(WINDOW_S * k / 4 + i * 0.1)
            out.append(
                await viewers[i].request({"t": "comment", "text": f"c{i}-{k}", "id": f"c{i}-{k}"})
            )
        return out

    async def likes(i: int) -> list[dict[str, Any]]:
        out = []
        for k in range(3):
            await at(WINDOW_S * k / 3 + (i % 10) * 0.13)
            out.append(await viewers[i].request({"t": "like", "n": 1 + i % 5}))
        return out

    async def announcements() -> list[dict[str, Any]]:
        out = []
        for k in range(16):
            await at(WINDOW_S * k / 16)
            out.append(await host.request({"t": "announce", "text": f"a{k}"}))
        return out

    grabs = asyncio.gather(*(grab(i) for i in range(GRABBERS)))
    talk = asyncio.gather(*(comments(i) for i in range(GRABBERS, GRABBERS + COMMENTERS)))
    said = asyncio.create_task(announcements())
    tap = asyncio.gather(*(likes(i) for i in LIKERS))

    await at(WINDOW_S / 2)
    a_stopping = True  # the balancer sends newcomers to B from now on
    a.proc.send_signal(signal.SIGTERM)
    exit_code = await asyncio.to_thread(a.proc.wait, 60)
    # uvicorn re-raises the signal once it has shut down, so a clean exit reads as SIGTERM
    assert exit_code in (0, -signal.SIGTERM), a.log()[-2000:]

    grab_answers: list[dict[str, Any]] = await asyncio.wait_for(grabs, 120)
    comment_acks = [ack for per in await asyncio.wait_for(talk, 120) for ack in per]
    announce_acks = await asyncio.wait_for(said, 120)
    like_acks = [ack for per in await asyncio.wait_for(tap, 120) for ack in per]

    # everyone on A was handed over: a 1012 naming the last seq it had been sent, which is
    # the last seq it had seen; nobody on B was disturbed
    for i, v in enumerate(viewers):
        if i in on_a:
            assert [c[0] for c in v.closes] == [CLOSE_SERVICE_RESTART], (i, v.closes)
            _, reason, seen = v.closes[0]
            assert json.loads(reason) == {"reconnect": True, "since": seen}
            assert v.welcomes[-1]["recovered"] is True
        else:
            assert v.closes == [], (i, v.closes)
    assert [c[0] for c in host.closes] == [CLOSE_SERVICE_RESTART]

    # every request got one answer; nothing done twice
    acks = comment_acks + announce_acks + like_acks
    assert all(ack["t"] == "ack" for ack in acks), [x for x in acks if x["t"] != "ack"]
    holds = {}
    for i, answer in enumerate(grab_answers):
        if answer["t"] == "ack":
            hold = answer["hold"]
            assert hold["qty"] == 1
            holds[hold["hold_id"]] = i
        else:
            assert answer["code"] == "sold_out", answer
    assert len(holds) == STOCK  # 600 asked for 200 units: all sold, none twice
    s = await check()
    assert (s.available, s.held, s.sold) == (0, STOCK, 0)
    assert check.takens == {f"u{i}": 1 for i in holds.values()}

    # the end: one more announcement; then compare what everyone saw
    end = await host.request({"t": "announce", "text": "the end"})
    assert await poll_until(lambda: all(v.seq >= end["seq"] for v in viewers), 60, 0.2), [
        i for i, v in enumerate(viewers) if v.seq < end["seq"]
    ][:10]
    reference = {e["seq"]: e for e in viewers[0].events}  # on B all along
    for i, v in enumerate(viewers):
        assert _consecutive(v.events), (i, [e["seq"] for e in v.events][:50])
        assert v.events[-1]["seq"] == end["seq"]
        for e in v.events:
            ref = reference.get(e["seq"])
            assert ref is None or (ref["type"], ref.get("id"), ref.get("text")) == (
                e["type"],
                e.get("id"),
                e.get("text"),
            )
    # every tap counted once, the ones the stopped process held included
    taps = sum(3 * (1 + i % 5) for i in LIKERS)
    assert await poll_until(lambda: viewers[0].likes == taps, 20), (viewers[0].likes, taps)
    room_events = viewers[0].events
    said_in_room = Counter(e["text"] for e in room_events if e["type"] == "announce")
    assert said_in_room == Counter([f"a{k}" for k in range(16)] + ["the end"])
    commented = Counter(e["text"] for e in room_events if e["type"] == "comment")
    assert commented == Counter(
        f"c{i}-{k}" for i in range(GRABBERS, GRABBERS + COMMENTERS) for k in range(4)
    )
    # the first events of the show are in the reference too
    assert min(reference) <= announce_acks[0]["seq"]

    print(
        f"{len(on_a)} viewers handed over; {sum(v.resent for v in [host, *viewers])} frames "
        f"sent again after the close; {len(reference)} events"
    )
    for v in [host, *viewers]:
        await v.stop()
    await merchant.close()


async def test_with_workers_every_worker_drains_its_viewers(
    redis_url: str, key_prefix: str
) -> None:
    # uvicorn's supervisor and workers log their shutdown steps at info: a failure shows them
    env = {
        "LIVEROOM_REDIS_URL": redis_url,
        "LIVEROOM_KEY_PREFIX": key_prefix,
        "LIVEROOM_LOG_LEVEL": "info",
    }
    with LiveServer(env=env, workers=2) as srv:
        # /readyz answered from one worker; the other may still be starting, and would then
        # get no viewer at all
        assert await poll_until(lambda: srv.log().count("Application startup complete") == 2, 30)
        token = {f"w{i}": tokens.mint_for(srv.secret, f"w{i}", room=ROOM) for i in range(40)}
        viewers = [
            ResumingClient(lambda since, t=t: srv.ws_url(ROOM, t, since=since))
            for t in token.values()
        ]
        for v in viewers:
            await v.start()
        host = await Client.connect(srv.ws_url(ROOM, tokens.mint_for(srv.secret, "h", role="host")))
        ack = await host.request({"t": "announce", "text": "before"})
        assert await poll_until(lambda: all(v.seq >= ack["seq"] for v in viewers), 20)
        # both workers hold viewers (the kernel spreads accepted sockets over them)
        workers = [
            p
            for p in psutil.Process(srv.proc.pid).children()
            if "spawn_main" in " ".join(p.cmdline())  # not multiprocessing's resource tracker
        ]
        assert len(workers) == 2
        held = [
            sum(
                1
                for c in w.net_connections("tcp")
                if c.status == "ESTABLISHED" and c.laddr.port == srv.port
            )
            for w in workers
        ]
        assert all(n > 0 for n in held), held

        seen = {id(v): v.seq for v in viewers}
        srv.proc.send_signal(signal.SIGTERM)
        assert await poll_until(lambda: all(v.closes for v in viewers), 30)
        for v in viewers:
            code, reason, at = v.closes[0]
            assert code == CLOSE_SERVICE_RESTART
            assert (
                json.loads(reason) == {"reconnect": True, "since": seen[id(v)]}
                and at == seen[id(v)]
            )
        try:
            exit_code = await asyncio.to_thread(srv.proc.wait, 60)
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"the server did not exit 60 s after SIGTERM; its log:\n{srv.log()[-6000:]}"
            )
        assert exit_code in (0, -signal.SIGTERM)
        for v in viewers:
            await v.stop()
        await host.close()
