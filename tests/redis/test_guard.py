"""The outage guard: every way a real Redis says "not now" reaches callers as Unavailable,
from every Redis call site; what is not an outage passes unchanged.

Each test runs a redis-server of its own (stopped, paused, loading, a replica, a cluster
node), never the shared one.
"""

from __future__ import annotations

import asyncio
import inspect
import shutil
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_sync
from redis import exceptions as rexc
from redis.asyncio.connection import Connection as AsyncConnection
from redis.crc import key_slot

from liveroom.analytics.redis_store import RedisAnalyticsStore
from liveroom.analytics.store import SEEN, TouchAsk
from liveroom.coupons.redis_store import RedisTemplateStore
from liveroom.draws.redis_store import RedisDrawStore
from liveroom.engine.base import new_event
from liveroom.errors import Unavailable
from liveroom.integrations.wecom import RedisPacer
from liveroom.jobs import DueRef, Job, NewJob
from liveroom.jobs.redis_store import RedisJobStore
from liveroom.merchant.nonces import RedisNonces
from liveroom.redis.guard import is_outage
from liveroom.rules import sale as sale_rules
from liveroom.rules.attribution import Delta, Figures, Owner, ShareCode, Touch
from liveroom.rules.coupon import build_template
from liveroom.rules.segments import ProfileDelta, Thresholds
from liveroom.rules.show import Slot
from liveroom.sales.redis_store import RedisSaleStore
from liveroom.sales.store import GrabRequest
from liveroom.shows.model import Series, Show
from liveroom.shows.redis_store import RedisShowStore
from liveroom.shows.store import Subscriber
from liveroom.stream.redis import RedisStream
from liveroom.webhooks.redis_store import RedisWebhookStore
from tests.draws.test_store_contract import make_draw
from tests.sales.conftest import PRODUCT, T0, make_sale
from tests.support.redis_process import RedisProcess
from tests.support.server import free_port
from tests.support.stores import RedisParts

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="no redis-server")

PREFIX = "lrguard"
ROOM = "r1"


@pytest.fixture
async def own() -> AsyncIterator[RedisProcess]:
    server = RedisProcess().start()
    try:
        yield server
    finally:
        server.kill()


async def parts_on(url: str) -> RedisParts:
    return RedisParts(url, PREFIX)


Call = Callable[[RedisParts], Awaitable[Any]]
DRAW = make_draw(room=ROOM)
JOB = Job(ROOM, "j1", "k", T0, {}, 3, state="running", token="t")
SERIES = Series("s1", "Night market", Slot(2, "20:00"))
CODE = ShareCode("ABCD2345", ROOM, "moments", Owner("koc", "u9"))
TEMPLATE = build_template(
    {"title": "5 off", "kind": "amount_off", "amount_fen": 500, "valid_days": 3, "total": 9},
    "t1",
    T0,
)
DELTA, PROFILE = Delta(), ProfileDelta()
DELTA.add("fig", "joins")
PROFILE.add("shows")
PROFILE.saw(T0, ROOM)

