"""Faults mid-sale, on a Redis of the test's own: a server process killed (its holds
still expire and return, once, when another process runs), Redis stopped and restarted
(grabs answer `unavailable`, and retries with the same request id never reserve twice), and
two processes sharing one Redis (no oversell, no replayed merchant request)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from liveroom import tokens
from liveroom.merchant import auth
from liveroom.rules import sale as rules
from liveroom.sales.redis_store import RedisSaleStore
from liveroom.sales.store import now_ms
from tests.sales.merchant import Merchant
from tests.support.client import Client
from tests.support.redis_process import RedisProcess
from tests.support.server import LiveServer, free_port

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="no redis-server")

PREFIX = "lrsalefault"
ROOM = "fault"


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    server = RedisProcess(data_dir=tmp_path).start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
async def store(own_redis: RedisProcess) -> AsyncIterator[RedisSaleStore]:
    s = RedisSaleStore.from_url(own_redis.url, PREFIX)
    yield s
    await s.close()


def server(redis: RedisProcess, port: int) -> LiveServer:
    env = {"LIVEROOM_REDIS_URL": redis.url, "LIVEROOM_KEY_PREFIX": PREFIX}
    return LiveServer(env=env, port=port)


async def check(store: RedisSaleStore, sale_id: str) -> rules.Sale:
    sale = await store.get_sale(ROOM, sale_id)
    assert sale is not None
    holds = await store.holds(ROOM, sale_id)
    assert rules.invariant_violations(sale, await store.takens(ROOM, sale_id), holds) == []
    return sale


async def new_sale(srv: LiveServer, **terms: Any) -> str:
    m = Merchant(srv.url, srv.secret)
    await m.ok("POST", "/api/products", {"sku": "tea", "title": "Tea", "price_fen": 100})
    sale = await m.ok("POST", f"/api/rooms/{ROOM}/sales", {"sku": "tea", **terms})
    await m.close()
    return sale["sale"]["sale_id"]


async def viewer(srv: LiveServer, uid: str) -> Client:
    return await Client.connect(srv.ws_url(ROOM, tokens.mint_for(srv.secret, uid)))


async def grab(c: Client, sale_id: str, request_id: str, qty: int = 1) -> dict[str, Any]:
    return await c.request({"t": "grab", "sale_id": sale_id, "qty": qty, "request_id": request_id})


async def test_killed_server_holds_expire_when_another_process_runs(
    own_redis: RedisProcess, store: RedisSaleStore
) -> None:
    first = server(own_redis, free_port()).start()
    try:
        sid = await new_sale(first, stock=10, limit_per_user=3, hold_s=2)
        buyers = [await viewer(first, f"b{i}") for i in range(3)]
        holds = [(await grab(c, sid, "r", qty=i + 1))["hold"] for i, c in enumerate(buyers)]
        m = Merchant(first.url, first.secret)
        await m.ok(
            "POST",
            "/api/checkout/confirm",
            {"room_id": ROOM, "hold_id": holds[0]["hold_id"], "order_id": "paid-before-crash"},
        )
        await m.close()
        first.kill()  # no shutdown hooks run
    finally:
        first.stop()
    s = await check(store, sid)
    assert (s.available, s.held, s.sold) == (4, 5, 1)
    # no process runs while the holds come due
    await asyncio.sleep(max(0, max(h["expires_at"] for h in holds) - now_ms()) / 1000 + 0.2)
    s = await check(store, sid)
    assert s.held == 5, "nothing may expire holds while no process runs"
    with server(own_redis, free_port()) as second:
        watcher = await viewer(second, "watcher")
        await watcher.until(lambda f: f.get("stock", {}).get(sid) == 9, timeout=10)
        s = await check(store, sid)
        assert (s.available, s.held, s.sold) == (9, 0, 1)
        await asyncio.sleep(1.2)  # more sweeps: nothing returns twice
        s = await check(store, sid)
        assert (s.available, s.held, s.sold) == (9, 0, 1)
        events = await store.stream.read(ROOM, count=1000)
        expired = [e["hold_id"] for e in events if e["type"] == "hold_expired"]
        assert sorted(expired) == sorted(h["hold_id"] for h in holds[1:])
        await watcher.close()


async def test_redis_restart_mid_sale_retry_never_double_reserves(
    own_redis: RedisProcess, store: RedisSaleStore
) -> None:
    with server(own_redis, free_port()) as srv:
        sid = await new_sale(srv, stock=5, limit_per_user=5, hold_s=120)
        buyer = await viewer(srv, "buyer")
        before = await grab(buyer, sid, "r1", qty=2)
        assert before["t"] == "ack"
        own_redis.stop()
        down = await grab(buyer, sid, "r2", qty=1)
        assert down["t"] == "error" and down["code"] == "unavailable" and down["retry_after"] > 0
        m = Merchant(srv.url, srv.secret)
        pay = await m.call(
            "POST",
            "/api/checkout/confirm",
            {"ticket": before["checkout"]["ticket"], "order_id": "o1"},
        )
        assert pay.status_code == 503 and pay.json()["error"]["code"] == "unavailable"
        assert pay.headers["Retry-After"]
        async with httpx.AsyncClient() as http:
            assert (await http.get(srv.url + "/healthz")).status_code == 200
        own_redis.start()  # same data directory: the sale and the first hold survive
        answer = down
        for _ in range(100):  # the client's retry loop: the same request id every time
            answer = await grab(buyer, sid, "r2", qty=1)
            if answer.get("code") != "unavailable":
                break
            await asyncio.sleep(answer["retry_after"] / 10)
        assert answer["t"] == "ack", answer
        again = await grab(buyer, sid, "r2", qty=1)
        assert again["hold"] == answer["hold"] and again["duplicate"] is True
        first_again = await grab(buyer, sid, "r1", qty=2)
        assert first_again["hold"] == before["hold"]
        s = await check(store, sid)
        assert (s.available, s.held) == (2, 3)
        # the merchant's retried confirmation goes through once
        for _ in range(50):
            pay = await m.call(
                "POST",
                "/api/checkout/confirm",
                {"ticket": before["checkout"]["ticket"], "order_id": "o1"},
            )
            if pay.status_code != 503:
                break
            await asyncio.sleep(0.1)
        assert pay.status_code == 200
        s = await check(store, sid)
        assert (s.available, s.held, s.sold) == (2, 1, 2)
        await m.close()
        await buyer.close()


async def test_two_processes_share_stock_and_nonce_memory(
    own_redis: RedisProcess, store: RedisSaleStore
) -> None:
    with server(own_redis, free_port()) as a, server(own_redis, free_port()) as b:
        sid = await new_sale(a, stock=7, limit_per_user=1, hold_s=60)
        clients = [await viewer(a if i % 2 else b, f"p{i}") for i in range(20)]
        answers = await asyncio.gather(*(grab(c, sid, "x") for c in clients))
        assert sum(1 for x in answers if x["t"] == "ack") == 7
        assert {x["code"] for x in answers if x["t"] == "error"} == {"sold_out"}
        await check(store, sid)
        body = b'{"sku":"cup","title":"Cup","price_fen":5}'
        headers = auth.signed_headers(a.secret, "POST", "/api/products", body)
        async with httpx.AsyncClient() as http:
            first = await http.post(a.url + "/api/products", content=body, headers=headers)
            replay = await http.post(b.url + "/api/products", content=body, headers=headers)
        assert first.status_code == 201
        assert replay.status_code == 401 and replay.json()["error"]["code"] == "replayed_request"
        for c in clients:
            await c.close()


async def test_grabs_cut_off_by_a_crash_are_retried_on_another_process_once(
    own_redis: RedisProcess, store: RedisSaleStore
) -> None:
    """Whether or not the dead process got to run a grab, retrying its request id on
    another process ends with exactly one hold per grab."""
    first = server(own_redis, free_port()).start()
    try:
        sid = await new_sale(first, stock=100, limit_per_user=1, hold_s=120)
        users = [f"c{i}" for i in range(40)]
        clients = [await viewer(first, u) for u in users]
        frame = {"t": "grab", "sale_id": sid, "qty": 1, "request_id": "tap-1"}
        answered = await asyncio.gather(*(grab(c, sid, "tap-1") for c in clients[:20]))
        await asyncio.gather(*(c.send(frame) for c in clients[20:]))
        first.kill()  # these 20 answers are lost, whether or not their grabs ran
    finally:
        first.stop()
    with server(own_redis, free_port()) as second:
        again = [await viewer(second, u) for u in users]
        answers = await asyncio.gather(*(grab(c, sid, "tap-1") for c in again))
        assert all(a["t"] == "ack" for a in answers), answers
        for before, after in zip(answered, answers[:20], strict=True):
            assert after["duplicate"] and after["hold"] == before["hold"]
        s = await check(store, sid)
        assert (s.held, s.available) == (len(users), 100 - len(users))
        assert await store.takens(ROOM, sid) == dict.fromkeys(users, 1)
        for c in again:
            await c.close()


async def test_an_event_appended_after_a_redis_restart_is_kept(
    own_redis: RedisProcess, store: RedisSaleStore
) -> None:
    """Draw results and joins reach the stream on the first try after Redis comes back,
    although the store's pooled connections died with the old Redis."""
    await store.stream.append(ROOM, "viewer_joined", {"uid": "before"})
    own_redis.stop()
    own_redis.start()
    await store.stream.append(ROOM, "viewer_joined", {"uid": "after"})
    assert [e["uid"] for e in await store.stream.read(ROOM)] == ["before", "after"]
