"""2,000 real viewers grab 100 units at the same moment (DESIGN.md flash-sale invariants).

Real `liveroom serve` (on Redis, and on the memory engine), real WebSocket clients.
Users are mixed: some grab two units, some retry their request id in the same instant,
some send two different grabs (their per-user limit of two must hold across both), some
ask for more than the limit.
After every step (the burst, payments, cancellations, a second burst, expiry) the
counters, the per-user units and the holds must agree.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import pytest

from liveroom.rules import sale as rules
from tests.sales.crowd import answers, connect_crowd, drop_all, shows_stock
from tests.sales.merchant import Merchant
from tests.support.marks import crowd
from tests.support.server import LiveServer, free_port

VIEWERS = 2000
STOCK = 100
LIMIT = 2
HOLD_S = 20


def plan(i: int, sale_id: str) -> list[dict[str, Any]]:
    """Each user's grab frames; the kind of user is i % 4."""

    def grab(qty: int, req: str, rid: str) -> dict[str, Any]:
        return {"t": "grab", "sale_id": sale_id, "qty": qty, "request_id": req, "rid": rid}

    kind = i % 4
    if kind == 0:
        return [grab(2, "a", "1")]
    if kind == 1:  # a client retrying the same request id at once
        return [grab(1, "a", "1"), grab(1, "a", "2")]
    if kind == 2:  # two different grabs: the limit holds across both
        return [grab(1, "a", "1"), grab(2, "b", "2")]
    return [grab(3, "a", "1")]  # over the limit whatever the stock


