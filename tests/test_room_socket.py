"""The room socket end to end: real server process, real WebSocket clients, both engines."""

from __future__ import annotations

import asyncio
import json

import msgpack
import pytest

from liveroom import tokens
from liveroom.protocol import (
    CLOSE_BANNED,
    CLOSE_FORBIDDEN,
    CLOSE_ROOM_ENDED,
    CLOSE_TOKEN_EXPIRED,
    CLOSE_UNAUTHORIZED,
)
from tests.support.client import Client
from tests.support.server import LiveServer

ROOM = "show1"


def viewer(srv: LiveServer, uid: str, room: str = ROOM, **kw: object) -> str:
    return srv.ws_url(room, tokens.mint_for(srv.secret, uid, room=room, **kw))


def host(srv: LiveServer, room: str = ROOM) -> str:
    return srv.ws_url(room, tokens.mint_for(srv.secret, "host1", room=room, role="host"))


async def test_welcome_snapshot_then_comment_reaches_everyone(live_server: LiveServer) -> None:
    async with await Client.connect(host(live_server)) as h:
        await h.request({"t": "set_title", "title": "Autumn sale"})
        await h.request({"t": "pin", "text": "Coupons at 8pm"})
        async with (
            await Client.connect(viewer(live_server, "amy", nick="Amy", tier="vip")) as a,
            await Client.connect(viewer(live_server, "bob"), fmt="msgpack") as b,
        ):
            assert a.welcome["room"]["title"] == "Autumn sale"
            assert a.welcome["room"]["pinned"] == "Coupons at 8pm"
            assert a.welcome["you"] == {
                "uid": "amy",
                "nick": "Amy",
                "tier": "vip",
                "role": "viewer",
                "anonymous": False,
            }
            seq0 = a.welcome["seq"]
            ack = await a.request({"t": "comment", "text": "hello!", "id": "m1"})
            assert ack["t"] == "ack"
            comment = ack["comment"]
            assert comment["text"] == "hello!" and comment["uid"] == "amy"
            assert comment["seq"] == seq0 + 1
            got_b = await b.events(lambda e: e.get("id") == comment["id"])
            got_h = await h.events(lambda e: e.get("id") == comment["id"])
            assert got_b == comment == got_h
        async with await Client.connect(viewer(live_server, "cy")) as c:
            assert [x["text"] for x in c.welcome["comments"]][-1] == "hello!"


async def test_retried_client_id_is_one_comment(live_server: LiveServer) -> None:
    async with await Client.connect(viewer(live_server, "amy")) as a:
        first = await a.request({"t": "comment", "text": "one", "id": "same"})
        again = await a.request({"t": "comment", "text": "one", "id": "same"})
        assert again["comment"] == first["comment"]
        assert again["duplicate"] is True
    async with await Client.connect(viewer(live_server, "zed")) as z:
        assert [c["text"] for c in z.welcome["comments"]] == ["one"]


async def test_likes_are_counted_exactly_from_many_clients(live_server: LiveServer) -> None:
    async with await Client.connect(host(live_server)) as h:
        clients = await asyncio.gather(
            *(Client.connect(viewer(live_server, f"u{i}")) for i in range(20))
        )
        await asyncio.gather(*(c.send({"t": "like", "n": 7}) for c in clients for _ in range(5)))
        frame = await h.until(lambda f: f.get("likes") == 20 * 5 * 7, timeout=10)
        assert frame["t"] == "tick"
        await asyncio.gather(*(c.close() for c in clients))


async def test_viewer_cannot_use_host_commands(live_server: LiveServer) -> None:
    async with await Client.connect(viewer(live_server, "amy")) as a:
        for frame in (
            {"t": "ban", "uid": "bob"},
            {"t": "end"},
            {"t": "pin", "text": "mine"},
            {"t": "announce", "text": "free stuff"},
        ):
            err = await a.request(frame)
            assert (err["t"], err["code"]) == ("error", "forbidden")
        ack = await a.request({"t": "ping"})
        assert ack["t"] == "pong"