# Every public call of every store on the Redis layer (the engine's are in
# tests/contract/test_redis_fault.py). test_the_tables_cover_every_call keeps them whole.
CALLS: dict[type, dict[str, Call]] = {
    RedisSaleStore: {
        "put_product": lambda p: p.sales.put_product(PRODUCT),
        "get_product": lambda p: p.sales.get_product("tea-01"),
        "list_products": lambda p: p.sales.list_products(),
        "delete_product": lambda p: p.sales.delete_product("tea-01"),
        "pin": lambda p: p.sales.pin(ROOM, "tea-01"),
        "unpin": lambda p: p.sales.unpin(ROOM, "tea-01"),
        "bag": lambda p: p.sales.bag(ROOM),
        "count_click": lambda p: p.sales.count_click(ROOM, "tea-01"),
        "clicks": lambda p: p.sales.clicks(ROOM),
        "create_sale": lambda p: p.sales.create_sale(make_sale()),
        "get_sale": lambda p: p.sales.get_sale(ROOM, "s1"),
        "list_sales": lambda p: p.sales.list_sales(ROOM),
        "shop": lambda p: p.sales.shop(ROOM),
        "end_sale": lambda p: p.sales.end_sale(ROOM, "s1", T0),
        "grab": lambda p: p.sales.grab(ROOM, "s1", "u1", "", 1, "a", T0),
        "grab_many": lambda p: p.sales.grab_many(ROOM, [GrabRequest("s1", "u", "", 1, "b")], T0),
        "get_hold": lambda p: p.sales.get_hold(ROOM, "h1"),
        "units_of": lambda p: p.sales.units_of(ROOM, ["u1"]),
        "confirm": lambda p: p.sales.confirm(ROOM, "h1", "o1", T0),
        "cancel": lambda p: p.sales.cancel(ROOM, "h1", T0),
        "sweep": lambda p: p.sales.sweep(ROOM, T0),
        "rooms_with_sales": lambda p: p.sales.rooms_with_sales(),
        "forget_room": lambda p: p.sales.forget_room(ROOM),
        "remember_room": lambda p: p.sales.remember_room(ROOM),
        "told_end": lambda p: p.sales.told_end(ROOM, "s1"),
        "takens": lambda p: p.sales.takens(ROOM, "s1"),
        "holds": lambda p: p.sales.holds(ROOM, "s1"),
        "expire_due": lambda p: p.sales.expire_due(T0),
    },
    RedisTemplateStore: {
        "put": lambda p: p.templates.put(TEMPLATE),
        "get": lambda p: p.templates.get("t1"),
        "list": lambda p: p.templates.list(),
        "reserve": lambda p: p.templates.reserve("t1", 1),
        "unreserve": lambda p: p.templates.unreserve("t1", 1, "r/d"),
        "release": lambda p: p.templates.release("t1", 1),
        "add_drop": lambda p: p.templates.add_drop("t1", ROOM, "d1"),
        "drops": lambda p: p.templates.drops("t1"),
    },
    RedisDrawStore: {
        "create": lambda p: p.draws.create(DRAW),
        "get": lambda p: p.draws.get(ROOM, DRAW.id),
        "announced": lambda p: p.draws.announced(ROOM, DRAW.id),
        "open_draws": lambda p: p.draws.open_draws(ROOM),
        "enter": lambda p: p.draws.enter(ROOM, DRAW.id, "u1", "Ann", T0),
        "count": lambda p: p.draws.count(ROOM, DRAW.id),
        "entrant_ids": lambda p: p.draws.entrant_ids(ROOM, DRAW.id),
        "nicks": lambda p: p.draws.nicks(ROOM, DRAW.id, ["u1"]),
        "has_entered": lambda p: p.draws.has_entered(ROOM, DRAW.id, "u1"),
        "record_wins": lambda p: p.draws.record_wins(ROOM, DRAW.id, ["u1"]),
        "wins": lambda p: p.draws.wins(ROOM, "u1"),
        "finish": lambda p: p.draws.finish(ROOM, DRAW.id, "closed", T0),
        "due": lambda p: p.draws.due(T0),
        "done": lambda p: p.draws.done(ROOM, DRAW.id),
        "mark_seen": lambda p: p.draws.mark_seen(ROOM, "u1", T0),
        "first_seen": lambda p: p.draws.first_seen(ROOM, "u1"),
        "joined": lambda p: p.draws.joined(ROOM, ["u1", None], T0),
        "result": lambda p: p.draws.result(ROOM, DRAW.id),
    },
    RedisStream: {
        "append": lambda p: p.stream.append(ROOM, "viewer_joined", {"uid": "u1"}),
        "append_many": lambda p: p.stream.append_many(ROOM, [("viewer_joined", {"uid": "u1"})]),
        "read": lambda p: p.stream.read(ROOM),
    },
    RedisNonces: {"claim": lambda p: p.nonces.claim("n1", 60)},
    RedisJobStore: {
        "schedule": lambda p: p.jobs.schedule(NewJob(ROOM, "j1", "k", T0), T0),
        "reschedule": lambda p: p.jobs.reschedule(ROOM, "j1", T0, T0),
        "cancel": lambda p: p.jobs.cancel(ROOM, "j1", T0),
        "due": lambda p: p.jobs.due(T0),
        "claim": lambda p: p.jobs.claim(DueRef(ROOM, "j1", 1), T0, 1000, "t"),
        "complete": lambda p: p.jobs.complete(JOB, T0),
        "retry": lambda p: p.jobs.retry(JOB, T0, T0, "x"),
        "give_up": lambda p: p.jobs.give_up(JOB, T0, "x"),
        "get": lambda p: p.jobs.get(ROOM, "j1"),
        "room_jobs": lambda p: p.jobs.room_jobs(ROOM),
    },
    RedisShowStore: {
        "get": lambda p: p.shows.get(ROOM),
        "transition": lambda p: p.shows.transition(ROOM, "scheduled", T0, Show(ROOM)),
        "put_settings": lambda p: p.shows.put_settings(Show(ROOM)),
        "subscribe": lambda p: p.shows.subscribe(ROOM, Subscriber("u1", T0)),
        "is_subscribed": lambda p: p.shows.is_subscribed(ROOM, "u1"),
        "subscribers": lambda p: p.shows.subscribers(ROOM, 0, 10),
        "put_series": lambda p: p.shows.put_series(SERIES),
        "get_series": lambda p: p.shows.get_series("s1"),
        "list_series": lambda p: p.shows.list_series(),
        "delete_series": lambda p: p.shows.delete_series("s1"),
        "add_episode": lambda p: p.shows.add_episode("s1", ROOM, T0),
        "episodes": lambda p: p.shows.episodes("s1"),
    },
    RedisPacer: {"take": lambda p: p.pacer.take("robot", T0)},
    RedisWebhookStore: {
        "mark": lambda p: p.webhooks.mark([ROOM]),
        "rooms": lambda p: p.webhooks.rooms(),
        "forget": lambda p: p.webhooks.forget(ROOM),
        "take": lambda p: p.webhooks.take(ROOM, "p1", T0, T0 + 1000),
        "advance": lambda p: p.webhooks.advance(ROOM, "p1", "1-0", T0 + 1000),
        "hold": lambda p: p.webhooks.hold(ROOM, "p1", T0),
        "failed": lambda p: p.webhooks.failed(ROOM, "p1", T0, "HTTP 502"),
        "status": lambda p: p.webhooks.status([ROOM]),
    },
    RedisAnalyticsStore: {
        "add_code": lambda p: p.analytics.add_code(CODE),
        "code": lambda p: p.analytics.code(ROOM, CODE.code),
        "codes": lambda p: p.analytics.codes(ROOM),
        "touches": lambda p: p.analytics.touches(ROOM, [TouchAsk("u1", Touch())], 60),
        "apply": lambda p: p.analytics.apply(ROOM, DELTA),
        "figures": lambda p: p.analytics.figures(ROOM),
        "replace": lambda p: p.analytics.replace(ROOM, Figures({"fig": {"joins": 1}})),
        "known": lambda p: p.analytics.known(ROOM),
        "add_profiles": lambda p: p.analytics.add_profiles({"u1": PROFILE}),
        "profiles": lambda p: p.analytics.profiles(["u1"]),
        "profile": lambda p: p.analytics.profile("u1"),
        "index_range": lambda p: p.analytics.index_range(SEEN, None, None, 0, 10),
        "segment_page": lambda p: p.analytics.segment_page("new", Thresholds(), T0, 0, 10),
    },
}


