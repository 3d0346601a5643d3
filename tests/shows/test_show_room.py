"""A show's life as its room sees it, on both engines: the scheduled page, "remind me", going
live, the end, the replay with offsets, and a series whose episodes follow each other."""

from __future__ import annotations

import asyncio

from liveroom import tokens
from liveroom.jobs import now_ms
from liveroom.protocol import CLOSE_ROOM_ENDED
from tests.sales.merchant import Merchant
from tests.support.client import Client
from tests.support.server import LiveServer


def tok(srv: LiveServer, uid: str, room: str, host: bool = False, **kw: str) -> str:
    role = "host" if host else "viewer"
    return tokens.mint_for(srv.secret, uid, room=room, role=role, nick=uid, **kw)


async def test_a_show_from_schedule_to_replay(live_server: LiveServer, merchant: Merchant) -> None:
    srv, room = live_server, "spring"
    starts_at = now_ms() + 3_600_000
    await merchant.ok(
        "PUT",
        f"/api/rooms/{room}",
        {"title": "Spring tea", "starts_at": starts_at, "cover": "https://cdn.example.com/c.jpg",
         "hls_url": "https://cdn.example.com/live.m3u8"},
    )  # fmt: skip
    page = (await merchant.http.get(f"/api/shows/{room}")).json()["show"]
    assert page["status"] == "scheduled" and page["starts_at"] == starts_at
    assert "reminders" not in page and "webhooks" not in str(page)
    async with (
        await Client.connect(srv.ws_url(room, tok(srv, "amy", room, src="wecom_group"))) as amy,
        await Client.connect(srv.ws_url(room)) as guest,
        await Client.connect(srv.ws_url(room, tok(srv, "host", room, host=True))) as host,
    ):
        assert amy.welcome["room"]["status"] == "scheduled"
        assert amy.welcome["show"]["cover"] == "https://cdn.example.com/c.jpg"
        assert amy.welcome["show"]["subscribed"] is False
        assert (await guest.request({"t": "remind_me"}))["code"] == "login_required"
        first = await amy.request({"t": "remind_me"})
        assert first["subscribed"] and not first["duplicate"]
        assert (await amy.request({"t": "remind_me"}))["duplicate"]
        subs = await merchant.ok("GET", f"/api/rooms/{room}/subscribers")
        assert subs["total"] == 1 and subs["subscribers"][0]["src"] == "wecom_group"
        assert (await host.request({"t": "end"}))["code"] == "show_not_live"
        live = await host.request({"t": "go_live"})
        assert live["show"]["status"] == "live"
        seen = await guest.events(lambda e: e["type"] == "room" and e.get("status") == "live")
        assert seen["show"]["hls_url"].endswith("live.m3u8")
        assert (await host.request({"t": "go_live"}))["code"] == "show_not_scheduled"
        said = []
        for text in ("hello", "delete me", "bye"):
            said.append((await amy.request({"t": "comment", "text": text}))["comment"])
            await asyncio.sleep(0.3)
        await host.request({"t": "delete_comment", "comment_id": said[1]["id"]})
        await host.request({"t": "pin", "text": "Coupons at 8"})
        ended = await host.request({"t": "end"})
        assert ended["show"]["status"] == "ended"
        assert (await guest.closed())[0] == CLOSE_ROOM_ENDED
    await merchant.ok(
        "PUT", f"/api/rooms/{room}", {"replay_url": "https://cdn.example.com/rec.m3u8"}
    )
    replay = (await merchant.http.get(f"/api/shows/{room}/replay?after=0&count=2")).json()
    assert replay["replay_url"].endswith("rec.m3u8") and replay["started_at"] > 0
    events = replay["events"]
    more = (await merchant.http.get(f"/api/shows/{room}/replay?after={replay['next']}")).json()
    events += more["events"]
    kept = [(e["type"], e.get("text")) for e in events]
    assert ("comment", "delete me") not in kept
    assert [k for k in kept if k[0] == "comment"] == [("comment", "hello"), ("comment", "bye")]
    assert ("pin", "Coupons at 8") in kept
    offsets = [e["offset_ms"] for e in events if e["type"] == "comment"]
    assert 0 <= offsets[0] < offsets[1] and offsets[1] - offsets[0] >= 500
    assert not any(e["type"] == "room" for e in events)  # lifecycle is not replayed
    late = await Client.connect(srv.ws_url(room))
    assert late.welcome["room"]["status"] == "ended" and late.welcome["show"]["replay_url"]
    assert (await late.closed())[0] == CLOSE_ROOM_ENDED