async def test_host_moderation(live_server: LiveServer) -> None:
    async with (
        await Client.connect(host(live_server)) as h,
        await Client.connect(viewer(live_server, "troll")) as t,
        await Client.connect(viewer(live_server, "amy")) as a,
    ):
        bad = (await t.request({"t": "comment", "text": "spam"}))["comment"]
        await h.request({"t": "delete_comment", "comment_id": bad["id"]})
        gone = await a.events(lambda e: e["type"] == "comment_deleted")
        assert gone["comment_id"] == bad["id"]
        again = await h.request({"t": "delete_comment", "comment_id": bad["id"]})
        assert again["code"] == "already_deleted"

        await h.request({"t": "mute", "uid": "troll", "seconds": 60})
        err = await t.request({"t": "comment", "text": "still here"})
        assert err["code"] == "muted" and err["retry_after"] > 0
        await h.request({"t": "unmute", "uid": "troll"})
        assert (await t.request({"t": "comment", "text": "sorry"}))["t"] == "ack"

        await h.request({"t": "slow_mode", "seconds": 30})
        await a.until(lambda f: any(e.get("slow_mode") == 30 for e in f.get("events", [])))
        assert (await a.request({"t": "comment", "text": "first"}))["t"] == "ack"
        err = await a.request({"t": "comment", "text": "second"})
        assert err["code"] == "slow_mode"
        assert (await h.request({"t": "comment", "text": "hosts are not slowed"}))["t"] == "ack"
        assert (await h.request({"t": "comment", "text": "twice"}))["t"] == "ack"

        await h.request({"t": "ban", "uid": "troll"})
        code, _ = await t.closed()
        assert code == CLOSE_BANNED
    banned = await Client.connect(viewer(live_server, "troll"), welcome=False)
    err = await banned.recv()
    assert err["code"] == "banned"
    assert (await banned.closed())[0] == CLOSE_BANNED


async def test_keyword_filter_and_anonymous_watch_only(live_server: LiveServer) -> None:
    async with (
        await Client.connect(host(live_server)) as h,
        await Client.connect(viewer(live_server, "amy")) as a,
    ):
        bad = await a.request({"t": "set_keywords", "keywords": ["vx"]})
        assert bad["code"] == "forbidden"
        err = await h.request({"t": "set_keywords", "keywords": [1]})
        assert err["code"] == "bad_field"
        await h.request({"t": "set_keywords", "keywords": ["vx", "加微信"]})
        changed = await a.events(lambda e: e["type"] == "room")
        assert changed["keywords"] == 2  # a count: the words themselves stay private
        await asyncio.sleep(0.2)  # every process refreshes its copy of the room
        refused = await a.request({"t": "comment", "text": "加 Ｖ Ｘ 领券"})
        assert refused["code"] == "blocked_word"
        assert (await a.request({"t": "comment", "text": "how much?"}))["t"] == "ack"
        assert "keywords" not in a.welcome["room"]
    async with await Client.connect(host(live_server)) as h2:
        assert h2.welcome["room"]["keywords"] == ["vx", "加微信"]  # hosts see the list
    async with await Client.connect(live_server.ws_url(ROOM)) as anon:
        assert anon.welcome["you"]["anonymous"] is True
        err = await anon.request({"t": "comment", "text": "hi"})
        assert err["code"] == "login_required"
        assert (await anon.request({"t": "like", "n": 1}))["code"] == "login_required"


async def test_end_room_closes_everyone(live_server: LiveServer) -> None:
    async with (
        await Client.connect(host(live_server)) as h,
        await Client.connect(viewer(live_server, "amy")) as a,
    ):
        await h.send({"t": "end"})
        ended = await a.events(lambda e: e["type"] == "room")
        assert ended["status"] == "ended"
        assert (await a.closed())[0] == CLOSE_ROOM_ENDED
    late = await Client.connect(viewer(live_server, "bob"))
    assert late.welcome["room"]["status"] == "ended"
    assert (await late.closed())[0] == CLOSE_ROOM_ENDED


@pytest.mark.parametrize(
    ("make", "code", "close"),
    [
        (lambda s: tokens.mint_for(s, "u", room=ROOM, ttl_s=-1), "token_expired", 4002),
        (lambda s: tokens.mint_for("forged", "u", room=ROOM), "token_invalid", 4001),
        (lambda s: tokens.mint_for(s, "u", room="other"), "token_wrong_room", 4003),
        (lambda s: "garbage", "token_invalid", 4001),
        (lambda s: "eyJ1aWQiOiJ4In0.签名", "token_invalid", 4001),
    ],
)
async def test_bad_tokens_get_an_error_and_a_close_code(
    live_server: LiveServer, make, code: str, close: int
) -> None:
    assert {CLOSE_UNAUTHORIZED, CLOSE_TOKEN_EXPIRED, CLOSE_FORBIDDEN} >= {close}
    c = await Client.connect(live_server.ws_url(ROOM, make(live_server.secret)), welcome=False)
    frame = await c.recv()
    assert (frame["t"], frame["code"]) == ("error", code)
    assert (await c.closed())[0] == close


