"""The room's commerce event stream end to end: one real server per engine, a viewer who
joins from a community channel, grabs and wins a draw; the merchant reads it all from
GET /api/rooms/{room}/events, and on Redis a consumer group reads the same entries."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from liveroom import tokens
from tests.sales.merchant import Merchant
from tests.support.client import Client
from tests.support.server import LiveServer, free_port

ROOM = "stream-show"
PRODUCT = {"sku": "tea-01", "title": "Spring tea", "price_fen": 9900, "appid": "wx1", "page": "p"}
PRIZE = {"title": "Silk scarf", "image": "", "claim_path": "/p/claim"}


@pytest.fixture
def server(server_env: dict[str, str]) -> Iterator[LiveServer]:
    with LiveServer(env=server_env, port=free_port()) as srv:
        yield srv


async def join(srv: LiveServer, uid: str, *, since: int | None = None, **kw: Any) -> Client:
    role = "host" if uid == "host" else "viewer"
    token = tokens.mint_for(srv.secret, uid, room=ROOM, role=role, nick=f"N-{uid}", **kw)
    return await Client.connect(srv.ws_url(ROOM, token, since=since))


async def all_events(m: Merchant) -> list[dict[str, Any]]:
    """Every event of the room, paged as a merchant backend would page them."""
    out: list[dict[str, Any]] = []
    after = "0-0"
    while True:
        page = await m.ok("GET", f"/api/rooms/{ROOM}/events?after={after}&count=2")
        out += page["events"]
        if not page["events"]:
            return out
        after = page["next"]


async def test_joins_grabs_and_draws_share_the_room_stream(
    server: LiveServer, engine_kind: str, redis_url: str, key_prefix: str
) -> None:
    m = Merchant(server.url, server.secret)
    clients: list[Client] = []
    try:
        await m.ok("POST", "/api/products", PRODUCT)
        sale = (await m.ok("POST", f"/api/rooms/{ROOM}/sales", {"sku": "tea-01", "stock": 5}))[
            "sale"
        ]
        host = await join(server, "host")
        amy = await join(server, "amy", tier="member", src="wecom_group")
        clients += [host, amy]
        # the same visit reconnecting, and a host, are not joins to count
        again = await join(server, "amy", since=amy.welcome["seq"], src="wecom_group")  # type: ignore[index]
        clients.append(again)
        grab = {"t": "grab", "sale_id": sale["sale_id"], "request_id": "g1"}
        assert (await amy.request(grab))["t"] == "ack"
        started = await host.request(
            {"t": "start_draw", "prize": PRIZE, "winners": 1, "duration_s": 60}
        )
        draw_id = started["draw_id"]
        assert (await amy.request({"t": "enter_draw", "draw_id": draw_id}))["t"] == "ack"
        closed = await host.request({"t": "close_draw", "draw_id": draw_id})
        assert closed["t"] == "ack"

        # the analytics' per-second `activity` aggregates interleave with the rest
        everything = await all_events(m)
        assert len({e["id"] for e in everything}) == len(everything)
        events = [e for e in everything if e["type"] != "activity"]
        types = [e["type"] for e in events]
        assert types == [
            "sale_created",
            "sale_started",
            "viewer_joined",
            "hold_created",
            "draw_started",
            "draw_entered",
            "draw_closed",
        ]
        joined, hold, draw_start, entered, draw_close = events[2:]
        assert (joined["uid"], joined["tier"], joined["src"]) == ("amy", "member", "wecom_group")
        assert (entered["uid"], entered["draw_id"], entered["src"]) == (
            "amy",
            draw_id,
            "wecom_group",
        )
        assert (hold["uid"], hold["src"]) == ("amy", "wecom_group")
        assert draw_start["draw_id"] == draw_id and draw_start["by"] == "host"
        assert draw_start["commitment"] == started["commitment"]
        assert draw_start["prize"]["title"] == PRIZE["title"]
        assert draw_close["draw_id"] == draw_id and draw_close["room_id"] == ROOM
        assert draw_close["winners"] == [{"uid": "amy", "nick": "N-amy"}]
        assert draw_close["winners"] == closed["winners"]
        assert draw_close["seed"] == closed["seed"] and draw_close["seq"] == closed["seq"]
        assert draw_close["entrants_count"] == 1

        if engine_kind == "redis":
            await consumer_group_reads(redis_url, key_prefix, types)
    finally:
        for c in clients:
            await c.close()
        await m.close()


async def consumer_group_reads(redis_url: str, key_prefix: str, types: list[str]) -> None:
    """A merchant backend on Redis reads the same entries with XREADGROUP."""
    r = aioredis.Redis.from_url(redis_url, decode_responses=True)
    key = f"{key_prefix}:{{{ROOM}}}:sale:events"
    try:
        await r.xgroup_create(key, "crm", id="0")
        [(_, rows)] = await r.xreadgroup("crm", "w1", {key: ">"}, count=100)
        assert [f["type"] for _, f in rows if f["type"] != "activity"] == types
        by_type = {f["type"]: f for _, f in rows}
        assert json.loads(by_type["draw_closed"]["winners"])[0]["uid"] == "amy"
        assert by_type["viewer_joined"]["src"] == "wecom_group"
        assert by_type["hold_created"]["qty"] == "1"
    finally:
        await r.aclose()


async def test_a_cancelled_draw_is_recorded(server: LiveServer) -> None:
    m = Merchant(server.url, server.secret)
    host = await join(server, "host")
    try:
        started = await host.request(
            {"t": "start_draw", "prize": PRIZE, "winners": 1, "duration_s": 60}
        )
        cancelled = await host.request({"t": "cancel_draw", "draw_id": started["draw_id"]})
        assert cancelled["t"] == "ack"
        events = [e for e in await all_events(m) if e["type"] != "activity"]
        assert [e["type"] for e in events] == ["draw_started", "draw_cancelled"]
        assert events[1]["seed"] == cancelled["seed"] and "winners" not in events[1]
    finally:
        await host.close()
        await m.close()