class Check:
    """The invariants, read through the merchant API (the same on both engines)."""

    def __init__(self, merchant: Merchant, room: str, sale_id: str) -> None:
        self.merchant, self.room, self.sale_id = merchant, room, sale_id

    async def __call__(self) -> rules.Sale:
        body = await self.merchant.ok("GET", f"/api/rooms/{self.room}/sales/{self.sale_id}/holds")
        s = body["sale"]
        cfg = rules.SaleConfig(
            **{k: s[k] for k in ("sale_id", "sku", "title", "price_fen", "stock")},
            room_id=self.room,
            limit_per_user=s["limit_per_user"],
            starts_at=s["starts_at"],
            hold_s=s["hold_s"],
        )
        sale = rules.Sale(cfg, s["available"], s["held"], s["sold"])
        holds = [
            rules.Hold(**{k: v for k, v in h.items() if k != "total_fen"}) for h in body["holds"]
        ]
        assert rules.invariant_violations(sale, body["units_by_user"], holds) == []
        self.takens = body["units_by_user"]
        return sale

    async def events(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        after = "0-0"
        while True:
            page = await self.merchant.ok(
                "GET", f"/api/rooms/{self.room}/events?after={after}&count=1000"
            )
            out += page["events"]
            if not page["events"]:
                return out
            after = page["next"]


@pytest.fixture(params=["redis", "memory"])
async def shop(request: pytest.FixtureRequest, redis_url: str, key_prefix: str):
    url = redis_url if request.param == "redis" else ""
    env = {"LIVEROOM_REDIS_URL": url, "LIVEROOM_KEY_PREFIX": key_prefix}
    with LiveServer(env=env, port=free_port()) as srv:
        merchant = Merchant(srv.url, srv.secret)
        await merchant.ok("POST", "/api/products", {"sku": "tea", "title": "Tea", "price_fen": 100})
        try:
            yield srv, merchant
        finally:
            await merchant.close()


@crowd
async def test_two_thousand_viewers_grab_one_hundred_units(shop) -> None:
    srv, merchant = shop
    room = "crowd"
    sale = (
        await merchant.ok(
            "POST",
            f"/api/rooms/{room}/sales",
            {"sku": "tea", "stock": STOCK, "limit_per_user": LIMIT, "hold_s": HOLD_S},
        )
    )["sale"]
    sid = sale["sale_id"]
    check = Check(merchant, room, sid)
    uids = [f"u{i}" for i in range(VIEWERS)]
    clients = await connect_crowd(srv, room, uids)
    await check()

    # step 1: everyone at once -----------------------------------------------------------------
    go = asyncio.Event()
    frames = [plan(i, sid) for i in range(VIEWERS)]
    tasks = [asyncio.ensure_future(answers(c, f, go)) for c, f in zip(clients, frames, strict=True)]
    await asyncio.sleep(0.2)
    go.set()
    results: list[list[dict[str, Any]]] = await asyncio.gather(*tasks)

    holds: dict[str, dict[str, Any]] = {}
    per_user: dict[str, int] = defaultdict(int)
    for i, (sent, got) in enumerate(zip(frames, results, strict=True)):
        uid = uids[i]
        for frame, answer in zip(sent, got, strict=True):
            if answer["t"] == "ack":
                hold = answer["hold"]
                assert hold["qty"] == frame["qty"]
                if hold["hold_id"] not in holds:
                    holds[hold["hold_id"]] = {
                        **hold,
                        "uid": uid,
                        "ticket": answer["checkout"]["ticket"],
                    }
                    per_user[uid] += hold["qty"]
            else:
                assert answer["code"] in ("sold_out", "over_limit"), answer
        if i % 4 == 1:  # the same request id, sent twice at once: one answer
            a, b = got
            assert a.get("hold") == b.get("hold") and a.get("code") == b.get("code")
            assert (a["t"], b["t"]).count("ack") in (0, 2)
        for frame, answer in zip(sent, got, strict=True):
            if answer.get("code") == "over_limit":
                others = per_user[uid] if i % 4 != 1 else 0
                assert others + frame["qty"] > LIMIT, (uid, got)
                assert answer["limit_left"] == LIMIT - others
            if answer.get("code") == "sold_out":
                assert answer["available"] < frame["qty"]
        if i % 4 == 3:
            assert got[0]["code"] == "over_limit" and got[0]["limit_left"] == LIMIT
    assert sum(h["qty"] for h in holds.values()) == STOCK
    assert all(n <= LIMIT for n in per_user.values())
    s = await check()
    assert (s.available, s.held, s.sold) == (0, STOCK, 0)
    assert check.takens == {u: n for u, n in per_user.items() if n}
    # every viewer's stock shows the sell-out (latest value per tick)
    watcher = clients[-1]
    await shows_stock(watcher, sid, 0)

    # step 2: pay for some (twice each, at once) ---------------------------------------------------
    ordered = sorted(holds.values(), key=lambda h: h["hold_id"])
    to_pay, to_cancel = ordered[:30], ordered[30:50]

    async def confirm(h: dict[str, Any]) -> int:
        resp = await merchant.call(
            "POST",
            "/api/checkout/confirm",
            {"ticket": h["ticket"], "order_id": "o-" + h["hold_id"]},
        )
        return resp.status_code

    codes = await asyncio.gather(*(confirm(h) for h in to_pay * 2))
    assert set(codes) == {200}
    paid_units = sum(h["qty"] for h in to_pay)
    s = await check()
    assert (s.available, s.held, s.sold) == (0, STOCK - paid_units, paid_units)

    # step 3: cancel others (twice each, at once); cancelling paid holds changes nothing
    async def cancel(h: dict[str, Any]) -> int:
        return (
            await merchant.call("POST", "/api/checkout/cancel", {"ticket": h["ticket"]})
        ).status_code

    codes = await asyncio.gather(*(cancel(h) for h in to_cancel * 2 + to_pay[:5]))
    assert codes.count(200) == 40 and codes.count(409) == 5
    freed = sum(h["qty"] for h in to_cancel)
    s = await check()
    assert (s.available, s.held, s.sold) == (freed, STOCK - paid_units - freed, paid_units)

    # step 4: a second burst from users who hold nothing takes exactly what was freed --------------
    empty = [i for i in range(VIEWERS) if per_user[uids[i]] == 0][:400]
    go2 = asyncio.Event()
    second = [
        [{"t": "grab", "sale_id": sid, "qty": 1, "request_id": "again", "rid": "9"}] for _ in empty
    ]
    tasks = [
        asyncio.ensure_future(answers(clients[i], f, go2))
        for i, f in zip(empty, second, strict=True)
    ]
    await asyncio.sleep(0.1)
    go2.set()
    got2 = [r[0] for r in await asyncio.gather(*tasks)]
    assert sum(1 for a in got2 if a["t"] == "ack") == freed
    assert {a["code"] for a in got2 if a["t"] == "error"} == {"sold_out"}
    s = await check()
    assert (s.available, s.sold) == (0, paid_units)

    # step 5: unpaid holds expire and their stock returns, once
    latest = max(a["hold"]["expires_at"] for a in got2 if a["t"] == "ack")
    await shows_stock(watcher, sid, STOCK - paid_units, timeout=HOLD_S + 15)
    s = await check()
    assert (s.available, s.held, s.sold) == (STOCK - paid_units, 0, paid_units)
    events = await check.events()
    expired = [e["hold_id"] for e in events if e["type"] == "hold_expired"]
    assert len(expired) == len(set(expired))
    ended = [e["hold_id"] for e in events if e["type"] in ("hold_paid", "hold_cancelled")]
    created = [e["hold_id"] for e in events if e["type"] == "hold_created"]
    assert sorted(expired + ended) == sorted(created)  # every hold ended exactly once
    assert latest > 0
    drop_all(clients)