def test_the_tables_cover_every_call() -> None:
    for cls, calls in CALLS.items():
        public = {
            name
            for name, fn in inspect.getmembers(cls, inspect.iscoroutinefunction)
            if not name.startswith("_") and name not in ("start", "close")
        }
        assert public == set(calls), cls.__name__


async def test_every_call_of_every_store_is_unavailable_while_redis_is_down(
    own: RedisProcess,
) -> None:
    parts = await parts_on(own.url)
    try:
        await parts.sales.put_product(PRODUCT)  # connections exist before the outage
        own.kill()
        for cls, calls in CALLS.items():
            for name, call in calls.items():
                with pytest.raises(Unavailable):  # a hang fails the test, by the deadline
                    await asyncio.wait_for(call(parts), 10)
                assert cls and name
        own.start()
        for _ in range(50):  # the same objects serve again once Redis is back
            try:
                await parts.sales.put_product(PRODUCT)
                break
            except Unavailable:
                await asyncio.sleep(0.1)
        assert await parts.sales.get_product("tea-01") == PRODUCT
    finally:
        await parts.close()


async def test_a_stalled_redis_is_unavailable_after_the_timeout(own: RedisProcess) -> None:
    parts = await parts_on(own.url)
    try:
        await parts.sales.create_sale(make_sale())
        own.signal(signal.SIGSTOP)
        try:
            with pytest.raises(Unavailable):
                await asyncio.wait_for(parts.sales.grab(ROOM, "s1", "u1", "", 1, "a", T0), 10)
        finally:
            own.signal(signal.SIGCONT)
    finally:
        await parts.close()