async def test_a_series_of_two_episodes(live_server: LiveServer, merchant: Merchant) -> None:
    srv = live_server
    created = await merchant.ok(
        "POST",
        "/api/series",
        {"series_id": "night-market", "title": "Night market", "weekday": 2, "time": "20:00",
         "defaults": {"cover": "https://cdn.example.com/nm.jpg"}},
    )  # fmt: skip
    (first,) = created["series"]["episodes"]
    assert first["status"] == "scheduled" and first["starts_at"] > now_ms()
    room1 = first["room_id"]
    assert room1.startswith("night-market-")
    for room in (room1, None):
        room = room or second["room_id"]  # noqa: F821 - set on the first pass
        async with await Client.connect(srv.ws_url(room, tok(srv, "host", room, host=True))) as h:
            assert h.welcome["room"]["title"] == "Night market"
            assert h.welcome["show"]["cover"] == "https://cdn.example.com/nm.jpg"
            assert (await h.request({"t": "go_live"}))["t"] == "ack"
            assert (await h.request({"t": "end"}))["t"] == "ack"
        episodes = (await merchant.ok("GET", "/api/series/night-market"))["series"]["episodes"]
        second = episodes[-1]
        assert episodes[-2]["room_id"] == room and episodes[-2]["status"] == "ended"
        assert second["status"] == "scheduled"
        assert second["starts_at"] - episodes[-2]["starts_at"] == 7 * 86400 * 1000
    assert len(episodes) == 3
    assert episodes[0]["status"] == "ended"  # an ended show stays ended
    again = await merchant.call("PUT", f"/api/rooms/{room1}", {"starts_at": now_ms() + 60_000})
    assert again.status_code == 409 and again.json()["error"]["code"] == "show_over"


async def test_the_end_of_a_show_ends_its_open_sales_and_drops(
    live_server: LiveServer, merchant: Merchant
) -> None:
    """A flash sale and a coupon drop left open when the host ends the show: both end with
    it (no grab or claim after the show), the drop gives the coupons it did not give out
    back to its template, and the hold taken during the show can still be paid."""
    srv, room = live_server, "autumn"
    await merchant.ok(
        "PUT", f"/api/rooms/{room}", {"title": "Autumn", "starts_at": now_ms() + 60_000}
    )
    await merchant.ok("POST", "/api/products", {"sku": "tea-9", "title": "Tea", "price_fen": 900})
    template = {"title": "5 off", "kind": "amount_off", "amount_fen": 500, "valid_days": 3}
    await merchant.ok("PUT", "/api/coupons/t-autumn", {**template, "total": 10})
    async with (
        await Client.connect(srv.ws_url(room, tok(srv, "host", room, host=True))) as host,
        await Client.connect(srv.ws_url(room, tok(srv, "amy", room))) as amy,
    ):
        assert (await host.request({"t": "go_live"}))["t"] == "ack"
        sale = (await host.request({"t": "start_sale", "sku": "tea-9", "stock": 5}))["sale"]
        drop = await merchant.ok(
            "POST", f"/api/rooms/{room}/drops", {"template_id": "t-autumn", "count": 6}
        )
        drop_id = drop["drop"]["drop_id"]
        grab = {"t": "grab", "sale_id": sale["sale_id"], "request_id": "g"}
        grabbed = await amy.request(grab)
        assert grabbed["t"] == "ack"
        assert (await amy.request({"t": "claim", "drop_id": drop_id, "request_id": "c"}))[
            "t"
        ] == "ack"
        assert (await merchant.ok("GET", "/api/coupons/t-autumn"))["template"]["left"] == 4
        assert (await host.request({"t": "end"}))["t"] == "ack"
    got_sale = await merchant.ok("GET", f"/api/rooms/{room}/sales/{sale['sale_id']}")
    assert got_sale["sale"]["status"] == "ended"
    got_drop = await merchant.ok("GET", f"/api/rooms/{room}/drops/{drop_id}")
    assert got_drop["drop"]["status"] == "ended" and got_drop["total"] == 1
    left = (await merchant.ok("GET", "/api/coupons/t-autumn"))["template"]
    assert (left["left"], left["reserved"], left["issued"]) == (9, 1, 1)
    paid = await merchant.call(
        "POST",
        "/api/checkout/confirm",
        {"ticket": grabbed["checkout"]["ticket"], "order_id": "wx-autumn-1"},
    )
    assert paid.status_code == 200 and paid.json()["hold"]["status"] == "paid"
