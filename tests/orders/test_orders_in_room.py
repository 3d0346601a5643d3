"""Orders seen in the room, end to end: real `liveroom serve` processes, real sockets,
signed merchant confirmations.

A confirmed payment reaches the buyer (every connection, every process, once); the room
sees coalesced, paced `purchase` events with the nick shown as the host set it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from liveroom import tokens
from tests.sales.merchant import Merchant
from tests.support.client import Client
from tests.support.server import LiveServer

ROOM = "orders"
PRODUCT = {"sku": "tea-250", "title": "Longjing 250g", "price_fen": 12800, "appid": "wx1"}


def url(srv: LiveServer, uid: str, role: str = "viewer", nick: str = "") -> str:
    tok = tokens.mint_for(srv.secret, uid, room=ROOM, role=role, nick=nick)
    return srv.ws_url(ROOM, tok)


async def start_sale(host: Client, stock: int, limit: int = 1) -> str:
    ack = await host.request(
        {"t": "start_sale", "sku": PRODUCT["sku"], "stock": stock, "limit_per_user": limit}
    )
    assert ack["t"] == "ack", ack
    return ack["sale"]["sale_id"]


async def grab(buyer: Client, sale_id: str, request_id: str, qty: int = 1) -> dict[str, Any]:
    ack = await buyer.request(
        {"t": "grab", "sale_id": sale_id, "qty": qty, "request_id": request_id}
    )
    assert ack["t"] == "ack", ack
    return ack["hold"]


def confirm_body(hold: dict[str, Any], order_id: str) -> dict[str, Any]:
    return {"room_id": ROOM, "hold_id": hold["hold_id"], "order_id": order_id}


def frames(client: Client, t: str) -> list[dict[str, Any]]:
    return [f for f in client.seen if f.get("t") == t]


def purchases(client: Client) -> list[dict[str, Any]]:
    return [
        e
        for f in client.seen
        if f.get("t") == "tick"
        for e in f.get("events", [])
        if e["type"] == "purchase"
    ]


async def marker(host: Client, *clients: Client) -> None:
    """A room event every client receives after whatever the server sent them before it
    (one channel, in order): what has not arrived by then was never sent."""
    ack = await host.request({"t": "announce", "text": "marker"})
    for c in clients:
        await c.events(lambda e, seq=ack["seq"]: e["seq"] == seq)


# two processes on one Redis -----------------------------------------------------------
@pytest.fixture
def two_servers(redis_url: str, key_prefix: str) -> Iterator[tuple[LiveServer, LiveServer]]:
    env = {"LIVEROOM_REDIS_URL": redis_url, "LIVEROOM_KEY_PREFIX": key_prefix}
    with LiveServer(env=env) as a, LiveServer(env=env) as b:
        yield a, b


async def test_a_confirmed_payment_reaches_the_buyer_on_both_processes_once(
    two_servers: tuple[LiveServer, LiveServer],
) -> None:
    a, b = two_servers
    merchant = Merchant(b.url, b.secret)
    await merchant.ok("POST", "/api/products", PRODUCT)
    host = await Client.connect(url(a, "host", role="host"))
    phone = await Client.connect(url(a, "amy", nick="Amy"))  # the buyer's phone, on A
    laptop = await Client.connect(url(b, "amy", nick="Amy"))  # and laptop, on B
    others = [await Client.connect(url(srv, "bob", nick="Bob")) for srv in (a, b)]
    try:
        sale_id = await start_sale(host, stock=5, limit=2)
        hold = await grab(phone, sale_id, "g1", qty=2)
        paid = await merchant.ok("POST", "/api/checkout/confirm", confirm_body(hold, "o-1"))
        assert paid["duplicate"] is False and paid["hold"]["nick"] == "Amy"
        want = {
            "t": "order_paid",
            "hold_id": hold["hold_id"],
            "order_id": "o-1",
            "sale_id": sale_id,
            "sku": "tea-250",
            "title": "Longjing 250g",
            "qty": 2,
            "total_fen": 2 * 12800,
            "ts": paid["hold"]["ended_at"],
        }
        assert await phone.expect("order_paid") == want
        assert await laptop.expect("order_paid") == want
        again = await merchant.ok("POST", "/api/checkout/confirm", confirm_body(hold, "o-1"))
        assert again["duplicate"] is True
        await marker(host, phone, laptop, *others)
        assert len(frames(phone, "order_paid")) == 1 and len(frames(laptop, "order_paid")) == 1
        assert all(not frames(c, "order_paid") for c in others)
        # the room saw the purchase once, from either process, the nick masked
        for c in (*others, phone):
            [event] = purchases(c)
            assert (event["nick"], event["qty"], event["others"]) == ("A**", 2, 0)
            assert (event["sku"], event["title"]) == ("tea-250", "Longjing 250g")
    finally:
        for c in (host, phone, laptop, *others):
            await c.close()
        await merchant.close()


# one process, each engine ---------------------------------------------------------------
@pytest.fixture
def server_env(server_env: dict[str, str]) -> dict[str, str]:
    return {**server_env, "LIVEROOM_SOCIAL_PROOF_S": "1"}


@pytest.fixture
async def merchant(merchant: Merchant) -> Merchant:
    """The shared merchant client (tests/conftest.py), with what this module needs."""
    await merchant.ok("POST", "/api/products", PRODUCT)
    return merchant


async def test_a_burst_of_500_payments_reaches_the_room_as_a_few_coalesced_events(
    live_server: LiveServer, merchant: Merchant
) -> None:
    host = await Client.connect(
        live_server.ws_url(
            ROOM, tokens.mint_for(live_server.secret, "host", room=ROOM, role="host")
        )
    )
    watcher = await Client.connect(url(live_server, "watcher"))
    buyers = [await Client.connect(url(live_server, f"b{i}", nick=f"Buyer{i}")) for i in range(10)]
    try:
        sale_id = await start_sale(host, stock=500, limit=50)

        async def grabs(i: int) -> list[dict[str, Any]]:  # one socket's requests in turn
            return [await grab(buyers[i], sale_id, f"g{n}") for n in range(50)]

        holds = [h for some in await asyncio.gather(*map(grabs, range(10))) for h in some]
        calls = [
            merchant.call("POST", "/api/checkout/confirm", confirm_body(h, f"o-{i}"))
            for i, h in enumerate(holds)
        ]
        started = time.monotonic()
        answers = await asyncio.gather(*calls)
        assert [r.status_code for r in answers] == [200] * 500
        events: list[dict[str, Any]] = []

        def count(frame: dict[str, Any]) -> bool:
            if frame.get("t") == "tick":
                events.extend(e for e in frame["events"] if e["type"] == "purchase")
            return sum(1 + e["others"] for e in events) >= 500

        await watcher.until(count, timeout=30)
        span_s = time.monotonic() - started
        assert sum(1 + e["others"] for e in events) == 500
        # paced: at most one per window (1 s here) from the first confirmation to the last
        # event, plus the one that flushed what waited at the end
        assert len(events) <= 2 + span_s / 1.0, (len(events), span_s)
        assert all(e["nick"].endswith("**") and e["qty"] == 1 for e in events)
        # every buyer got an order_paid per hold, and nothing is announced twice
        await marker(host, watcher, *buyers)
        assert sum(1 + e["others"] for e in purchases(watcher)) == 500
        paid_ids = sorted(f["hold_id"] for c in buyers for f in frames(c, "order_paid"))
        assert paid_ids == sorted(h["hold_id"] for h in holds)
    finally:
        for c in (host, watcher, *buyers):
            await c.close()


async def test_the_host_chooses_how_the_room_sees_buyers(
    live_server: LiveServer, merchant: Merchant
) -> None:
    host_url = live_server.ws_url(
        ROOM, tokens.mint_for(live_server.secret, "host", room=ROOM, role="host")
    )
    host = await Client.connect(host_url)
    watcher = await Client.connect(url(live_server, "watcher"))
    buyer = await Client.connect(url(live_server, "zoe", nick="Zoë Li"))
    try:
        assert host.welcome["room"]["social_proof"] == "masked"  # type: ignore[index]
        sale_id = await start_sale(host, stock=10, limit=10)

        async def buy(n: int) -> None:
            hold = await grab(buyer, sale_id, f"g{n}")
            await merchant.ok("POST", "/api/checkout/confirm", confirm_body(hold, f"o{n}"))

        await buy(1)
        first = await watcher.events(lambda e: e["type"] == "purchase")
        assert first["nick"] == "Z**"

        ack = await host.request({"t": "set_social_proof", "mode": "full"})
        assert ack["t"] == "ack" and ack["seq"] > 0
        changed = await watcher.events(lambda e: e["type"] == "room")
        assert changed["social_proof"] == "full"
        await asyncio.sleep(1.1)  # the next slot
        await buy(2)
        second = await watcher.events(lambda e: e["type"] == "purchase")
        assert second["nick"] == "Zoë Li"

        assert (await host.request({"t": "set_social_proof", "mode": "off"}))["t"] == "ack"
        await asyncio.sleep(1.1)
        await buy(3)
        await buy(4)
        await asyncio.sleep(1.1)  # anything waiting would have gone out by now
        await marker(host, watcher, buyer)
        assert [e["nick"] for e in purchases(watcher)] == ["Z**", "Zoë Li"]
        assert len(frames(buyer, "order_paid")) == 4  # the buyer is told whatever the mode
        late_host = await Client.connect(host_url)
        assert late_host.welcome["room"]["social_proof"] == "off"  # type: ignore[index]
        await late_host.close()

        bad = await host.request({"t": "set_social_proof", "mode": "loud"})
        assert (bad["t"], bad["code"]) == ("error", "bad_field")
        assert "masked, full, off" in bad["message"]
        refused = await watcher.request({"t": "set_social_proof", "mode": "full"})
        assert refused["code"] == "forbidden"
    finally:
        for c in (host, watcher, buyer):
            await c.close()
