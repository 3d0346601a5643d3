"""A lucky bag in a live room, end to end: the host's frames, viewers' real sockets (two
per winner: a phone and a laptop), the public record checked by `liveroom verify-draw`.

The server runs in the test's loop (tests/support/inprocess.py) so the test can define the
coupon template on its node; everything else goes over the sockets and HTTP.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from typing import Any

from liveroom import tokens
from liveroom.draws.store import bag_id
from tests.conftest import engine_settings
from tests.support.client import Client
from tests.support.inprocess import Served, served
from tests.support.server import ROOT

ROOM = "bagroom"
TEMPLATE = {"title": "30 off", "kind": "amount_off", "amount_fen": 3000, "valid_days": 3}


def url(srv: Served, uid: str, role: str = "viewer") -> str:
    return srv.ws_url(ROOM, tokens.mint_for(srv.settings.secret, uid, room=ROOM, role=role))


async def verify_draw(srv: Served, draw_id: str) -> tuple[int, dict[str, Any]]:
    """`liveroom verify-draw --url` in a thread: the server answers from this loop."""
    record = f"http://127.0.0.1:{srv.settings.port}/api/draws/{ROOM}/{draw_id}"
    cmd = [sys.executable, "-m", "liveroom", "verify-draw", "--url", record, "--json"]
    proc = await asyncio.to_thread(
        subprocess.run, cmd, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    return proc.returncode, json.loads(proc.stdout)


async def test_a_coupon_bags_winners_get_their_coupons_on_every_socket(
    engine_kind: str, redis_url: str, key_prefix: str
) -> None:
    settings = engine_settings(engine_kind, redis_url, key_prefix, coupon_appid="wxc")
    async with served(settings) as srv:
        await srv.node.coupons.put_template({**TEMPLATE, "total": 50}, "t30")
        host = await Client.connect(url(srv, "host", role="host"))
        phones = [await Client.connect(url(srv, f"v{i}")) for i in range(5)]
        laptops = [await Client.connect(url(srv, f"v{i}")) for i in range(5)]
        try:
            prize = {"title": "福袋: 30 off", "kind": "coupon", "template_id": "t30"}
            ack = await host.request(
                {"t": "start_draw", "prize": prize, "winners": 2, "duration_s": 600}
            )
            assert ack["t"] == "ack", ack
            draw_id = ack["draw_id"]
            for phone in phones:
                entered = await phone.request({"t": "enter_draw", "draw_id": draw_id})
                assert entered["entered"] is True
            closed = await host.request({"t": "close_draw", "draw_id": draw_id})
            winners = [w["uid"] for w in closed["winners"]]
            assert len(winners) == 2
            for i in range(5):
                uid = f"v{i}"
                for client in (phones[i], laptops[i]):
                    event = await client.events(lambda e: e["type"] == "draw_closed")
                    assert event["prize"]["kind"] == "coupon"
                    if uid not in winners:
                        continue
                    won = await client.expect("draw_won")
                    coupon = await client.expect("coupon")
                    assert won["coupon"] == coupon["coupon"] and coupon["coupon"]["uid"] == uid
                    assert coupon["drop_id"] == bag_id(draw_id)
                    assert coupon["ticket"]["appid"] == "wxc"
            # a winner back later finds the coupon in the welcome
            back = await Client.connect(url(srv, winners[0]))
            held = back.welcome["coupons"]  # type: ignore[index]
            assert [c["coupon"]["template_id"] for c in held] == ["t30"]
            assert back.welcome["drops"] == []  # type: ignore[index]
            await back.close()
            # the hidden drop took exactly one per winner; every frame came once a socket
            drop = await srv.node.coupons.drop(ROOM, bag_id(draw_id))
            assert drop.remaining == 0
            await host.request({"t": "announce", "text": "after"})
            for client in (*phones, *laptops):
                await client.events(lambda e: e["type"] == "announce")
                want = 1 if client.welcome["you"]["uid"] in winners else 0  # type: ignore[index]
                assert [f["t"] for f in client.seen].count("coupon") == want
                assert [f["t"] for f in client.seen].count("draw_won") == want
            status, report = await verify_draw(srv, draw_id)
            assert status == 0 and report["ok"] and report["winners"] == winners
        finally:
            for c in (host, *phones, *laptops):
                await c.close()
