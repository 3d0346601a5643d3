"""Rooms: implicit defaults, field changes published atomically with their event."""

from __future__ import annotations

import asyncio

import pytest

from liveroom.engine.base import ENDED, Engine, Room, new_event
from tests.contract.conftest import MakeEngine


async def test_a_room_never_configured_has_defaults(engine: Engine) -> None:
    room = await engine.room("fresh")
    assert room == Room(id="fresh", allow_anonymous=engine.settings.allow_anonymous)


async def test_default_anonymous_access_follows_settings(make_engine: MakeEngine) -> None:
    eng = await make_engine(allow_anonymous=False)
    assert (await eng.room("closed")).allow_anonymous is False


async def test_room_changes_apply_with_the_event(engine: Engine) -> None:
    changes = {
        "title": "秋季特卖 Autumn sale",
        "status": ENDED,
        "allow_anonymous": False,
        "keywords": ["spam", "广告"],
        "slow_mode": 5,
        "pinned": "Coupons at 8pm",
    }
    stored = await engine.publish("r", new_event("room", **changes), room_changes=changes)
    assert stored["seq"] == 1
    assert await engine.room("r") == Room(id="r", **changes)


async def test_pinned_none_clears_the_pin(engine: Engine) -> None:
    await engine.publish("r", new_event("pin"), room_changes={"pinned": "hello"})
    await engine.publish("r", new_event("unpin"), room_changes={"pinned": None})
    assert (await engine.room("r")).pinned is None


async def test_room_changes_are_visible_from_another_process(engine: Engine, peer: Engine) -> None:
    await engine.publish("r", new_event("slow"), room_changes={"slow_mode": 3, "title": "T"})
    room = await peer.room("r")
    assert (room.slow_mode, room.title) == (3, "T")


async def test_unknown_room_field_is_refused_and_nothing_is_published(engine: Engine) -> None:
    with pytest.raises(ValueError):
        await engine.publish("r", new_event("x"), room_changes={"colour": "red"})
    snap = await engine.snapshot("r", 10)
    assert snap.seq == 0
    assert snap.room == Room(id="r", allow_anonymous=engine.settings.allow_anonymous)


async def test_no_reader_sees_a_title_without_its_event(engine: Engine, peer: Engine) -> None:
    """Each event sets title t<seq>; snapshots taken meanwhile must always agree."""
    stop = asyncio.Event()
    seen: list[tuple[int, str]] = []

    async def writer() -> None:
        for _ in range(60):
            seq = (await engine.snapshot("r", 0)).seq + 1
            await engine.publish("r", new_event("title"), room_changes={"title": f"t{seq}"})
            await asyncio.sleep(0)
        stop.set()

    async def reader() -> None:
        while not stop.is_set():
            snap = await peer.snapshot("r", 0)
            seen.append((snap.seq, snap.room.title))
            await asyncio.sleep(0)

    await asyncio.gather(writer(), reader(), reader())
    assert seen
    for seq, title in seen:
        assert title == (f"t{seq}" if seq else "")


async def test_ban_mute_and_clear_travel_with_events(engine: Engine, peer: Engine) -> None:
    await engine.publish("r", new_event("ban", uid="u1"), moderation=("u1", -1))
    mod = await peer.moderation("r", "u1")
    assert mod.banned and mod.muted_until == 0.0

    until = 1_900_000_000.25
    await engine.publish("r", new_event("mute", uid="u2"), moderation=("u2", until))
    mod = await peer.moderation("r", "u2")
    assert not mod.banned and mod.muted_until == until and mod.muted(until - 1)

    await engine.publish("r", new_event("unban", uid="u1"), moderation=("u1", 0))
    await engine.publish("r", new_event("unmute", uid="u2"), moderation=("u2", None))
    for uid in ("u1", "u2"):
        mod = await peer.moderation("r", uid)
        assert not mod.banned and mod.muted_until == 0.0
    assert (await engine.snapshot("r", 0)).seq == 4


async def test_rooms_are_independent(engine: Engine) -> None:
    await engine.publish("a", new_event("x"), room_changes={"title": "A"})
    await engine.publish("a", new_event("x"), moderation=("u", -1))
    assert (await engine.room("b")).title == ""
    assert not (await engine.moderation("b", "u")).banned
    assert (await engine.snapshot("b", 0)).seq == 0
