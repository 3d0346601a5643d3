"""Pass-phrase (口令) drops from two `liveroom serve` processes on one Redis: viewers who
comment the phrase (full-width, spaced, mixed case) get one coupon each, whichever process
and however often they comment it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from liveroom import tokens
from liveroom.coupons import ticket
from tests.sales.merchant import Merchant
from tests.support.client import Client
from tests.support.server import LiveServer

ROOM = "phrase"
PHRASE = "抢券 Live666"


@pytest.fixture
def two_servers(redis_url: str, key_prefix: str) -> Iterator[tuple[LiveServer, LiveServer]]:
    env = {"LIVEROOM_REDIS_URL": redis_url, "LIVEROOM_KEY_PREFIX": key_prefix}
    with LiveServer(env=env) as a, LiveServer(env=env) as b:
        yield a, b


async def connect(srv: LiveServer, uid: str, role: str = "viewer") -> Client:
    token = tokens.mint_for(srv.secret, uid, room=ROOM, role=role, nick=uid)
    return await Client.connect(srv.ws_url(ROOM, token))


async def personal(client: Client, t: str) -> dict:
    """The first frame of type t this client got (the coupon frame may come before the
    comment's ack, which `request` waited for)."""
    for frame in client.seen:
        if frame.get("t") == t:
            return frame
    return await client.expect(t)


async def comment(client: Client, text: str) -> None:
    ack = await client.request({"t": "comment", "text": text})
    assert ack["t"] == "ack", ack


async def test_phrase_coupons_one_per_viewer_across_two_processes(
    two_servers: tuple[LiveServer, LiveServer],
) -> None:
    a, b = two_servers
    merchant = Merchant(a.url, a.secret)
    await merchant.ok(
        "PUT",
        "/api/coupons/kl",
        {"title": "口令券", "kind": "amount_off", "amount_fen": 800, "valid_days": 1, "total": 9},
    )
    host = await connect(a, "host", role="host")
    amy = await connect(a, "amy")
    bob = await connect(b, "bob")
    cat_a, cat_b = await connect(a, "cat"), await connect(b, "cat")
    dan = await connect(b, "dan")
    ack = await host.request(
        {"t": "drop_coupon", "template_id": "kl", "count": 4, "phrase": PHRASE}
    )
    drop_id = ack["drop"]["drop_id"]
    # B learns of the drop from the room event (its viewers were there before it)
    shown = await bob.events(lambda e: e["type"] == "drop")
    assert shown["drop"]["phrase"] == PHRASE
    # a claim frame is refused: this drop is claimed by commenting
    only = await bob.request({"t": "claim", "drop_id": drop_id, "request_id": "x"})
    assert only["code"] == "phrase_only"

    await comment(amy, "我要 抢券live666 !!")  # lower case, spaced differently
    await comment(bob, "抢券ＬＩＶＥ６６６")  # full-width, as a phone keyboard types it
    await comment(cat_a, "抢 券 live 666")
    await comment(cat_b, "抢券 LIVE666")  # again, on the other process
    await comment(cat_a, "抢券live666")  # and again
    await comment(dan, "抢券")  # not the phrase: nothing
    got = {}
    for name, client in (("amy", amy), ("bob", bob), ("cat", cat_a)):
        frame = await personal(client, "coupon")
        assert frame["drop_id"] == drop_id and frame["coupon"]["uid"] == name
        t = ticket.verify(a.secret, frame["ticket"]["ticket"])
        assert t.coupon_id == frame["coupon"]["coupon_id"]
        got[name] = frame["coupon"]
    # a viewer who joins B after the drop learns it from the welcome, and gets one too
    eve = await connect(b, "eve")
    assert [d["drop_id"] for d in eve.welcome["drops"]] == [drop_id]  # type: ignore[index]
    await comment(eve, "ＬＩＶＥ666抢券 抢券live666")
    got["eve"] = (await personal(eve, "coupon"))["coupon"]
    # the drop is gone: a later phrase gets a clear refusal, not an error frame
    await comment(dan, "抢券 live666")
    refused = await personal(dan, "coupon_refused")
    assert (refused["drop_id"], refused["code"]) == (drop_id, "sold_out")

    body = await merchant.ok("GET", f"/api/rooms/{ROOM}/drops/{drop_id}")
    assert sorted(c["uid"] for c in body["claims"]) == ["amy", "bob", "cat", "eve"]
    assert {c["coupon_id"] for c in body["claims"]} == {c["coupon_id"] for c in got.values()}
    assert body["drop"]["remaining"] == 0
    # cat's connection on the other process got it too, once
    assert (await personal(cat_b, "coupon"))["coupon"] == got["cat"]
    await asyncio.sleep(0.3)  # anything more for cat would have arrived by now
    for conn in (cat_a, cat_b):
        frames = [f for f in conn.seen if f.get("t") in ("coupon", "coupon_refused")]
        assert [f["t"] for f in frames] == ["coupon"]  # one, and no refusal for the repeats
    cat_again = await connect(b, "cat")
    assert [x["coupon"]["coupon_id"] for x in cat_again.welcome["coupons"]] == [  # type: ignore[index]
        got["cat"]["coupon_id"]
    ]
    events = (await merchant.ok("GET", f"/api/rooms/{ROOM}/events?count=1000"))["events"]
    assert sum(1 for e in events if e["type"] == "coupon_issued") == 4
    for c in (host, amy, bob, cat_a, cat_b, dan, eve, cat_again):
        await c.close()
    await merchant.close()
