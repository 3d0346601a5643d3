"""What docs/protocol.md promises where a client written from it alone tripped (issue 8):
each behaviour checked on a real server, both engines."""

from __future__ import annotations

import asyncio
import json
import urllib.request

import msgpack
import websockets

from liveroom import tokens
from liveroom.protocol import CLOSE_BANNED, CLOSE_ROOM_ENDED
from tests.sales.merchant import Merchant
from tests.support.client import Client
from tests.support.server import LiveServer

ROOM = "edges"


def url(srv: LiveServer, uid: str, *, host: bool = False, room: str = ROOM) -> str:
    role = "host" if host else "viewer"
    return srv.ws_url(room, tokens.mint_for(srv.secret, uid, room=room, role=role))


async def test_no_subprotocol_offered_none_answered_and_msgpack_spoken(
    live_server: LiveServer,
) -> None:
    async with websockets.connect(url(live_server, "amy")) as ws:
        assert ws.response.headers.get("Sec-WebSocket-Protocol") is None
        assert ws.subprotocol is None
        welcome = msgpack.unpackb(await ws.recv())
        assert welcome["t"] == "welcome"
    async with websockets.connect(url(live_server, "amy"), subprotocols=["liveroom.json"]) as ws:
        assert ws.subprotocol == "liveroom.json"
        assert json.loads(await ws.recv())["t"] == "welcome"


async def test_host_flag_is_on_host_comments_only(live_server: LiveServer) -> None:
    async with (
        await Client.connect(url(live_server, "h", host=True)) as h,
        await Client.connect(url(live_server, "amy")) as a,
    ):
        mine = (await a.request({"t": "comment", "text": "viewer here"}))["comment"]
        hosts = (await h.request({"t": "comment", "text": "host here"}))["comment"]
        assert "host" not in mine  # absent, not false
        assert hosts["host"] is True


async def test_rid_on_too_large_and_not_on_a_malformed_rid(live_server: LiveServer) -> None:
    async with (
        await Client.connect(url(live_server, "amy")) as a,
        await Client.connect(url(live_server, "bob"), fmt="msgpack") as b,
    ):
        await a.send({"t": "comment", "text": "x" * 5000, "rid": "big"})
        err = await a.expect("error")
        assert (err["code"], err["rid"]) == ("too_large", "big")
        await b.send({"t": "comment", "text": "x" * 5000, "rid": 77})
        err = await b.expect("error")
        assert (err["code"], err["rid"]) == ("too_large", 77)
        await a.send({"t": "ping", "rid": "r" * 65})
        err = await a.expect("error")
        assert err["code"] == "bad_field" and "rid" not in err
        await a.send({"t": "ping", "rid": 1.5})
        err = await a.expect("error")
        assert err["code"] == "bad_field" and "rid" not in err


async def test_delete_of_an_unknown_comment_id_is_accepted_once(live_server: LiveServer) -> None:
    async with (
        await Client.connect(url(live_server, "h", host=True)) as h,
        await Client.connect(url(live_server, "amy")) as a,
    ):
        ack = await h.request({"t": "delete_comment", "comment_id": "never-was"})
        assert ack["t"] == "ack" and ack["seq"] > 0
        gone = await a.events(lambda e: e["type"] == "comment_deleted")
        assert gone["comment_id"] == "never-was"
        again = await h.request({"t": "delete_comment", "comment_id": "never-was"})
        assert again["code"] == "already_deleted"


async def test_ban_closes_the_users_live_sockets(live_server: LiveServer) -> None:
    async with await Client.connect(url(live_server, "h", host=True)) as h:
        t1 = await Client.connect(url(live_server, "troll"))
        t2 = await Client.connect(url(live_server, "troll"), fmt="msgpack")
        await h.request({"t": "ban", "uid": "troll"})
        for t in (t1, t2):
            err = await t.expect("error")
            assert err["code"] == "banned"
            assert (await t.closed())[0] == CLOSE_BANNED