async def test_a_restarted_redis_is_served_on_the_first_call(own: RedisProcess) -> None:
    """Connections the restart closed are replaced when taken from the pool, not used."""
    parts = await parts_on(own.url)
    try:
        await asyncio.gather(*(parts.sales.bag(ROOM) for _ in range(5)))  # a few in the pool
        own.stop()
        own.start()
        await asyncio.sleep(0.2)  # the loop sees the old connections closed
        for _ in range(5):
            assert await parts.sales.bag(ROOM) == []
    finally:
        await parts.close()


async def test_loading_is_unavailable(tmp_path: Path) -> None:
    port = free_port()
    seed = RedisProcess(port, args=("--dir", str(tmp_path))).start()
    client = redis_sync.Redis(port=port)
    pipe = client.pipeline(transaction=False)
    for i in range(3000):
        pipe.set(f"k{i}", "v")
    pipe.execute()
    client.save()
    client.close()
    seed.stop()
    # the same data read back slowly, answering clients meanwhile: LOADING
    slow = ("--key-load-delay", "2000", "--loading-process-events-interval-bytes", "1024")
    loading = RedisProcess(port, args=("--dir", str(tmp_path), *slow)).start(ready=False)
    parts = await parts_on(loading.url)
    try:
        with pytest.raises(Unavailable) as info:
            await parts.engine.publish(ROOM, new_event("x"))
        assert isinstance(info.value.__cause__, rexc.BusyLoadingError)
        with pytest.raises(Unavailable):
            await parts.stream.read(ROOM)
    finally:
        await parts.close()
        loading.kill()


@pytest.fixture
def replica() -> Iterator[RedisProcess]:
    """A replica of a master that is not there: it takes no writes (READONLY)."""
    server = RedisProcess(args=("--replicaof", "127.0.0.1", str(free_port()))).start()
    try:
        yield server
    finally:
        server.kill()


async def test_a_write_to_a_replica_is_unavailable(replica: RedisProcess) -> None:
    parts = await parts_on(replica.url)
    try:
        for write in (
            parts.engine.publish(ROOM, new_event("x")),  # a script
            parts.nonces.claim("n1", 60),  # a plain command
            parts.draws.create(DRAW),  # a transaction
        ):
            with pytest.raises(Unavailable) as info:
                await write
            assert isinstance(info.value.__cause__, rexc.ReadOnlyError)
        assert await parts.stream.read(ROOM) == []  # reads still work
    finally:
        await parts.close()


async def test_a_replica_without_its_master_is_unavailable() -> None:
    lost = RedisProcess(
        args=("--replicaof", "127.0.0.1", str(free_port()), "--replica-serve-stale-data", "no")
    ).start()
    parts = await parts_on(lost.url)
    try:
        with pytest.raises(Unavailable) as info:
            await parts.draws.get(ROOM, "d1")
        assert isinstance(info.value.__cause__, rexc.MasterDownError)
    finally:
        await parts.close()
        lost.kill()


async def test_a_cluster_node_without_the_slot_is_unavailable() -> None:
    node = RedisProcess(cluster=True).start()
    parts = await parts_on(node.url)
    try:
        with pytest.raises(Unavailable) as info:
            await parts.stream.append(ROOM, "viewer_joined", {"uid": "u1"})
        assert isinstance(info.value.__cause__, rexc.ClusterDownError)
    finally:
        await parts.close()
        node.kill()


