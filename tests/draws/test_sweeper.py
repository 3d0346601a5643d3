"""Draws outlive the process that ran them: the sweeper closes what is due and announces
what a dead process closed but never announced. On both engines, and across a real kill."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator

import pytest

from liveroom import tokens
from liveroom.draws import service as draw_service
from liveroom.draws.service import ANNOUNCE_GRACE_MS, DrawService
from liveroom.draws.store import DrawStore
from liveroom.engine.base import Engine, now_ms
from liveroom.errors import Refusal, Unavailable
from liveroom.hub import Hub
from liveroom.rules import draw as rules
from liveroom.stream.base import CommerceStream
from tests.draws.test_room_draws import PRIZE, ROOM, fetch, verify_with_cli
from tests.draws.test_store_contract import make_draw
from tests.support.client import Client
from tests.support.server import LiveServer, free_port
from tests.support.stores import draw_store_for, stream_for


@pytest.fixture
def commerce(engine: Engine) -> CommerceStream:
    """The room's commerce event stream, where draw results are recorded."""
    return stream_for(engine)


@pytest.fixture
async def service(engine: Engine, commerce: CommerceStream) -> AsyncIterator[DrawService]:
    store = draw_store_for(engine)
    svc = DrawService(engine.settings, engine, Hub(engine), store, commerce=commerce)
    yield svc
    await svc.stop()


async def published(engine: Engine, room_id: str) -> list[dict]:
    return await engine.events_since(room_id, 0) or []


async def test_sweeper_closes_a_due_draw_once(
    service: DrawService, engine: Engine, commerce: CommerceStream
) -> None:
    store: DrawStore = service.store
    d = make_draw(room=ROOM, ends_in_ms=-1, eligibility=rules.Eligibility())
    await store.create(d)
    for uid in ("a", "b", "c"):
        await store.enter(ROOM, d.id, uid, uid, d.ends_at - 1)
    await asyncio.gather(service.sweep(), service.sweep())  # two sweepers at once
    await service.sweep()
    closed = [e for e in await published(engine, ROOM) if e["type"] == "draw_closed"]
    assert len(closed) == 1
    expected = rules.pick_winners(d.seed, ["a", "b", "c"], d.winners_count)
    assert [w["uid"] for w in closed[0]["winners"]] == expected
    durable = [e for e in await commerce.read(ROOM) if e["type"] == "draw_closed"]
    assert [e["draw_id"] for e in durable] == [d.id]
    assert durable[0]["seed"] == d.seed and durable[0]["entrants_count"] == 3
    assert durable[0]["winners"] == closed[0]["winners"]
    assert durable[0]["seq"] == closed[0]["seq"]
    assert await store.due(now_ms()) == []


async def test_sweeper_announces_what_a_dead_closer_left(
    service: DrawService, engine: Engine
) -> None:
    store = service.store
    d = make_draw(room=ROOM, ends_in_ms=-60_000)
    await store.create(d)
    # a process closed it and died before announcing it
    await store.finish(ROOM, d.id, rules.CLOSED, now_ms() - ANNOUNCE_GRACE_MS - 1)
    await service.sweep()
    assert [e["draw_id"] for e in await published(engine, ROOM)] == [d.id]
    assert (await published(engine, ROOM))[0]["type"] == "draw_closed"
    await service.sweep()
    assert len(await published(engine, ROOM)) == 1


async def test_sweeper_leaves_a_close_in_progress_alone(
    service: DrawService, engine: Engine
) -> None:
    d = make_draw(room=ROOM, ends_in_ms=-1)
    await service.store.create(d)
    await service.store.finish(ROOM, d.id, rules.CLOSED, now_ms())  # its closer is at work
    await service.sweep()
    assert await published(engine, ROOM) == []


