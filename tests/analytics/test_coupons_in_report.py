"""Coupons in the show report: how many of the room's drops' coupons its viewers claimed
and used, by where each viewer came from, the same live and rebuilt from the stream."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from liveroom import tokens
from tests.sales.merchant import Merchant
from tests.support.client import Client
from tests.support.server import LiveServer

ROOM = "coupon-show"
TEMPLATE = {"title": "5 off", "kind": "amount_off", "amount_fen": 500, "valid_days": 3}


async def until(check: Callable[[], Awaitable[Any]], timeout: float = 20) -> Any:
    for _ in range(int(timeout / 0.25)):
        if got := await check():
            return got
        await asyncio.sleep(0.25)
    raise AssertionError("the report never added up")


async def test_the_report_counts_coupons_claimed_and_used_by_source(
    live_server: LiveServer, merchant: Merchant
) -> None:
    body = {"owner": {"kind": "koc", "id": "amy"}, "channel": "wecom_group"}
    koc = (await merchant.ok("POST", f"/api/rooms/{ROOM}/share-codes", body))["share_code"]
    await merchant.ok("PUT", "/api/coupons/five", {**TEMPLATE, "total": 10})
    terms = {"template_id": "five", "count": 5}
    drop = await merchant.ok("POST", f"/api/rooms/{ROOM}/drops", terms)
    secret = live_server.secret

    def url(uid: str, **claims: str) -> str:
        return live_server.ws_url(ROOM, tokens.mint_for(secret, uid, room=ROOM, **claims))

    viewers = [
        await Client.connect(url("u-a", ref=koc["code"])),
        await Client.connect(url("u-b", ref=koc["code"])),
        await Client.connect(url("u-m", src="moments")),
    ]
    tickets = []
    for v in viewers:
        got = await v.request({"t": "claim", "drop_id": drop["drop"]["drop_id"], "request_id": "r"})
        assert got["t"] == "ack", got
        tickets.append(got["ticket"]["ticket"])
    for text, order in ((tickets[0], "o-1"), (tickets[2], "o-2")):
        await merchant.ok("POST", "/api/coupons/redeem", {"ticket": text, "order_id": order})
    again = {"ticket": tickets[0], "order_id": "o-1"}  # a retried redeem counts once
    assert (await merchant.ok("POST", "/api/coupons/redeem", again))["duplicate"] is True

    async def report() -> dict[str, Any] | None:
        r = (await merchant.ok("GET", f"/api/rooms/{ROOM}/report"))["report"]
        return r if r["coupons"]["redeemed"] == 2 else None

    r = await until(report)
    assert r["coupons"] == {"issued": 3, "redeemed": 2, "redeem_rate": round(2 / 3, 4)}
    by_code, moments = r["sources"][koc["code"]], r["sources"]["moments"]
    assert (by_code["coupons_issued"], by_code["coupons_redeemed"]) == (2, 1)
    assert (moments["coupons_issued"], moments["coupons_redeemed"]) == (1, 1)
    rebuilt = (await merchant.ok("POST", f"/api/rooms/{ROOM}/report/rebuild", {}))["rebuild"]
    assert rebuilt["differences"] == []
    assert rebuilt["report"]["coupons"] == r["coupons"]
    await asyncio.gather(*(v.close() for v in viewers))
