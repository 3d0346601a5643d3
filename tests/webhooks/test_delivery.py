"""Merchant webhooks end to end: real `liveroom serve` processes, real viewers grabbing on
real sockets, and a real HTTP endpoint standing in for the merchant's backend that checks
every call's signature. What the backend relies on: every event of the room's stream
reaches it, in the stream's order, once it answered 2xx; failures are retried; a process
that dies mid-call leaves nothing undelivered."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from liveroom import tokens
from tests.sales.merchant import Merchant
from tests.support.client import Client
from tests.support.receiver import HANG, Receiver
from tests.support.server import DEV_SECRET, LiveServer

ROOM = "hooked"
PRODUCT = {"sku": "tea-01", "title": "Longjing", "price_fen": 16800, "page": "pages/buy/index"}
FAST = {
    "LIVEROOM_WEBHOOK_POLL_S": "0.1",
    "LIVEROOM_WEBHOOK_RETRY_BASE_S": "0.2",
    "LIVEROOM_WEBHOOK_RETRY_CAP_S": "1",
    "LIVEROOM_WEBHOOK_BATCH": "5",
}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(DEV_SECRET) as r:
        yield r


def env(base: dict[str, str], receiver: Receiver, **more: str) -> dict[str, str]:
    return {**base, **FAST, "LIVEROOM_WEBHOOK_URL": receiver.url, **more}


async def shop(servers: list[LiveServer], buyers: int) -> list[dict[str, Any]]:
    """A sale, buyers grabbing on every process at once, two payments; the room's stream."""
    merchant = Merchant(servers[0].url, servers[0].secret)
    try:
        await merchant.ok("POST", "/api/products", PRODUCT)
        sale = (
            await merchant.ok("POST", f"/api/rooms/{ROOM}/sales", {"sku": "tea-01", "stock": 50})
        )["sale"]
        clients = []
        for i in range(buyers):
            srv = servers[i % len(servers)]
            token = tokens.mint_for(srv.secret, f"u{i}", room=ROOM, src="wecom")
            clients.append(await Client.connect(srv.ws_url(ROOM, token)))
        grabs = await asyncio.gather(
            *(
                c.request({"t": "grab", "sale_id": sale["sale_id"], "request_id": f"g{i}"})
                for i, c in enumerate(clients)
            )
        )
        assert all(g["t"] == "ack" for g in grabs)
        for i, g in enumerate(grabs[:2]):
            paid = {"ticket": g["checkout"]["ticket"], "order_id": f"o-{i}"}
            await merchant.ok("POST", "/api/checkout/confirm", paid)
        for c in clients:
            await c.close()
        return await all_events(merchant)
    finally:
        await merchant.close()


async def all_events(merchant: Merchant) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    after = "0-0"
    while page := (await merchant.ok("GET", f"/api/rooms/{ROOM}/events?after={after}"))["events"]:
        out += page
        after = page[-1]["id"]
    return out