async def test_anonymous_viewers_sending_host_frames_get_forbidden(
    live_server: LiveServer,
) -> None:
    async with await Client.connect(live_server.ws_url(ROOM)) as anon:
        for frame in ({"t": "ban", "uid": "x"}, {"t": "start_sale", "sku": "a", "stock": 1}):
            assert (await anon.request(frame))["code"] == "forbidden"


async def test_an_ended_room_welcomes_then_closes_4004(live_server: LiveServer) -> None:
    async with await Client.connect(url(live_server, "h", host=True, room="over")) as h:
        await h.request({"t": "end"})
    late = await Client.connect(url(live_server, "amy", room="over"))
    assert late.welcome["room"]["status"] == "ended"
    assert (await late.closed())[0] == CLOSE_ROOM_ENDED


async def test_start_sale_terms_answer_bad_sale_like_the_merchant_api(
    live_server: LiveServer,
) -> None:
    m = Merchant(live_server.url, live_server.secret)
    await m.ok("PUT", "/api/products/tea", {"title": "Tea", "price_fen": 100})
    async with await Client.connect(url(live_server, "h", host=True)) as h:
        for terms in ({"stock": 0}, {"stock": "10"}, {"stock": 1, "hold_s": 99999}, {}):
            err = await h.request({"t": "start_sale", "sku": "tea", **terms})
            assert err["code"] == "bad_sale", (terms, err)
            http = await m.call("POST", f"/api/rooms/{ROOM}/sales", {"sku": "tea", **terms})
            assert http.json()["error"] == {"code": err["code"], "message": err["message"]}
    await m.close()


def record(srv: LiveServer, draw_id: str) -> dict:
    with urllib.request.urlopen(f"{srv.url}/api/draws/{ROOM}/{draw_id}", timeout=10) as resp:
        return json.loads(resp.read())


async def test_fewer_entrants_than_winners_all_win_and_records_omit_phrase(
    live_server: LiveServer,
) -> None:
    async with await Client.connect(url(live_server, "h", host=True)) as h:
        start = {"prize": {"title": "Mug"}, "winners": 5, "duration_s": 60}
        few = await h.request({"t": "start_draw", **start})
        none = await h.request({"t": "start_draw", **start})
        players = [await Client.connect(url(live_server, f"p{i}")) for i in range(2)]
        for p in players:
            assert (await p.request({"t": "enter_draw", "draw_id": few["draw_id"]}))["entered"]
        closed = await h.request({"t": "close_draw", "draw_id": few["draw_id"]})
        assert sorted(w["uid"] for w in closed["winners"]) == ["p0", "p1"]
        assert closed["winners_count"] == 5 and closed["entrants_count"] == 2
        empty = await h.request({"t": "close_draw", "draw_id": none["draw_id"]})
        assert empty["winners"] == [] and empty["entrants_count"] == 0
        await asyncio.gather(*(p.close() for p in players))
    rec = record(live_server, few["draw_id"])
    assert "phrase" not in rec and rec["mode"] == "button"
    assert len(rec["winners"]) == 2


async def test_viewers_joining_as_the_room_ends_are_welcomed_then_closed(
    live_server: LiveServer,
) -> None:
    """Viewers arriving in the very ticks the host ends the show: each gets its welcome,
    then the 4004 close, never a close without a welcome, never an open socket to an
    ended room."""
    async with await Client.connect(url(live_server, "h", host=True, room="closing")) as h:
        joins = [
            Client.connect(url(live_server, f"v{i}", room="closing"), welcome=False)
            for i in range(40)
        ]
        ended, *clients = await asyncio.gather(h.request({"t": "end"}), *joins)
        assert ended["t"] == "ack"

    async def welcomed_then_closed(c: Client) -> tuple[bool, int | None]:
        welcome = await c.until(lambda f: f.get("t") == "welcome")
        return welcome is not None, (await c.closed())[0]

    outcomes = await asyncio.gather(*(welcomed_then_closed(c) for c in clients))
    assert outcomes == [(True, CLOSE_ROOM_ENDED)] * 40
