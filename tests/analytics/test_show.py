"""A whole show, end to end, and the report has every number the show made.

On Redis two `liveroom serve` processes share one Redis and the viewers are spread over
both; on memory one process does it all. Viewers come through three share codes (one an
offline store's QR code), a channel without a code, a link with a code that is not the
room's, and directly; they comment, tap likes, click products, grab; some pay, some holds
run out; a draw runs. Then: the report has exactly what the test did, the export holds
every event, the rebuild from the stream finds the same figures, and each viewer is in
the segments the rules say.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from liveroom import tokens
from liveroom.settings import DEV_SECRET
from tests.sales.merchant import Merchant
from tests.support.client import Client
from tests.support.server import LiveServer

ROOM, PREV = "spring-show", "winter-show"
DORMANT_S = 4.0  # a viewer not seen for this long is dormant (in days, for the server)
ENV = {
    "LIVEROOM_ANALYTICS_PROFILE_FLUSH_S": "0.5",
    "LIVEROOM_ANALYTICS_BUCKET_S": "2",
    "LIVEROOM_SEGMENT_DORMANT_DAYS": repr(DORMANT_S / 86400),
    "LIVEROOM_SEGMENT_ACTIVE_SHOWS": "2",
    "LIVEROOM_SEGMENT_HIGH_VALUE_FEN": "200",
}


@pytest.fixture
def servers(
    engine_kind: str, server_env: dict[str, str]
) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two processes on one Redis; on memory, one process plays both."""
    with ExitStack() as stack:
        a = stack.enter_context(LiveServer(env={**server_env, **ENV}))
        b = a
        if engine_kind == "redis":
            b = stack.enter_context(LiveServer(env={**server_env, **ENV}))
        yield a, b


@pytest.fixture
async def merchant(servers: tuple[LiveServer, LiveServer]) -> AsyncIterator[Merchant]:
    m = Merchant(servers[1].url, DEV_SECRET)  # the backend talks to the other process
    yield m
    await m.close()


def token(uid: str, room: str = ROOM, **claims: str) -> str:
    return tokens.mint_for(DEV_SECRET, uid, room=room, **claims)


async def until(check: Callable[[], Awaitable[Any]], what: str, timeout: float = 20) -> Any:
    """Poll `check` until it returns something truthy (flushes run every second)."""
    deadline = time.monotonic() + timeout
    while True:
        got = await check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"never: {what}")
        await asyncio.sleep(0.25)


class Show:
    """The viewers' side: who is connected where, and how long each session lasted."""

    def __init__(self, servers: tuple[LiveServer, LiveServer]) -> None:
        self.servers = servers
        self.sessions: dict[str, tuple[Client, float]] = {}
        self.watched_s = 0.0  # summed session lengths of viewers (hosts not counted)

    async def join(self, name: str, server: int, query: str, *, room: str = ROOM) -> Client:
        url = self.servers[server].ws_url(room) + query
        client = await Client.connect(url)  # welcomed: the server counts from there
        self.sessions[name] = (client, time.monotonic())
        return client

    async def leave(self, name: str) -> None:
        client, since = self.sessions.pop(name)
        await client.close()
        if name != "host":
            self.watched_s += time.monotonic() - since

    async def leave_all(self) -> None:
        for name in list(self.sessions):
            await self.leave(name)


