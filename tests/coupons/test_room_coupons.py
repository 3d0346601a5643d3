"""Coupon drops in a live room, end to end: a real server (memory and Redis), real
sockets, signed merchant calls."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs, urlparse

import pytest

from liveroom import tokens
from liveroom.coupons import ticket as coupon_ticket
from liveroom.sales.store import now_ms
from tests.sales.merchant import Merchant
from tests.support.client import Client
from tests.support.server import LiveServer

ROOM = "shop"
TEMPLATE = {
    "title": "¥10 off",
    "kind": "threshold",
    "spend_fen": 5000,
    "amount_fen": 1000,
    "valid_days": 7,
    "total": 100,
    "skus": ["tea-01"],
}


@pytest.fixture
async def merchant(merchant: Merchant) -> Merchant:
    """The shared merchant client (tests/conftest.py), with what this module needs."""
    await merchant.ok("PUT", "/api/coupons/mj", TEMPLATE)
    return merchant


async def connect(srv: LiveServer, uid: str, room: str = ROOM, **kw: str) -> Client:
    return await Client.connect(srv.ws_url(room, tokens.mint_for(srv.secret, uid, room=room, **kw)))


async def test_host_drops_viewers_claim_and_see_it_live(
    live_server: LiveServer, merchant: Merchant
) -> None:
    host = await connect(live_server, "host", role="host")
    amy = await connect(live_server, "amy", src="wecom_group")
    bob = await connect(live_server, "bob")
    ack = await host.request(
        {"t": "drop_coupon", "template_id": "mj", "count": 2, "duration_s": 300}
    )
    assert ack["t"] == "ack", ack
    drop = ack["drop"]
    drop_id = drop["drop_id"]
    assert (drop["count"], drop["remaining"], drop["status"], drop["title"]) == (
        2,
        2,
        "live",
        "¥10 off",
    )
    assert drop["coupon"]["kind"] == "threshold" and drop["coupon"]["spend_fen"] == 5000
    assert drop["ends_at"] - drop["starts_at"] == 300_000 and "phrase" not in drop
    event = await amy.events(lambda e: e["type"] == "drop")
    assert event["drop"] == drop and event["by"] == "host"

    got = await amy.request({"t": "claim", "drop_id": drop_id, "request_id": "r1"})
    assert got["t"] == "ack" and got["duplicate"] is False
    coupon, hand_off = got["coupon"], got["ticket"]
    assert (coupon["uid"], coupon["drop_id"], coupon["status"]) == ("amy", drop_id, "issued")
    assert coupon["skus"] == ["tea-01"] and coupon["template_id"] == "mj"
    query = parse_qs(urlparse(hand_off["path"]).query)
    assert query["ticket"] == [hand_off["ticket"]] and hand_off["path"].startswith("pages/coupon/")
    t = coupon_ticket.verify(live_server.secret, hand_off["ticket"])
    assert (t.room_id, t.coupon_id, t.uid) == (ROOM, coupon["coupon_id"], "amy")
    again = await amy.request({"t": "claim", "drop_id": drop_id, "request_id": "r1"})
    assert again["duplicate"] is True and again["coupon"] == coupon and again["ticket"] == hand_off
    more = await amy.request({"t": "claim", "drop_id": drop_id, "request_id": "r2"})
    assert (more["t"], more["code"], more["drop_id"]) == ("error", "over_limit", drop_id)
    await bob.until(lambda f: f.get("drops", {}).get(drop_id) == 1)  # the live count
    assert (await bob.request({"t": "claim", "drop_id": drop_id, "request_id": "x"}))["t"] == "ack"
    cat = await connect(live_server, "cat")
    assert [d["drop_id"] for d in cat.welcome["drops"]] == [drop_id]  # type: ignore[index]
    assert cat.welcome["drops"][0]["remaining"] == 0  # type: ignore[index]
    assert cat.welcome["coupons"] == []  # type: ignore[index]
    sold = await cat.request({"t": "claim", "drop_id": drop_id, "request_id": "x"})
    assert (sold["code"], sold["available"]) == ("sold_out", 0)
    # a returning viewer finds their coupon (and its ticket) in the welcome
    amy2 = await connect(live_server, "amy")
    assert amy2.welcome["coupons"] == [{"coupon": coupon, "ticket": hand_off}]  # type: ignore[index]
    assert "sales" in amy2.welcome and amy2.welcome["sales"] == []  # type: ignore[index]

    stopped = await host.request({"t": "stop_drop", "drop_id": drop_id})
    assert stopped["drop"]["status"] == "ended"
    ended = await bob.events(lambda e: e["type"] == "drop_ended")
    assert ended == {**ended, "drop_id": drop_id, "by": "host"}
    late = await bob.request({"t": "claim", "drop_id": drop_id, "request_id": "late"})
    assert late["code"] in ("ended", "over_limit")
    body = await merchant.ok("GET", f"/api/rooms/{ROOM}/drops/{drop_id}")
    assert sorted(c["uid"] for c in body["claims"]) == ["amy", "bob"]
    assert body["drop"]["claimed"] == 2 and body["drop"]["status"] == "ended"
    events = (await merchant.ok("GET", f"/api/rooms/{ROOM}/events?count=1000"))["events"]
    issued = [e for e in events if e["type"] == "coupon_issued"]
    assert [(e["uid"], e["src"]) for e in issued] == [("amy", "wecom_group"), ("bob", "direct")]
    assert [e["type"] for e in events if e["type"].startswith("drop_")] == [
        "drop_created",
        "drop_ended",
    ]
    for c in (host, amy, bob, cat, amy2):
        await c.close()


async def test_refusals_are_clear(live_server: LiveServer, merchant: Merchant) -> None:
    host = await connect(live_server, "host", role="host")
    viewer = await connect(live_server, "v1")
    anon = await Client.connect(live_server.ws_url(ROOM))
    bad = [
        ({"template_id": "nope", "count": 1}, "no_such_template"),
        ({"template_id": "mj", "count": 101}, "template_exhausted"),
        ({"template_id": "mj", "count": 1, "duration_s": 0}, "bad_drop"),
        ({"template_id": "mj", "count": 1, "phrase": "  "}, "bad_drop"),
        ({"template_id": "mj", "count": 0}, "bad_field"),
    ]
    for frame, code in bad:
        answer = await host.request({"t": "drop_coupon", **frame})
        assert answer["code"] == code, (frame, answer)
    forbidden = await viewer.request({"t": "drop_coupon", "template_id": "mj", "count": 1})
    assert forbidden["code"] == "forbidden"
    phrase = await host.request(
        {"t": "drop_coupon", "template_id": "mj", "count": 5, "phrase": "口令 666"}
    )
    drop_id = phrase["drop"]["drop_id"]
    assert phrase["drop"]["phrase"] == "口令 666"
    only = await viewer.request({"t": "claim", "drop_id": drop_id, "request_id": "a"})
    assert (only["code"], only["phrase"]) == ("phrase_only", "口令 666")
    missing = await viewer.request({"t": "claim", "drop_id": "nope", "request_id": "a"})
    assert missing["code"] == "no_such_drop"
    login = await anon.request({"t": "claim", "drop_id": drop_id, "request_id": "a"})
    assert login["code"] == "login_required"
    scheduled = await host.request(
        {
            "t": "drop_coupon",
            "template_id": "mj",
            "count": 5,
            "starts_in_s": 60,
            "early_access_s": 30,
        }
    )
    early = await viewer.request(
        {"t": "claim", "drop_id": scheduled["drop"]["drop_id"], "request_id": "a"}
    )
    assert early["code"] == "not_started" and early["starts_at"] > now_ms()
    assert (await host.request({"t": "stop_drop", "drop_id": "nope"}))["code"] == "no_such_drop"
    # a drop is no sale, and a sale no drop
    grab = await viewer.request({"t": "grab", "sale_id": drop_id, "request_id": "g"})
    assert grab["code"] == "no_such_sale"
    for c in (host, viewer, anon):
        await c.close()


async def test_members_claim_early_and_template_tiers_hold(
    live_server: LiveServer, merchant: Merchant
) -> None:
    await merchant.ok("PUT", "/api/coupons/vip", {**TEMPLATE, "member_tiers": ["vip"]})
    host = await connect(live_server, "host", role="host")
    vip = await connect(live_server, "v", tier="vip")
    member = await connect(live_server, "m", tier="member")
    plain = await connect(live_server, "p")
    ack = await host.request(
        {
            "t": "drop_coupon",
            "template_id": "vip",
            "count": 5,
            "starts_in_s": 1,
            "early_access_s": 60,
        }
    )
    drop_id = ack["drop"]["drop_id"]
    assert ack["drop"]["status"] == "scheduled"
    assert (await vip.request({"t": "claim", "drop_id": drop_id, "request_id": "a"}))["t"] == "ack"
    members = await member.request({"t": "claim", "drop_id": drop_id, "request_id": "a"})
    assert members["code"] == "tier_not_allowed"
    early = await plain.request({"t": "claim", "drop_id": drop_id, "request_id": "a"})
    assert early["code"] == "members_only"
    # the drop opens: the room hears it, and the template's tiers still decide
    opened = await plain.events(lambda e: e["type"] == "drop" and e["drop"]["status"] == "live")
    assert opened["drop"]["drop_id"] == drop_id
    later = await plain.request({"t": "claim", "drop_id": drop_id, "request_id": "b"})
    assert later["code"] == "tier_not_allowed"
    await asyncio.gather(*(c.close() for c in (host, vip, member, plain)))


async def test_a_drop_ends_by_itself_at_its_end_time(
    live_server: LiveServer, merchant: Merchant
) -> None:
    host = await connect(live_server, "host", role="host")
    viewer = await connect(live_server, "v1")
    ack = await host.request({"t": "drop_coupon", "template_id": "mj", "count": 5, "duration_s": 1})
    drop_id = ack["drop"]["drop_id"]
    ended = await viewer.events(lambda e: e["type"] == "drop_ended", timeout=15)
    assert ended["drop_id"] == drop_id and "by" not in ended
    late = await viewer.request({"t": "claim", "drop_id": drop_id, "request_id": "a"})
    assert late["code"] == "ended"
    fresh = await connect(live_server, "v2")
    assert fresh.welcome["drops"][0]["status"] == "ended"  # type: ignore[index]
    events = (await merchant.ok("GET", f"/api/rooms/{ROOM}/events?count=100"))["events"]
    drops = [e["type"] for e in events if e["type"].startswith("drop_")]
    assert drops == ["drop_created", "drop_ended"]
    await asyncio.gather(*(c.close() for c in (host, viewer, fresh)))