def commerce(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Without the analytics' own aggregates, written whenever a flush falls due."""
    return [e for e in events if e["type"] != "activity"]


async def test_every_event_arrives_signed_in_order_through_failures(
    server_env: dict[str, str], receiver: Receiver
) -> None:
    receiver.script = [500, 503]  # the backend's first two answers are errors
    with LiveServer(env=env(server_env, receiver)) as srv:
        stream = await shop([srv], buyers=6)
        assert {"sale_created", "hold_created", "hold_paid", "viewer_joined"} <= {
            e["type"] for e in stream
        }
        got = await asyncio.to_thread(receiver.wait_for, ROOM, len(stream))
        await asyncio.sleep(0.3)  # the count follows the answer
        taken = await asyncio.to_thread(srv.metric, "liveroom_webhook_events")
        failed = await asyncio.to_thread(srv.metric, "liveroom_webhook_failures")
    assert commerce(got[: len(stream)]) == commerce(stream)  # every one, in order, once
    ids = [e["id"] for e in got]
    assert len(ids) == len(set(ids))  # nothing twice
    assert all(c.signed for c in receiver.calls)
    assert [c.answer for c in receiver.calls[:2]] == [500, 503]  # failed, then retried
    # what operations sees at /metrics (an analytics aggregate may have come since)
    assert failed == 2 and len(stream) <= taken <= len(receiver.events(ROOM))
    assert max(len(c.body["events"]) for c in receiver.calls) <= 5  # LIVEROOM_WEBHOOK_BATCH


async def test_two_processes_deliver_each_event_once(
    redis_url: str, key_prefix: str, receiver: Receiver
) -> None:
    base = {"LIVEROOM_REDIS_URL": redis_url, "LIVEROOM_KEY_PREFIX": key_prefix}
    with LiveServer(env=env(base, receiver)) as a, LiveServer(env=env(base, receiver)) as b:
        stream = await shop([a, b], buyers=10)
        got = await asyncio.to_thread(receiver.wait_for, ROOM, len(stream))
        await asyncio.sleep(1)  # a second delivery of anything would have come by now
        got = receiver.events(ROOM)
    assert commerce(got) == commerce(stream)
    ids = [e["id"] for e in got]
    assert len(ids) == len(set(ids))  # nothing twice
    assert all(c.signed for c in receiver.calls)


async def test_a_process_killed_mid_call_leaves_nothing_undelivered(
    redis_url: str, key_prefix: str, receiver: Receiver
) -> None:
    """The backend holds the first call unanswered and its sender dies: another process
    takes the room once the dead one's lease ran out and sends that batch again."""
    base = {"LIVEROOM_REDIS_URL": redis_url, "LIVEROOM_KEY_PREFIX": key_prefix}
    receiver.script = [HANG]
    quick = env(base, receiver, LIVEROOM_WEBHOOK_TIMEOUT_S="1")  # a lease of 3 s
    first = LiveServer(env=quick).start()
    try:
        stream = await shop([first], buyers=4)
        await asyncio.to_thread(lambda: wait_until(lambda: len(receiver.calls) >= 1))
    finally:
        first.kill()
    with LiveServer(env=quick):
        got = await asyncio.to_thread(receiver.wait_for, ROOM, len(stream))
    assert commerce(got) == commerce(stream)  # what the dead process held came again
    assert not receiver.calls[0].delivered
    assert receiver.calls[0].body["events"] == got[: len(receiver.calls[0].body["events"])]


def wait_until(pred: Any, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"LIVEROOM_WEBHOOK_URL": "shop.example.com/hooks"}, "must be an http"),
        ({"LIVEROOM_WEBHOOK_TYPES": "hold_paid,order_paid"}, "unknown event types"),
    ],
)
def test_webhook_settings_that_cannot_work_stop_the_server_at_start(
    env: dict[str, str], says: str
) -> None:
    server = LiveServer(env={**env, "LIVEROOM_REDIS_URL": ""})
    with pytest.raises(RuntimeError, match=says):
        server.start()
    server.stop()


async def test_only_the_types_asked_for_are_posted(
    server_env: dict[str, str], receiver: Receiver
) -> None:
    """A backend that wants orders only is not sent every join."""
    wanted = "hold_created,hold_paid"
    with LiveServer(env=env(server_env, receiver, LIVEROOM_WEBHOOK_TYPES=wanted)) as srv:
        stream = await shop([srv], buyers=6)
        orders = [e for e in stream if e["type"] in wanted.split(",")]
        got = await asyncio.to_thread(receiver.wait_for, ROOM, len(orders))
        await asyncio.sleep(0.5)  # anything more would have come by now
        got = receiver.events(ROOM)
    assert got == orders
    assert len(orders) == 8 and len(stream) > len(orders)  # 6 holds, 2 paid; the rest skipped


async def test_the_status_call_shows_what_waits_and_why(
    server_env: dict[str, str], receiver: Receiver
) -> None:
    receiver.script = [502] * 3  # the backend is down for three calls
    with LiveServer(env=env(server_env, receiver)) as srv:
        merchant = Merchant(srv.url, srv.secret)
        try:
            stream = await shop([srv], buyers=3)

            async def status() -> dict[str, Any]:
                return await merchant.ok("GET", "/api/webhook")

            async def polled(done: Any) -> dict[str, Any]:
                while not done(s := await status()):  # noqa: ASYNC110 - a server, over HTTP
                    await asyncio.sleep(0.05)
                return s

            down = await asyncio.wait_for(
                polled(lambda s: s["rooms"] and s["rooms"][0]["failures"]), 20
            )
            assert (down["enabled"], down["endpoint"]) == (
                True,
                f"http://127.0.0.1:{receiver.port}",
            )
            [room] = down["rooms"]
            assert room["room_id"] == ROOM and room["error"] == "HTTP 502"
            assert room["behind"] >= len(commerce(stream)) and room["retry_at"] > 0
            await asyncio.to_thread(receiver.wait_for, ROOM, len(stream))
            await asyncio.wait_for(polled(lambda s: not s["rooms"]), 20)  # all taken
        finally:
            await merchant.close()


async def test_without_a_webhook_the_status_says_so(live_server: LiveServer) -> None:
    merchant = Merchant(live_server.url, live_server.secret)
    try:
        got = await merchant.ok("GET", "/api/webhook")
    finally:
        await merchant.close()
    assert got == {"enabled": False, "endpoint": "", "types": [], "rooms": []}