async def test_a_whole_show_is_in_its_report(
    servers: tuple[LiveServer, LiveServer], merchant: Merchant
) -> None:
    show = Show(servers)
    A, B = 0, 1

    # -- before: an earlier show, with a viewer who never comes back and one who does ----
    old = await show.join("old", A, f"?token={token('u-old', PREV)}", room=PREV)
    ret = await show.join("ret", A, f"?token={token('u-ret', PREV)}", room=PREV)
    assert old.welcome and ret.welcome
    await show.leave_all()
    show.watched_s = 0.0
    old_left = int(time.time() * 1000)  # u-old is last seen about now

    # -- the merchant sets up: products and three share codes ----------------------------
    for sku, price in (("tea", 100), ("cup", 250)):
        await merchant.ok("POST", "/api/products", {"sku": sku, "title": sku, "price_fen": price})

    async def share(kind: str, oid: str, channel: str) -> str:
        body = {"owner": {"kind": kind, "id": oid, "name": oid.title()}, "channel": channel}
        created = await merchant.ok("POST", f"/api/rooms/{ROOM}/share-codes", body)
        return created["share_code"]["code"]

    koc = await share("koc", "amy", "wecom_group")
    dist = await share("distributor", "bob", "moments")
    store = await share("staff", "shop-7", "offline_store")  # the QR code on the counter

    # -- everybody arrives ---------------------------------------------------------------
    opened = time.monotonic()
    host = await show.join("host", A, f"?token={token('host', role='host')}")
    v = {
        "a1": await show.join("a1", A, f"?token={token('u-a1', ref=koc)}"),
        "a2": await show.join("a2", B, f"?token={token('u-a2', ref=koc)}"),
        "anon_a": await show.join("anon_a", B, f"?ref={koc}"),
        "b1": await show.join("b1", A, f"?token={token('u-b1', ref=dist)}"),
        "c1": await show.join("c1", B, f"?token={token('u-c1')}&ref={store}"),
        "anon_c": await show.join("anon_c", A, f"?ref={store}&src=poster"),
        "d1": await show.join("d1", A, f"?token={token('u-d1')}"),
        "m1": await show.join("m1", B, f"?token={token('u-m1', src='moments')}"),
        "x1": await show.join("x1", A, f"?token={token('u-x1')}&ref=WXYZ6789"),
        "ret": await show.join("ret", B, f"?token={token('u-ret')}"),
    }
    seen = {name: c.welcome["attribution"] for name, c in v.items() if c.welcome}
    assert seen["a2"] == {"ref": koc, "src": "wecom_group"}
    assert seen["anon_c"] == {"ref": store, "src": "offline_store"}  # the code's channel
    assert seen["m1"] == {"ref": "", "src": "moments"}
    assert seen["x1"]["ref"] == "" and seen["x1"]["src"] == "direct"
    assert seen["x1"]["ignored"]["code"] == "unknown_ref"  # told, and let in all the same

    async def report() -> dict[str, Any]:
        return (await merchant.ok("GET", f"/api/rooms/{ROOM}/report"))["report"]

    peak = 1 + len(v)  # the host counts in the room's viewer count
    await until(lambda: _is(report, lambda r: r["viewers"]["peak"] == peak), "the peak")
    figures = await host.expect("figures")
    assert figures["unique"] >= 1 and figures["viewers"] >= 1

    # -- b1 leaves and comes back through the store's code: still the distributor's ------
    await show.leave("b1")
    v["b1"] = await show.join("b1", A, f"?token={token('u-b1')}&ref={store}")
    assert v["b1"].welcome and v["b1"].welcome["attribution"]["ref"] == dist

    # -- comments, likes, clicks ---------------------------------------------------------
    for name in ("a1", "a1", "b1", "c1", "d1", "m1"):
        assert (await v[name].request({"t": "comment", "text": "hi"}))["t"] == "ack"
    await v["a2"].send({"t": "like", "n": 5})
    await v["c1"].send({"t": "like", "n": 3})
    clicks = [("a1", "tea"), ("a1", "cup"), ("b1", "tea"), ("c1", "tea"), ("anon_a", "tea")]
    for name, sku in [*clicks, ("m1", "cup")]:
        assert (await v[name].request({"t": "product_click", "sku": sku}))["t"] == "ack"

    # -- a flash sale: four holds, two paid, two run out ----------------------------------
    sale = await host.request(
        {"t": "start_sale", "sku": "tea", "stock": 10, "limit_per_user": 2, "hold_s": 2}
    )
    sale_id = sale["sale"]["sale_id"]
    tickets = {}
    for name, qty in (("a1", 1), ("b1", 2), ("c1", 1), ("d1", 1)):
        ack = await v[name].request(
            {"t": "grab", "sale_id": sale_id, "qty": qty, "request_id": name}
        )
        assert ack["t"] == "ack", ack
        tickets[name] = ack["checkout"]["ticket"]
    for name in ("a1", "b1"):
        await merchant.ok(
            "POST", "/api/checkout/confirm", {"ticket": tickets[name], "order_id": name}
        )

    # -- a lucky draw: three enter, one wins ----------------------------------------------
    start = {"t": "start_draw", "prize": {"title": "Scarf"}, "winners": 1, "duration_s": 60}
    draw_id = (await host.request(start))["draw_id"]
    for name in ("a1", "b1", "ret"):
        entered = await v[name].request({"t": "enter_draw", "draw_id": draw_id})
        assert entered.get("entered"), entered
    assert (await host.request({"t": "close_draw", "draw_id": draw_id}))["t"] == "ack"

    await asyncio.sleep(2.5)  # the unpaid holds run out; every process sweeps
    leaving = int(time.time() * 1000)  # this show's viewers are last seen from now on
    for name in v:  # the viewers leave, then the host ends the show: the report is final
        await show.leave(name)
    await host.request({"t": "end"})
    await show.leave("host")
    lasted = time.monotonic() - opened

    # -- the report: exactly what happened ------------------------------------------------
    expected = {
        "joins": 11,  # 8 logged-in viewers, b1 twice, 2 anonymous
        "comments": 6,
        "likes": 8,
        "clicks": 6,
        "holds": 4,
        "paid": 2,
        "paid_fen": 300,
        "paid_units": 3,
        "expired": 2,
        "cancelled": 0,
    }
    sources = {  # joins, viewers, comments, likes, clicks, holds, paid, paid_fen, entries
        koc: (3, 3, 2, 5, 3, 1, 1, 100, 1),
        dist: (2, 1, 1, 0, 1, 1, 1, 200, 1),
        store: (2, 2, 1, 3, 1, 1, 0, 0, 0),
        "direct": (3, 3, 1, 0, 0, 1, 0, 0, 1),
        "moments": (1, 1, 1, 0, 1, 0, 0, 0, 0),
    }
    metrics = ("joins", "viewers", "comments", "likes", "clicks", "holds", "paid", "paid_fen")

    def watch_ok(r: dict[str, Any]) -> bool:
        # every viewer session, from its welcome to its close (the report counts whole
        # seconds); the last ones arrive with the last flush after the viewers left
        return show.watched_s - 2 <= r["viewers"]["watch_s"] <= show.watched_s + 1

    def settled(r: dict[str, Any]) -> bool:
        return (
            watch_ok(r)
            and all(r[k] == n for k, n in expected.items())
            and r["viewers"]["unique"] == 10
            and r["draws"]["entries"] == 3
            and all(
                tuple(r["sources"].get(k, {}).get(m) for m in (*metrics, "draw_entries")) == want
                for k, want in sources.items()
            )
        )

    r = await until(lambda: _is(report, settled), "the report adds up", timeout=30)
    assert {k: r[k] for k in expected} == expected
    assert r["viewers"]["unique"] == 10 and r["viewers"]["peak"] == peak
    assert r["final"] and r["status"] == "ended"
    # the show ends with the activity record of the first flush after the last leave (one
    # a second, later when the box is loaded)
    assert lasted - 3 <= r["duration_s"] <= lasted + 3, (r["duration_s"], lasted)
    assert set(r["sources"]) == set(sources)
    for key, want in sources.items():
        assert tuple(r["sources"][key][m] for m in (*metrics, "draw_entries")) == want, key
    assert r["sources"][store]["channel"] == "offline_store"
    assert r["sources"][store]["owner"] == {"kind": "staff", "id": "shop-7", "name": "Shop-7"}
    assert r["products"]["tea"] == {
        "clicks": 4,
        "holds": 4,
        "paid": 2,
        "paid_fen": 300,
        "paid_units": 3,
        "expired": 2,
        "cancelled": 0,
    }
    assert r["products"]["cup"]["clicks"] == 2 and r["products"]["cup"]["holds"] == 0
    assert r["draws"]["count"] == 1
    assert r["draws"]["list"][0] | {"started_at": 0} == {
        "draw_id": draw_id,
        "state": "closed",
        "started_at": 0,
        "entrants": 3,
        "winners": 1,
    }
    assert [i["owner"]["id"] for i in r["inviters"]] == ["bob", "amy", "shop-7"]
    assert r["conversion"]["viewer_to_order"] == 0.2
    assert watch_ok(r), (r["viewers"]["watch_s"], show.watched_s)
    points = r["series"]["points"]
    assert sum(p["comments"] for p in points) == 6 and sum(p["joins"] for p in points) == 11
    assert max(p["viewers"] for p in points) == peak

    # -- the export holds every event of the room's stream --------------------------------
    ndjson = (await merchant.call("GET", f"/api/rooms/{ROOM}/export.ndjson")).text
    exported = [json.loads(line) for line in ndjson.splitlines()]
    everything = await _stream(merchant)
    assert exported == everything
    types = [e["type"] for e in exported]
    for etype, n in (
        ("viewer_joined", 9),
        ("hold_created", 4),
        ("hold_paid", 2),
        ("hold_expired", 2),
        ("draw_entered", 3),
        ("draw_closed", 1),
    ):
        assert types.count(etype) == n, etype
    assert "activity" in types
    rows = list(
        csv.DictReader(
            io.StringIO((await merchant.call("GET", f"/api/rooms/{ROOM}/export.csv")).text)
        )
    )
    assert [row["id"] for row in rows] == [e["id"] for e in everything]
    paid = [row for row in rows if row["type"] == "hold_paid"]
    assert sorted((row["uid"], row["ref"], row["src"]) for row in paid) == [
        ("u-a1", koc, "wecom_group"),
        ("u-b1", dist, "moments"),
    ]

    # -- the same figures, rebuilt from the stream alone ----------------------------------
    rebuilt = (await merchant.ok("POST", f"/api/rooms/{ROOM}/report/rebuild", {}))["rebuild"]
    assert rebuilt["differences"] == []
    assert rebuilt["events"] == len(everything)
    again = rebuilt["report"]
    for k in (*expected, "sources", "products", "draws", "series", "started_at"):
        assert again[k] == r[k], k
    assert again["viewers"] == r["viewers"] | {"now": None}  # nobody counts "now" there

    # -- each viewer in the segments the rules say ----------------------------------------
    # "now" for the segments: DORMANT_S after halfway between u-old's last visit and this
    # show's leaves (seconds apart), so u-old is dormant and the rest are not, however
    # long the leaves took on a loaded box
    as_of = (old_left + leaving) // 2 + int(DORMANT_S * 1000)
    assert leaving - old_left >= 2000

    async def segment(name: str) -> set[str]:
        listed = await merchant.ok("GET", f"/api/segments/{name}?as_of={as_of}&count=3")
        uids = {p["uid"] for p in listed["viewers"]}
        while listed["next"]:
            listed = await merchant.ok(
                "GET", f"/api/segments/{name}?cursor={listed['next']}&count=3"
            )
            uids |= {p["uid"] for p in listed["viewers"]}
        return uids

    everyone = {"u-a1", "u-a2", "u-b1", "u-c1", "u-d1", "u-m1", "u-x1"}
    await until(lambda: _segment_is(segment, "new", everyone), "the profiles are written")
    assert await segment("returning") == {"u-ret"}
    assert await segment("active") == {"u-ret"}
    assert await segment("high_value") == {"u-b1"}
    assert await segment("dormant") == {"u-old"}
    c1 = (await merchant.ok("GET", f"/api/viewers/u-c1?as_of={as_of}"))["viewer"]
    assert c1["segments"] == ["new"] and c1["comments"] == 1 and c1["holds"] == 1
    assert c1["tags"] == ["clicked_not_bought:tea", "held_not_paid:tea"]
    b1 = (await merchant.ok("GET", f"/api/viewers/u-b1?as_of={as_of}"))["viewer"]
    assert (b1["shows"], b1["paid"], b1["spend_fen"], b1["bought"]) == (1, 1, 200, {"tea": 2})
    assert b1["segments"] == ["new", "high_value"] and b1["last_room"] == ROOM
    assert b1["watch_s"] >= 1
    exported_new = (await merchant.call("GET", f"/api/segments/new/export.csv?as_of={as_of}")).text
    assert {row["uid"] for row in csv.DictReader(io.StringIO(exported_new))} == everyone


