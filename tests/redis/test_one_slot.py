"""Keys with a home, checked by Redis itself: a one-node Redis Cluster (every slot on one
server, so a plain client reaches all of them) refuses any script, transaction or
multi-key command that touches keys of two slots, including keys a script derives in Lua
and never declares (the scripts carry `#!lua`, see liveroom/redis/scripts.py). A show's
worth of calls on every store runs there without one refusal; the controls at the end
show the node does refuse what crosses slots."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator

import pytest
from redis import exceptions as rexc

from liveroom.analytics.store import TouchAsk
from liveroom.engine.base import new_event, now_ms
from liveroom.redis.scripts import load
from liveroom.rules import draw as draw_rules
from liveroom.rules.attribution import FIG, SERIES, Delta, Owner, ShareCode, Touch
from liveroom.rules.segments import ProfileDelta, Thresholds
from liveroom.sales.store import GrabRequest
from tests.contract.conftest import Recorder
from tests.draws.test_store_contract import make_draw
from tests.sales.conftest import PRODUCT, make_sale
from tests.support.redis_process import RedisProcess
from tests.support.stores import RedisParts

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="no redis-server")

ROOM = "show-1"
ODD = "u{1}"  # braces in a uid must not move its keys to another slot


@pytest.fixture
async def parts() -> AsyncIterator[RedisParts]:
    node = RedisProcess(cluster_slots=True).start()
    p = RedisParts(node.url, "lrslot")
    try:
        await p.engine.start()
        yield p
    finally:
        await p.close()
        node.kill()


async def test_a_room_engine_stays_in_its_slot(parts: RedisParts) -> None:
    engine = parts.engine
    seen = Recorder()
    await engine.subscribe(ROOM, seen)
    first = await engine.publish(
        ROOM, new_event("room", title="t"), room_changes={"title": "t"}, moderation=("u2", -1)
    )
    ok = await engine.post_comment(ROOM, ODD, new_event("comment", id="c1", text="hi"), "cid")
    again = await engine.post_comment(ROOM, ODD, new_event("comment", id="c1", text="hi"), "cid")
    assert ok.event is not None and again.duplicate
    assert (await engine.post_comment(ROOM, "u2", new_event("comment", id="c2"), None)).code
    assert await engine.comment_deleted(ROOM, "c1")
    assert (await engine.moderation(ROOM, "u2")).banned
    assert await engine.add_likes(ROOM, 3) == 3
    assert await engine.report_presence(ROOM, 2) == 2
    await engine.publish_state(ROOM, {"stock": {"s1": 1}})
    snap = await engine.snapshot(ROOM, 10)
    assert (snap.room.title, snap.seq, snap.likes) == ("t", 2, 3)
    assert [e["seq"] for e in await engine.events_since(ROOM, 0) or []] == [1, 2]
    # a lost subscription comes back through the seq-floor script and a catch-up read
    await parts.redis.client.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
    async with asyncio.timeout(20):
        while True:
            later = await engine.publish(ROOM, new_event("later"))
            try:
                await seen.until(lambda r, e=later: e in r.of("event"), timeout=0.5)
                break
            except TimeoutError:
                continue
    assert first in seen.of("event")


async def test_a_flash_sale_stays_in_its_slot(parts: RedisParts) -> None:
    sales, now = parts.sales, now_ms()
    await sales.put_product(PRODUCT)
    await sales.pin(ROOM, PRODUCT.sku)
    await sales.pin(ROOM, "other")
    assert await sales.unpin(ROOM, "other") == [PRODUCT.sku]
    await sales.count_click(ROOM, PRODUCT.sku)
    await sales.create_sale(make_sale("s1", ROOM, now, stock=5, hold_s=10))
    await sales.create_sale(make_sale("s2", ROOM, now, starts_in_s=1, duration_s=2))
    batch = [GrabRequest("s1", uid, "", 1, "r", "wecom") for uid in (ODD, "u2", "u3", ODD)]
    outcomes = await sales.grab_many(ROOM, batch, now)
    holds = [o.hold for o in outcomes if o.hold and not o.duplicate]
    assert len(holds) == 3 and outcomes[3].duplicate
    assert (await sales.confirm(ROOM, holds[0].hold_id, "o1", now + 1)).error == ""
    assert (await sales.cancel(ROOM, holds[1].hold_id, now + 1)).error == ""
    swept = await sales.sweep(ROOM, now + 10_000)  # expires the third, starts and ends s2
    assert [h.hold_id for h in swept.expired] == [holds[2].hold_id]
    assert swept.started == ["s2"] and swept.ended == ["s2"]
    assert (await sales.end_sale(ROOM, "s1", now + 11_000)) is not None
    await sales.expire_due(now + 12_000)
    products, listed = await sales.shop(ROOM)
    assert products == [PRODUCT] and len(listed) == 2
    assert await sales.takens(ROOM, "s1") == {ODD: 1}
    assert len(await sales.holds(ROOM, "s1")) == 3
    assert await sales.rooms_with_sales() == [ROOM]
    types = [e["type"] for e in await sales.stream.read(ROOM, count=100)]
    assert types.count("hold_created") == 3 and "hold_expired" in types


async def test_draws_the_stream_and_nonces_stay_in_their_slots(parts: RedisParts) -> None:
    draws = parts.draws
    d = make_draw(room=ROOM, eligibility=draw_rules.Eligibility())
    await draws.create(d)
    assert (await draws.enter(ROOM, d.id, ODD, "Ann", now_ms())).entrants == 1
    (view,) = await draws.joined(ROOM, [ODD], now_ms())
    assert [o.draw.id for o in view.open] == [d.id] and view.open[0].entered
    assert await draws.mark_seen(ROOM, "u2", 5) == 5
    assert await draws.finish(ROOM, d.id, draw_rules.CLOSED, now_ms()) is not None
    result = await draws.result(ROOM, d.id)
    assert result is not None and [w["uid"] for w in result.winners] == [ODD]
    await draws.record_wins(ROOM, d.id, [ODD])
    assert await draws.wins(ROOM, ODD) == [d.id]
    assert await draws.due(d.ends_at) == [(ROOM, d.id)]
    await draws.done(ROOM, d.id)
    await parts.stream.append(ROOM, "draw_closed", {"draw_id": d.id, "winners": [ODD]})
    # the entry was recorded by the draw_enter script, in the room's slot
    assert [e["type"] for e in await parts.stream.read(ROOM)] == ["draw_entered", "draw_closed"]
    assert await parts.nonces.claim("n-1", 60) and not await parts.nonces.claim("n-1", 60)


async def test_jobs_and_shows_stay_in_their_slots(parts: RedisParts) -> None:
    """A show's worth of calls; the global due index, series and pacing keys are only ever
    touched alone (single-key commands), which a cluster allows on any slot."""
    from liveroom.jobs import NewJob
    from liveroom.rules.show import Slot
    from liveroom.shows.model import Series, Show
    from liveroom.shows.store import Subscriber

    jobs, shows, now = parts.jobs, parts.shows, now_ms()
    await jobs.schedule(NewJob(ROOM, "rem.60.ab", "wecom", now - 10, {"n": 1}), now)
    await jobs.schedule(NewJob(ROOM, "j2", "wecom", now + 60_000), now)
    (ref,) = await jobs.due(now)
    held = await jobs.claim(ref, now, 1000, "t")
    assert held is not None and await jobs.retry(held, now, now, "x")
    again = await jobs.claim((await jobs.due(now))[0], now, 1000, "t2")
    assert again is not None and await jobs.complete(again, now)
    assert await jobs.reschedule(ROOM, "j2", now + 1, now) is not None
    assert await jobs.cancel(ROOM, "j2", now)
    assert len(await jobs.room_jobs(ROOM)) == 2
    await shows.transition(ROOM, "scheduled", now, Show(ROOM, starts_at=now + 60_000))
    await shows.put_settings(Show(ROOM, starts_at=now + 60_000, cover="https://x/c.jpg"))
    assert await shows.subscribe(ROOM, Subscriber(ODD, now))
    assert (await shows.subscribers(ROOM, 0, 10))[1] == 1 and await shows.is_subscribed(ROOM, ODD)
    await shows.transition(ROOM, "live", now)
    assert (await shows.get(ROOM)).status == "live"  # type: ignore[union-attr]
    await shows.put_series(Series("nm", "Night market", Slot(2, "20:00")))
    await shows.add_episode("nm", ROOM, now)
    assert await shows.episodes("nm") == [(ROOM, now)]
    assert await parts.pacer.take("robot", now) == 0
    # the replay stream is written by the room's append scripts, in the room's slot
    await parts.engine.publish(
        ROOM, new_event("room", status="live"), room_changes={"replay": True}
    )
    await parts.engine.post_comment(ROOM, ODD, new_event("comment", id="c9", text="hi"), None)
    assert [e["type"] for e in await parts.engine.replay(ROOM, 0, 10)] == ["comment"]


async def test_analytics_stays_in_its_slots(parts: RedisParts) -> None:
    """A room's figures and their activity record change in one transaction in the room's
    slot; profiles are global keys, each written on its own (one key per script)."""
    store, now = parts.analytics, now_ms()
    code = ShareCode("ABCD2345", ROOM, "moments", Owner("koc", ODD))
    assert await store.add_code(code) and await store.code(ROOM, code.code) == code
    assert await store.codes(ROOM) == [code]
    came = Touch(code.code, "moments")
    back = TouchAsk(ODD, Touch(), keep=False)
    assert await store.touches(ROOM, [TouchAsk(ODD, came), back], 60) == [
        (came, True),
        (came, False),
    ]
    delta = Delta()
    delta.add(FIG, "comments", 2)
    delta.add(SERIES, "0|comments", 2)
    delta.high(FIG, "peak", 3)
    delta.low(FIG, "start", now)
    activity = {"t0": now, "ts": now, "viewers": 3, "node": "n", "sources": {}, "clicks": {}}
    await store.apply(ROOM, delta, activity)
    figs = await store.figures(ROOM, (FIG, SERIES))
    assert figs.count("comments") == 2 and figs.mark("peak") == 3
    await store.replace(ROOM, figs)
    assert await store.known(ROOM)
    seen = {uid: ProfileDelta() for uid in (ODD, "u2", "u3")}
    for d in seen.values():
        d.add("spend_fen", 100)
        d.saw(now, ROOM)
    await store.add_profiles(seen)
    assert [p.uid for p in await store.profiles(list(seen)) if p] == list(seen)
    found, _ = await store.segment_page("new", Thresholds(), now, 0, 10)
    assert {p.uid for p in found} == set(seen)
    assert len(await store.index_range("spend", None, None, 0, 10)) == 3
    types = [e["type"] for e in await parts.stream.read(ROOM)]
    assert types == ["activity"]


async def test_the_node_refuses_what_crosses_slots(parts: RedisParts) -> None:
    """The controls: if a script or a store did cross slots, these are the errors the tests
    above would have failed with."""
    keys = parts.redis.keys
    a, b = keys.room("room-a"), keys.room("room-b")
    publish = parts.redis.script("room_publish")
    with pytest.raises(rexc.ClusterCrossSlotError):
        await publish(
            keys=[a.room, a.seq, b.history, a.moderation],
            args=[a.channel, 10, b"x", "t", "", 0, "", ""],
        )
    grab = parts.redis.script("sale_grab")
    with pytest.raises(rexc.ClusterCrossSlotError):
        await grab(
            keys=[keys.sale("room-a").base, keys.commerce_stream("room-b")], args=[10, 1, 60]
        )
    # a key a script derives and never declares is held to the call's slot as well
    sneaky = parts.redis.client.register_script(
        load("lib_sale").text + f"\nreturn redis.call('GET', '{b.seq}')\n"
    )
    with pytest.raises(rexc.ResponseError, match="same slot"):
        await sneaky(keys=[a.seq])
    async with parts.redis.client.pipeline(transaction=True) as tx:
        tx.get(a.seq).get(b.seq)
        with pytest.raises(rexc.ResponseError):
            await tx.execute()
