"""`liveroom serve` on a Redis Cluster (three masters, three replicas), end to end.

- Two processes, rooms on all three shards: comments cross, viewer counts add up,
  moderation holds, grabs are exact, and each process holds shard subscriptions only for
  the rooms it serves, on the room's master only (PUBSUB SHARDNUMSUB on every node).
- A room's slot resharded to another master while viewers watch and the host talks: every
  viewer gets every event, in seq order.
- The master of a room's slot killed (SIGKILL) while 500 viewers grab, with
  LIVEROOM_REDIS_WAIT_REPLICAS=1: after its replica takes over no unit is sold twice, no
  acknowledged hold is lost, and viewers go on receiving events in seq order.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis as redis_sync
from redis.crc import key_slot

from liveroom import tokens
from tests.conftest import wipe_prefix
from tests.sales.crowd import connect_crowd, drop_all
from tests.sales.merchant import Merchant
from tests.sales.test_grab_concurrency import Check
from tests.support.client import Client
from tests.support.redis_cluster import RedisCluster, Shard
from tests.support.server import LiveServer

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None or shutil.which("redis-cli") is None,
    reason="no redis-server / redis-cli",
)

PRODUCT = {"sku": "tea-01", "title": "Spring tea", "price_fen": 9900, "appid": "wx1", "page": "p"}
RETRY = ("retry", "unavailable")  # "Redis cannot answer now": the same request again


def cluster_env(cluster: RedisCluster, prefix: str, **more: str) -> dict[str, str]:
    return {
        "LIVEROOM_REDIS_URL": cluster.url,
        "LIVEROOM_REDIS_CLUSTER": "true",
        "LIVEROOM_KEY_PREFIX": prefix,
        "LIVEROOM_REDIS_TIMEOUT_S": "2",
        **more,
    }


def rooms_by_shard(shards: list[Shard], name: str) -> dict[int, str]:
    """One room id per master (by the port of the master that serves its slot)."""
    out: dict[int, str] = {}
    i = 0
    while len(out) < len(shards):
        room = f"{name}-{i}"
        owner = next(s for s in shards if s.serves(key_slot(room.encode())))
        out.setdefault(owner.port, room)
        i += 1
    return out


def url(srv: LiveServer, room: str, uid: str, role: str = "viewer") -> str:
    return srv.ws_url(room, tokens.mint_for(srv.secret, uid, room=room, role=role))


def shard_subscribers(cluster: RedisCluster, port: int, channels: list[str]) -> dict[str, int]:
    client = redis_sync.Redis(port=port)
    try:
        flat = client.execute_command("PUBSUB", "SHARDNUMSUB", *channels)
    finally:
        client.close()
    return {flat[i].decode(): int(flat[i + 1]) for i in range(0, len(flat), 2)}


async def shows(client: Client, field: str, want: Any, timeout: float = 15) -> None:
    """Until the latest value of a latest-value field (viewers, likes) the client got is
    `want` (it may have come in a frame read already)."""
    for frame in reversed([client.welcome or {}, *client.seen]):
        if field in frame:
            if frame[field] == want:
                return
            break
    await client.until(lambda f: f.get(field) == want, timeout)


def event_seqs(client: Client) -> list[int]:
    return [e["seq"] for f in client.seen if f.get("t") == "tick" for e in f.get("events", [])]


@pytest.fixture
def two_on_the_cluster(
    redis_cluster: RedisCluster, key_prefix: str
) -> Iterator[tuple[LiveServer, LiveServer]]:
    env = cluster_env(redis_cluster, key_prefix)
    try:
        with LiveServer(env=env) as a, LiveServer(env=env) as b:
            yield a, b
    finally:
        wipe_prefix(redis_cluster.url, key_prefix, cluster=True)


async def test_two_processes_share_rooms_on_every_shard_and_subscribe_only_to_theirs(
    redis_cluster: RedisCluster, two_on_the_cluster: tuple[LiveServer, LiveServer], key_prefix: str
) -> None:
    a, b = two_on_the_cluster
    shards = redis_cluster.shards()
    both = rooms_by_shard(shards, "both")  # viewers on both processes
    only_a = rooms_by_shard(shards, "a")
    only_b = rooms_by_shard(shards, "b")

    rooms_a, rooms_b = [*both.values(), *only_a.values()], [*both.values(), *only_b.values()]
    on_a = {r: await Client.connect(url(a, r, f"a-{r}")) for r in rooms_a}
    on_b = {r: await Client.connect(url(b, r, f"b-{r}")) for r in rooms_b}

    # comments cross between the processes, one seq per room, in every shard's rooms
    for room in both.values():
        ack = await on_a[room].request({"t": "comment", "text": f"hi {room}"})
        got = await on_b[room].events(lambda e, ack=ack: e.get("id") == ack["comment"]["id"])
        assert got["seq"] == ack["comment"]["seq"]
        back = await on_b[room].request({"t": "comment", "text": "hello"})
        assert back["comment"]["seq"] == ack["comment"]["seq"] + 1
        await on_a[room].events(lambda e, back=back: e.get("id") == back["comment"]["id"])
        # viewer counts add up over both processes
        await shows(on_a[room], "viewers", 2)

    # each process subscribes to the shard channels of the rooms it serves, on the master
    # that owns each room's slot, and nowhere else
    def channel(room: str) -> str:
        return f"{key_prefix}:{{{room}}}:ch"

    every = [*both.values(), *only_a.values(), *only_b.values()]
    expected = {channel(r): 2 for r in both.values()}
    expected |= {channel(r): 1 for r in [*only_a.values(), *only_b.values()]}
    for shard in shards:
        counts = shard_subscribers(redis_cluster, shard.port, [channel(r) for r in every])
        mine = {channel(r) for r in every if shard.serves(key_slot(r.encode()))}
        assert counts == {c: expected[c] if c in mine else 0 for c in counts}, shard
        for replica in shard.replicas:
            assert set(shard_subscribers(redis_cluster, replica, list(mine)).values()) == {0}

    # moderation on one process holds on the other
    room = both[shards[0].port]
    host = await Client.connect(url(a, room, "host", role="host"))
    troll = await Client.connect(url(b, room, "troll"))
    await host.request({"t": "mute", "uid": "troll", "seconds": 120})
    assert (await troll.request({"t": "comment", "text": "can you hear me"}))["code"] == "muted"

    # grabs are exact: 5 units, 12 buyers on two processes, in another shard's room
    room = both[shards[1].port]
    merchant = Merchant(a.url, a.secret)
    try:
        await merchant.ok("POST", "/api/products", PRODUCT)
        sale = await merchant.ok(
            "POST", f"/api/rooms/{room}/sales", {"sku": "tea-01", "stock": 5, "limit_per_user": 1}
        )
        sale_id = sale["sale"]["sale_id"]
        buyers = [await Client.connect(url((a, b)[i % 2], room, f"buyer{i}")) for i in range(12)]
        answers = await asyncio.gather(
            *(c.request({"t": "grab", "sale_id": sale_id, "request_id": "g"}) for c in buyers)
        )
        holds = [x for x in answers if x["t"] == "ack"]
        assert len(holds) == 5 and len({x["hold"]["hold_id"] for x in holds}) == 5
        assert {x["code"] for x in answers if x["t"] == "error"} == {"sold_out"}
        state = await Check(merchant, room, sale_id)()
        assert (state.available, state.held, state.sold) == (0, 5, 0)
    finally:
        await merchant.close()

    # a process that no longer serves a room lets go of its shard channel
    for room in only_a.values():
        await on_a.pop(room).close()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        left = {
            c: n
            for s in shards
            for c, n in shard_subscribers(
                redis_cluster, s.port, [channel(r) for r in only_a.values()]
            ).items()
            if n
        }
        if not left:
            break
        await asyncio.sleep(0.2)
    assert not left
    for c in [*on_a.values(), *on_b.values(), host, troll, *buyers]:
        await c.close()


@pytest.fixture
def own_cluster(request: pytest.FixtureRequest) -> Iterator[RedisCluster]:
    """A cluster of this test's own: it will be resharded or lose a master (with two
    replicas per master then, so the new master has a replica to WAIT for)."""
    with RedisCluster(replicas=getattr(request, "param", 1)) as cluster:
        yield cluster


async def talk(host: Client, lines: int, sent: list[dict[str, Any]]) -> None:
    """The host says `lines` comments, 20 ms apart, retrying what Redis could not take."""
    while len(sent) < lines:
        answer = await host.request({"t": "comment", "text": f"line {len(sent)}"}, timeout=20)
        if answer["t"] == "ack":
            sent.append(answer["comment"])
        else:
            assert answer["code"] in RETRY, answer
        await asyncio.sleep(0.02)


async def everyone_got_everything(viewers: list[Client], sent: list[dict[str, Any]]) -> None:
    last = sent[-1]["seq"]
    for v in viewers:
        if last not in event_seqs(v):
            await v.events(lambda e, last=last: e["seq"] == last, timeout=20)
    want = [c["seq"] for c in sent]
    for v in viewers:
        got = event_seqs(v)
        assert got == sorted(got) and len(set(got)) == len(got), "seq order, no repeats"
        assert set(want) <= set(got), f"missed {sorted(set(want) - set(got))}"


async def test_resharding_a_rooms_slot_misses_no_event(own_cluster: RedisCluster) -> None:
    room = "reshard"
    env = cluster_env(own_cluster, "lrshard")
    with LiveServer(env=env) as a, LiveServer(env=env) as b:
        host = await Client.connect(url(a, room, "host", role="host"))
        viewers = [await Client.connect(url((a, b)[i % 2], room, f"v{i}")) for i in range(10)]
        sent: list[dict[str, Any]] = []
        talking = asyncio.create_task(talk(host, 60, sent))
        try:
            await asyncio.sleep(0.3)
            slot = key_slot(room.encode())
            source = own_cluster.owner(room)
            target = next(s for s in own_cluster.shards() if s.port != source.port)
            # published on the new master while subscribers listen on the old one: ~15
            # comments that only the catch-up from the room's history can bring
            await asyncio.to_thread(own_cluster.move_slot, slot, target.port, pause_s=0.3)
            assert own_cluster.owner(room).port == target.port
            await talking
            assert len(sent) == 60
        finally:
            talking.cancel()
        await everyone_got_everything(viewers, sent)
        # the processes read the room from its new master only
        channel = f"lrshard:{{{room}}}:ch"
        assert shard_subscribers(own_cluster, target.port, [channel]) == {channel: 2}
        assert shard_subscribers(own_cluster, source.port, [channel]) == {channel: 0}
        for c in [host, *viewers]:
            await c.close()


async def grab_until_answered(
    client: Client, sale_id: str, retried: list[str], after_s: float = 0
) -> dict[str, Any]:
    """A buyer's app: the same request id again while the answer is "retry"."""
    await asyncio.sleep(after_s)
    while True:
        answer = await client.request(
            {"t": "grab", "sale_id": sale_id, "request_id": "g"}, timeout=60
        )
        if answer["t"] == "ack" or answer["code"] not in RETRY:
            return answer
        retried.append(answer["code"])
        await asyncio.sleep(0.2)