async def test_bad_frames_get_errors_and_the_server_keeps_serving(
    live_server: LiveServer,
) -> None:
    async with (
        await Client.connect(viewer(live_server, "amy")) as a,
        await Client.connect(viewer(live_server, "bob"), fmt="msgpack") as b,
    ):
        cases = [
            (a, "{not json", "bad_encoding"),
            (a, json.dumps({"t": "warp"}), "unknown_type"),
            (a, json.dumps({"t": "comment"}), "missing_field"),
            (a, json.dumps({"t": "comment", "text": ["x"]}), "bad_field"),
            (a, json.dumps([1, 2, 3]), "bad_frame"),
            (a, json.dumps({"t": "comment", "text": "x" * 5000}), "too_large"),
            (b, b"\xc1\xc1", "bad_encoding"),
            (b, msgpack.packb({"t": "like", "n": "lots"}), "bad_field"),
            (b, msgpack.packb({"t": "like", "n": 5000}), "bad_field"),
        ]
        for client, data, code in cases:
            await client.send_raw(data)
            err = await client.expect("error")
            assert err["code"] == code, (data, err)
        ack = await a.request({"t": "comment", "text": "still fine"})
        await b.events(lambda e: e.get("id") == ack["comment"]["id"])


async def test_frame_over_the_socket_limit_closes_only_that_client(
    live_server: LiveServer,
) -> None:
    async with await Client.connect(viewer(live_server, "amy")) as a:
        big = await Client.connect(viewer(live_server, "big"), fmt="msgpack")
        await big.send_raw(b"\x00" * 200_000)
        assert (await big.closed())[0] == 1009
        assert (await a.request({"t": "ping"}))["t"] == "pong"


async def test_flood_of_bad_frames_is_cut_off(live_server: LiveServer) -> None:
    c = await Client.connect(viewer(live_server, "fuzz"))
    for _ in range(30):
        await c.send_raw("nope")
    assert (await c.closed())[0] == 4009


async def test_reconnect_with_since_gets_exactly_the_missed_events(
    live_server: LiveServer,
) -> None:
    async with await Client.connect(host(live_server)) as h:
        gone = await Client.connect(viewer(live_server, "amy"))
        await gone.request({"t": "comment", "text": "before"})
        since = gone.welcome["seq"] + 1
        await gone.close()
        sent = [await h.request({"t": "announce", "text": f"news {i}"}) for i in range(50)]
        back = await Client.connect(viewer(live_server, "amy"), fmt="msgpack")
        w = back.welcome
        since_url = viewer(live_server, "amy")
        assert w is not None
        back2 = await Client.connect(f"{since_url}&since={since}")
        assert back2.welcome["recovered"] is True
        got = back2.welcome["events"]
        assert [e["seq"] for e in got] == [s["seq"] for s in sent]
        assert [e["text"] for e in got] == [f"news {i}" for i in range(50)]
        assert back2.welcome["seq"] == sent[-1]["seq"]
        # and live events continue after the recovered ones
        later = await h.request({"t": "announce", "text": "live again"})
        ev = await back2.events(lambda e: e["type"] == "announce")
        assert ev["seq"] == later["seq"]
        await back.close()
        await back2.close()


async def test_since_older_than_history_gets_a_fresh_snapshot(server_env: dict) -> None:
    env = {**server_env, "LIVEROOM_HISTORY_SIZE": "10"}
    with LiveServer(env=env) as srv:
        async with await Client.connect(host(srv)) as h:
            for i in range(30):
                await h.request({"t": "announce", "text": f"n{i}"})
            c = await Client.connect(f"{viewer(srv, 'amy')}&since=2")
            assert c.welcome["recovered"] is False
            assert c.welcome["events"] == []
            assert c.welcome["seq"] >= 30
            await c.close()
