"""2,000 real viewers claim a drop of 100 coupons at the same moment, on a real
`liveroom serve` on Redis and on the memory engine (issue 11).

A claim is a grab (one atomic step, batched), so a drop holds the flash-sale invariants:
exactly `count` coupons issued, nobody over the template's per-user limit (2 here), the
same request id answered the same however often and whenever it is sent, and
`remaining + claimed == count` with the per-user counts matching the coupons.
Users are mixed (i % 4): one claim; the same request id twice at once; three different
request ids at once (the limit holds across them); one claim sent again after the burst.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from liveroom.rules import sale as rules
from tests.sales.crowd import answers, connect_crowd, drop_all
from tests.sales.merchant import Merchant
from tests.support.marks import crowd
from tests.support.server import LiveServer, free_port

VIEWERS = 2000
COUNT = 100
LIMIT = 2
ROOM = "crowd"


def plan(i: int, drop_id: str) -> list[dict[str, Any]]:
    def claim(req: str, rid: str) -> dict[str, Any]:
        return {"t": "claim", "drop_id": drop_id, "request_id": req, "rid": rid}

    kind = i % 4
    if kind == 1:  # a client retrying the same request id at once
        return [claim("a", "1"), claim("a", "2")]
    if kind == 2:  # three claims at once: the per-user limit of two holds across them
        return [claim("a", "1"), claim("b", "2"), claim("c", "3")]
    return [claim("a", "1")]


def invariants(body: dict[str, Any]) -> list[str]:
    """DESIGN.md's invariants for the drop, from what the merchant API reports."""
    d = body["drop"]
    cfg = rules.SaleConfig(
        d["drop_id"], ROOM, "", d["title"], 0, d["count"], d["limit_per_user"], d["starts_at"], 0
    )
    cfg = rules.SaleConfig(**{**vars(cfg), "kind": rules.COUPON})
    sale = rules.Sale(cfg, available=d["remaining"], held=0, sold=d["claimed"])
    units = [
        rules.Hold(c["coupon_id"], ROOM, c["drop_id"], c["uid"], 1, 0, "", c["issued_at"],
                   c["valid_until"], status=c["status"], kind=rules.COUPON)
        for c in body["claims"]
    ]  # fmt: skip
    takens = Counter(c["uid"] for c in body["claims"])
    return rules.invariant_violations(sale, takens, units)


@pytest.fixture(params=["redis", "memory"])
async def shop(request: pytest.FixtureRequest, redis_url: str, key_prefix: str):
    url = redis_url if request.param == "redis" else ""
    env = {"LIVEROOM_REDIS_URL": url, "LIVEROOM_KEY_PREFIX": key_prefix}
    with LiveServer(env=env, port=free_port()) as srv:
        merchant = Merchant(srv.url, srv.secret)
        template = {
            "title": "¥20 off",
            "kind": "amount_off",
            "amount_fen": 2000,
            "valid_days": 3,
            "total": COUNT,
            "limit_per_user": LIMIT,
        }
        await merchant.ok("PUT", "/api/coupons/crowd", template)
        try:
            yield srv, merchant
        finally:
            await merchant.close()


@crowd
async def test_two_thousand_viewers_claim_a_drop_of_one_hundred(shop) -> None:
    srv, merchant = shop
    uids = [f"u{i}" for i in range(VIEWERS)]
    clients = await connect_crowd(srv, ROOM, uids)
    made = await merchant.ok(
        "POST", f"/api/rooms/{ROOM}/drops", {"template_id": "crowd", "count": COUNT}
    )
    drop_id = made["drop"]["drop_id"]
    assert invariants(await merchant.ok("GET", f"/api/rooms/{ROOM}/drops/{drop_id}")) == []

    go = asyncio.Event()
    frames = [plan(i, drop_id) for i in range(VIEWERS)]
    tasks = [asyncio.ensure_future(answers(c, f, go)) for c, f in zip(clients, frames, strict=True)]
    await asyncio.sleep(0.2)
    go.set()
    results: list[list[dict[str, Any]]] = await asyncio.gather(*tasks)

    issued: dict[str, str] = {}  # coupon id -> uid
    per_user: Counter[str] = Counter()
    for i, got in enumerate(results):
        uid = uids[i]
        for answer in got:
            if answer["t"] == "ack":
                coupon = answer["coupon"]
                assert coupon["uid"] == uid and coupon["drop_id"] == drop_id
                if coupon["coupon_id"] not in issued:
                    issued[coupon["coupon_id"]] = uid
                    per_user[uid] += 1
            else:
                assert answer["code"] in ("sold_out", "over_limit"), answer
        if i % 4 == 1:  # the same request id, sent twice at once: one answer
            first, second = got
            assert first.get("coupon") == second.get("coupon")
            assert first.get("ticket") == second.get("ticket")
            assert first.get("code") == second.get("code")
        if i % 4 == 2:  # never a third coupon
            assert sum(1 for a in got if a["t"] == "ack") <= LIMIT
            assert any(a.get("code") == "over_limit" for a in got) or any(
                a.get("code") == "sold_out" for a in got
            )
    assert len(issued) == COUNT
    assert max(per_user.values()) <= LIMIT

    # the same request ids again, after the burst: the same answers, nothing new issued
    again_at = [i for i in range(VIEWERS) if i % 4 == 3]
    go2 = asyncio.Event()
    retry = [asyncio.ensure_future(answers(clients[i], frames[i], go2)) for i in again_at]
    go2.set()
    for i, got in zip(again_at, await asyncio.gather(*retry), strict=True):
        before, now = results[i][0], got[0]
        assert now.get("coupon") == before.get("coupon") and now.get("code") == before.get("code")
        assert now.get("ticket") == before.get("ticket")
        if before["t"] == "ack":
            assert now["duplicate"] is True

    body = await merchant.ok("GET", f"/api/rooms/{ROOM}/drops/{drop_id}")
    assert invariants(body) == []
    assert (body["drop"]["remaining"], body["drop"]["claimed"]) == (0, COUNT)
    assert {c["coupon_id"]: c["uid"] for c in body["claims"]} == issued
    template = (await merchant.ok("GET", "/api/coupons/crowd"))["template"]
    assert (template["issued"], template["left"]) == (COUNT, 0)
    events, after = [], "0-0"
    while page := (await merchant.ok("GET", f"/api/rooms/{ROOM}/events?after={after}&count=1000"))[
        "events"
    ]:
        events += page
        after = page[-1]["id"]
    assert sorted(e["coupon_id"] for e in events if e["type"] == "coupon_issued") == sorted(issued)
    # every viewer's live count shows it gone (latest value per tick)
    watcher = clients[-1]
    shown = [f["drops"][drop_id] for f in watcher.seen if drop_id in f.get("drops", {})]
    if not shown or shown[-1] != 0:
        await watcher.until(lambda f: f.get("drops", {}).get(drop_id) == 0, timeout=20)
    drop_all(clients)