async def _is(read: Callable[[], Awaitable[dict[str, Any]]], pred: Callable[[dict], bool]) -> Any:
    got = await read()
    return got if pred(got) else None


async def _segment_is(
    read: Callable[[str], Awaitable[set[str]]], name: str, want: set[str]
) -> bool:
    return await read(name) == want


async def _stream(merchant: Merchant) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    after = "0-0"
    while True:
        page = await merchant.ok("GET", f"/api/rooms/{ROOM}/events?after={after}&count=1000")
        if not page["events"]:
            return out
        out += page["events"]
        after = page["next"]


async def test_a_process_that_dies_stops_counting_watch_time(
    redis_url: str, key_prefix: str
) -> None:
    """Watch time is counted by each process for its own connections, a flush at a time:
    when a process dies, its viewers stop watching in the figures (no leave ever comes)."""
    env = {"LIVEROOM_REDIS_URL": redis_url, "LIVEROOM_KEY_PREFIX": key_prefix, **ENV}
    with LiveServer(env=env) as doomed, LiveServer(env=env) as survivor:
        merchant = Merchant(survivor.url, DEV_SECRET)
        clients = [await Client.connect(doomed.ws_url(ROOM, token(f"u{i}"))) for i in range(3)]
        clients.append(await Client.connect(survivor.ws_url(ROOM, token("u9"))))

        async def watched() -> int:
            resp = await merchant.call("GET", f"/api/rooms/{ROOM}/report")
            if resp.status_code == 404:
                return 0  # nothing flushed yet
            return resp.json()["report"]["viewers"]["watch_s"]

        try:

            async def enough() -> bool:
                return await watched() >= 6

            await until(enough, "four viewers watching")
            doomed.kill()  # no shutdown, no leave: as a crash
            await asyncio.sleep(1.5)  # the survivor's next flush
            before = await watched()
            await asyncio.sleep(4)
            grown = await watched() - before
            assert 2 <= grown <= 6, grown  # one viewer's 4 s, not four viewers' 16 s
        finally:
            for client in clients:
                with contextlib.suppress(Exception):
                    await client.close()
            await merchant.close()
