"""Lucky draws run by the brand's backend through the signed merchant API: viewers on real
sockets see and enter them, the backend closes them, the record verifies. On both
engines, against a real server."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from liveroom import tokens
from tests.draws.test_room_draws import event, fetch
from tests.sales.merchant import Merchant
from tests.support.client import Client
from tests.support.server import LiveServer

ROOM = "drawroom"  # the public record helper (fetch) reads this room
PRIZE = {"title": "Tea set", "image": "https://cdn.example/tea.png"}
TEMPLATE = {"title": "10 off", "kind": "amount_off", "amount_fen": 1000, "valid_days": 7}


async def join(srv: LiveServer, uid: str) -> Client:
    token = tokens.mint_for(srv.secret, uid, room=ROOM, nick=f"N-{uid}")
    return await Client.connect(srv.ws_url(ROOM, token))


async def test_the_backend_starts_a_draw_viewers_enter_and_it_closes_verifiably(
    live_server: LiveServer, merchant: Merchant
) -> None:
    viewers = [await join(live_server, f"v{i}") for i in range(4)]
    body = {"prize": PRIZE, "winners": 2, "duration_s": 600, "draw_id": "bag-2030"}
    answers = await asyncio.gather(
        *(merchant.call("POST", f"/api/rooms/{ROOM}/draws", body) for _ in range(3))
    )
    [started] = [a.json()["draw"] for a in answers if a.status_code == 201]
    others = [a for a in answers if a.status_code != 201]
    # a retry sent while the first is still announcing is asked to resend: then it finds it
    for a in others:
        if a.status_code == 503:
            a = await merchant.call("POST", f"/api/rooms/{ROOM}/draws", body)
        assert a.status_code == 409 and a.json()["error"]["code"] == "draw_exists"
        assert a.json()["draw"]["commitment"] == started["commitment"]
    assert (started["draw_id"], started["state"], started["winners_count"]) == (
        "bag-2030",
        "open",
        2,
    )
    seen = await event(viewers[0], "draw_started", "bag-2030")
    assert seen["by"] == "merchant" and seen["commitment"] == started["commitment"]
    listed = await merchant.ok("GET", f"/api/rooms/{ROOM}/draws")
    assert [d["draw_id"] for d in listed["draws"]] == ["bag-2030"]

    entries = await asyncio.gather(
        *(v.request({"t": "enter_draw", "draw_id": "bag-2030"}) for v in viewers)
    )
    assert all(e["t"] == "ack" for e in entries)
    closed = (await merchant.ok("POST", f"/api/rooms/{ROOM}/draws/bag-2030/close"))["outcome"]
    assert closed["entrants_count"] == 4 and closed["by"] == "merchant"
    assert hashlib.sha256(closed["seed"].encode()).hexdigest() == started["commitment"]
    winners = [w["uid"] for w in closed["winners"]]
    assert len(set(winners)) == 2 and set(winners) <= {f"v{i}" for i in range(4)}
    for v in viewers:
        assert (await event(v, "draw_closed", "bag-2030"))["winners"] == closed["winners"]
    record = fetch(live_server, "bag-2030")
    assert record["seed"] == closed["seed"] and [w["uid"] for w in record["winners"]] == winners
    assert (await merchant.ok("GET", f"/api/rooms/{ROOM}/draws"))["draws"] == []
    # finished: closing or cancelling again is refused with its state, and so is a repeat
    for verb in ("close", "cancel"):
        again = await merchant.call("POST", f"/api/rooms/{ROOM}/draws/bag-2030/{verb}")
        assert again.status_code == 409
        assert (again.json()["error"]["code"], again.json()["state"]) == ("draw_closed", "closed")
    repeat = await merchant.call("POST", f"/api/rooms/{ROOM}/draws", body)
    assert repeat.status_code == 409 and repeat.json()["draw"]["state"] == "closed"
    for v in viewers:
        await v.close()


async def test_a_lucky_bag_from_the_backend_and_a_cancel(
    live_server: LiveServer, merchant: Merchant
) -> None:
    await merchant.ok("PUT", "/api/coupons/t10", {**TEMPLATE, "total": 10})
    bag = {
        "prize": {"title": "Lucky bag", "kind": "coupon", "template_id": "t10"},
        "winners": 3,
        "duration_s": 60,
    }
    started = (await merchant.ok("POST", f"/api/rooms/{ROOM}/draws", bag))["draw"]
    assert started["prize"]["kind"] == "coupon" and started["draw_id"]
    tpl = (await merchant.ok("GET", "/api/coupons/t10"))["template"]
    assert (tpl["reserved"], tpl["left"]) == (3, 7)  # set aside for the winners
    cancelled = await merchant.ok("POST", f"/api/rooms/{ROOM}/draws/{started['draw_id']}/cancel")
    assert cancelled["outcome"]["by"] == "merchant" and "winners" not in cancelled["outcome"]
    tpl = (await merchant.ok("GET", "/api/coupons/t10"))["template"]
    assert (tpl["reserved"], tpl["left"]) == (0, 10)  # nobody won: all back


async def test_bad_draw_calls_get_clear_errors(live_server: LiveServer, merchant: Merchant) -> None:
    path = f"/api/rooms/{ROOM}/draws"
    bad: list[tuple[Any, int, str]] = [
        ({"winners": 1, "duration_s": 60}, 400, "missing_field"),
        ({"prize": PRIZE, "winners": 0, "duration_s": 60}, 400, "bad_field"),
        ({"prize": PRIZE, "winners": "2", "duration_s": 60}, 400, "bad_field"),
        ({"prize": {"title": ""}, "winners": 1, "duration_s": 60}, 400, "bad_field"),
        ({"prize": PRIZE, "winners": 1, "duration_s": 60, "mode": "dice"}, 400, "bad_field"),
        ({"prize": PRIZE, "winners": 1, "duration_s": 60, "draw_id": "a b"}, 400, "bad_field"),
        ({"prize": PRIZE, "winners": 1, "duration_s": 60, "draw_id": "x" * 61}, 400, "bad_field"),
        (
            {"prize": {"title": "Bag", "kind": "coupon", "template_id": "nope"}, "winners": 1,
             "duration_s": 60},
            404,
            "no_such_template",
        ),
    ]  # fmt: skip
    for body, status, code in bad:
        answer = await merchant.call("POST", path, body)
        assert (answer.status_code, answer.json()["error"]["code"]) == (status, code), body
    assert (await merchant.ok("GET", path))["draws"] == []  # nothing was started
    for verb in ("close", "cancel"):
        missing = await merchant.call("POST", f"{path}/nope/{verb}")
        assert (missing.status_code, missing.json()["error"]["code"]) == (404, "draw_not_found")