@pytest.mark.parametrize("own_cluster", [2], indirect=True)
async def test_failover_mid_sale_sells_no_unit_twice_and_loses_no_acknowledged_hold(
    own_cluster: RedisCluster,
) -> None:
    room, stock, crowd = "flash", 200, 500
    env = cluster_env(
        own_cluster,
        "lrfail",
        LIVEROOM_REDIS_WAIT_REPLICAS="1",
        LIVEROOM_REDIS_WAIT_TIMEOUT_MS="500",
    )
    with LiveServer(env=env) as a, LiveServer(env=env) as b:
        merchant = Merchant(a.url, a.secret)
        viewers: list[Client] = []
        try:
            await merchant.ok("POST", "/api/products", PRODUCT)
            terms = {"sku": "tea-01", "stock": stock, "limit_per_user": 1, "hold_s": 300}
            sale = await merchant.ok("POST", f"/api/rooms/{room}/sales", terms)
            sale_id = sale["sale"]["sale_id"]
            uids = [f"u{i}" for i in range(crowd)]
            viewers = await connect_crowd(a, room, uids[: crowd // 2])
            viewers += await connect_crowd(b, room, uids[crowd // 2 :])
            host = await Client.connect(url(a, room, "host", role="host"))
            master = own_cluster.owner(room)

            sent: list[dict[str, Any]] = []
            talking = asyncio.create_task(talk(host, 10**6, sent))
            retried: list[str] = []
            # the buyers come in over three seconds, so the stock lasts past the kill
            grabs = [
                asyncio.create_task(grab_until_answered(v, sale_id, retried, i * 0.006))
                for i, v in enumerate(viewers)
            ]
            # kill the room's master once the sale is under way: some holds acknowledged,
            # most grabs not yet sent
            async with asyncio.timeout(60):
                while sum(1 for g in grabs if g.done()) < 30:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
            own_cluster.kill(master.port)
            answers = await asyncio.gather(*grabs)
            await asyncio.to_thread(own_cluster.wait_failover, master.port)
            after_failover = len(sent)
            async with asyncio.timeout(60):
                while len(sent) < after_failover + 10:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            talking.cancel()

            assert retried, "the master died while grabs were in flight"
            acked = {x["hold"]["hold_id"] for x in answers if x["t"] == "ack"}
            refused = {x["code"] for x in answers if x["t"] == "error"}
            assert len(acked) == stock and refused == {"sold_out"}, refused
            check = Check(merchant, room, sale_id)
            state = await check()  # available + held + sold == stock, per-user limits, holds
            assert (state.available, state.held, state.sold) == (0, stock, 0)
            body = await merchant.ok("GET", f"/api/rooms/{room}/sales/{sale_id}/holds")
            assert {h["hold_id"] for h in body["holds"] if h["status"] == "held"} == acked

            # viewers on both processes go on receiving the room's events, in seq order
            await everyone_got_everything(viewers, sent[after_failover:])
            await host.close()
        finally:
            drop_all(viewers)
            await merchant.close()