async def test_a_script_on_a_migrating_slot_is_unavailable() -> None:
    """While a room's slot moves to another node, a script whose keys are partly moved
    gets TRYAGAIN."""
    owner = RedisProcess(cluster_slots=True).start()
    target = RedisProcess(cluster=True).start()
    parts = await parts_on(owner.url)
    client = redis_sync.Redis(port=owner.port)
    try:
        target_id = redis_sync.Redis(port=target.port).execute_command("CLUSTER", "MYID")
        client.execute_command("CLUSTER", "MEET", "127.0.0.1", target.port, target.bus_port)
        for _ in range(200):
            if target_id in client.execute_command("CLUSTER", "NODES"):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the two nodes never met")
        await parts.engine.publish(ROOM, new_event("x"))  # seq and history exist, likes not
        slot = key_slot(f"{{{ROOM}}}".encode())
        client.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
        with pytest.raises(Unavailable) as info:
            await parts.engine.snapshot(ROOM, 10)
        assert isinstance(info.value.__cause__, rexc.TryAgainError)
    finally:
        client.close()
        await parts.close()
        owner.kill()
        target.kill()


async def test_a_wrong_password_is_not_an_outage() -> None:
    """Retrying cannot help: the error goes up as it is, for an operator to see."""
    locked = RedisProcess(args=("--requirepass", "s3cret")).start()
    parts = await parts_on(locked.url)
    try:
        with pytest.raises(rexc.AuthenticationError):
            await parts.sales.bag(ROOM)
    finally:
        await parts.close()
        locked.kill()


async def test_an_error_reply_is_not_an_outage(own: RedisProcess) -> None:
    parts = await parts_on(own.url)
    try:
        await parts.redis.client.set(parts.redis.keys.products, "not a hash")
        with pytest.raises(rexc.ResponseError) as info:
            await parts.sales.get_product("tea-01")
        assert "WRONGTYPE" in str(info.value)
        with pytest.raises(sale_rules.SaleError):  # and the stores' own errors pass too
            await parts.sales.create_sale(make_sale(room_id="r2"))
            await parts.sales.create_sale(make_sale(room_id="r2"))
    finally:
        await parts.close()


@pytest.mark.parametrize(
    ("exc", "outage"),
    [
        (rexc.ConnectionError("refused"), True),
        (rexc.TimeoutError("read"), True),
        (rexc.ConnectionError("No connection available."), True),  # the pool's wait
        (ConnectionRefusedError(), True),
        (TimeoutError(), True),
        (OSError("unreachable"), True),
        (rexc.BusyLoadingError("Redis is loading"), True),
        (rexc.ReadOnlyError("read only replica"), True),
        (rexc.MasterDownError("link down"), True),
        (rexc.ClusterDownError("slot not served"), True),
        (rexc.TryAgainError("rehashing"), True),
        (rexc.ResponseError("TRYAGAIN Multiple keys request during rehashing"), True),
        (rexc.ResponseError("ERR Error running script: -READONLY You can't write"), True),
        (rexc.AuthenticationError("invalid password"), False),
        (rexc.ResponseError("WRONGTYPE Operation against a key"), False),
        (rexc.ResponseError("ERR the word LOADING in a message"), False),
        (ValueError("not redis"), False),
    ],
)
def test_what_counts_as_an_outage(exc: BaseException, outage: bool) -> None:
    assert is_outage(exc) is outage


async def test_a_connection_closed_under_a_call_is_an_outage(own: RedisProcess) -> None:
    """A cluster node dies: redis-py closes the node's connections while other calls are
    still writing on them, and those fail inside its connection code (AttributeError on
    the writer it dropped). They are outages, so the viewer gets `unavailable` and sends
    the grab again, not `internal`; the same exception types raised elsewhere are bugs."""
    conn = AsyncConnection(host="127.0.0.1", port=own.port)
    await conn.connect()
    await conn.disconnect()  # what the cluster client does to a dead node's connections
    with pytest.raises((AttributeError, RuntimeError)) as info:
        await conn._send_packed_command([b"*1\r\n$4\r\nPING\r\n"])  # the write in flight
    assert is_outage(info.value)
    try:
        None.writelines  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as ours:
        assert not is_outage(ours)