async def test_a_start_whose_announcement_was_lost_is_announced_when_sent_again(
    service: DrawService, engine: Engine, commerce: CommerceStream, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The draw was stored, then the store went away before the room was told: the host's
    start, sent again with its draw id, announces that draw once, not a second one."""
    args = {"prize": PRIZE, "winners": 1, "duration_s": 600, "draw_id": "d-1"}
    publish = engine.publish

    async def away(room_id: str, event: dict) -> dict:
        raise Unavailable("the store went away here")

    monkeypatch.setattr(engine, "publish", away)
    with pytest.raises(Unavailable):
        await service.start_draw(ROOM, "host", args)
    monkeypatch.setattr(engine, "publish", publish)
    stored = await service.store.get(ROOM, "d-1")
    assert stored is not None and stored.announced is False
    # at once, the first try may still be at it: send again later
    with pytest.raises(Unavailable):
        await service.start_draw(ROOM, "host", args)
    later = now_ms() + draw_service.START_GRACE_MS
    monkeypatch.setattr(draw_service, "now_ms", lambda: later)
    d = await service.start_draw(ROOM, "host", args)
    assert (d.id, d.commitment, d.announced) == ("d-1", stored.commitment, True)
    with pytest.raises(Refusal) as again:
        await service.start_draw(ROOM, "host", args)
    assert again.value.code == "draw_exists"
    started = [e for e in await published(engine, ROOM) if e["type"] == "draw_started"]
    assert [(e["draw_id"], e["commitment"]) for e in started] == [("d-1", d.commitment)]
    durable = [e for e in await commerce.read(ROOM) if e["type"] == "draw_started"]
    assert [e["draw_id"] for e in durable] == ["d-1"]


def fetch_until_closed(srv: LiveServer, draw_id: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        try:
            url = f"{srv.url}/api/draws/{ROOM}/{draw_id}"
            with urllib.request.urlopen(url, timeout=5) as resp:
                record = json.loads(resp.read())
            if record["state"] == "closed":
                return record
        except urllib.error.URLError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"draw {draw_id} never closed")
        time.sleep(0.2)


async def test_a_draw_survives_a_server_crash(redis_url: str, key_prefix: str) -> None:
    env = {"LIVEROOM_REDIS_URL": redis_url, "LIVEROOM_KEY_PREFIX": key_prefix}
    first = LiveServer(env=env, port=free_port()).start()
    try:
        secret = first.secret

        def url(uid: str, role: str = "viewer") -> str:
            token = tokens.mint_for(secret, uid, room=ROOM, role=role, nick=uid)
            return first.ws_url(ROOM, token)

        host = await Client.connect(url("host", "host"))
        ack = await host.request({"t": "start_draw", "prize": PRIZE, "winners": 2, "duration_s": 6})
        viewers = [await Client.connect(url(f"v{i}")) for i in range(4)]
        for v in viewers:
            entered = await v.request({"t": "enter_draw", "draw_id": ack["draw_id"]})
            assert entered["t"] == "ack"
        assert (await asyncio.to_thread(fetch, first, ack["draw_id"]))["state"] == "open"
    finally:
        first.kill()  # no shutdown hooks: the draw's timers die with it
        first.stop()
    for c in [host, *viewers]:
        with contextlib.suppress(Exception):
            await c.close()
    # nobody is connected anywhere; a fresh process's sweeper must close it
    with LiveServer(env=env, port=free_port()) as second:
        record = await asyncio.to_thread(fetch_until_closed, second, ack["draw_id"])
        assert record["entrants"] == ["v0", "v1", "v2", "v3"]
        status, report = verify_with_cli(second, ack["draw_id"])
        assert status == 0 and report["winners"] == [w["uid"] for w in record["winners"]]


class DownStream:
    """A commerce stream that cannot be written (Redis away just then)."""

    async def append(self, room_id: str, event_type: str, fields: dict) -> str:
        raise Unavailable("stream down")


async def test_a_result_the_stream_missed_is_recorded_by_a_later_sweep(
    service: DrawService, engine: Engine, commerce: CommerceStream, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = make_draw(room=ROOM, ends_in_ms=-1, eligibility=rules.Eligibility())
    await service.store.create(d)
    await service.store.enter(ROOM, d.id, "a", "a", d.ends_at - 1)
    working = service.commerce
    service.commerce = DownStream()  # type: ignore[assignment]
    with pytest.raises(Unavailable):
        await service.close(ROOM, d.id)
    service.commerce = working
    assert await commerce.read(ROOM) == []
    monkeypatch.setattr(draw_service, "ANNOUNCE_GRACE_MS", -1)  # the grace has passed
    await service.sweep()
    await service.sweep()  # recorded once it is done: nothing more
    durable = [e for e in await commerce.read(ROOM) if e["type"] == "draw_closed"]
    assert [(e["draw_id"], e["winners"]) for e in durable] == [(d.id, [{"uid": "a", "nick": "a"}])]
