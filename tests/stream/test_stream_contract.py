"""The commerce stream contract: both backends keep, page and type events alike."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from liveroom.engine.base import now_ms
from liveroom.redis import RedisLayer
from liveroom.settings import Settings
from liveroom.stream import EVENT_TYPES, CommerceStream, decode, encode
from liveroom.stream.events import INT, JSON, TEXT
from liveroom.stream.memory import MemoryStream
from liveroom.stream.redis import RedisStream

T0 = 1_800_000_000_000


@pytest.fixture(params=["memory", "redis"])
async def stream(
    request: pytest.FixtureRequest, redis_url: str, key_prefix: str
) -> AsyncIterator[CommerceStream]:
    """Every stream behaviour is tested on both backends through this fixture."""
    if request.param == "memory":
        yield MemoryStream()
        return
    redis = RedisLayer.from_settings(Settings(redis_url=redis_url, key_prefix=key_prefix))
    try:
        yield RedisStream(redis)
    finally:
        await redis.close()


SAMPLES = {TEXT: "[vip] 阿美 {x}", INT: 1_795_597_097_036, JSON: {"title": "Scarf", "n": [1, 2]}}


def sample(event_type: str) -> dict[str, Any]:
    """Every field the type declares, each with a value of its kind."""
    return {name: SAMPLES[kind] for name, kind in EVENT_TYPES[event_type].items()}


async def test_every_event_type_reads_back_as_written(stream: CommerceStream) -> None:
    ids = {}
    for event_type in EVENT_TYPES:
        ids[event_type] = await stream.append("r1", event_type, {**sample(event_type), "ts": T0})
    events = await stream.read("r1", count=1000)
    assert [e["type"] for e in events] == list(EVENT_TYPES)
    for e in events:
        expected = {"id": ids[e["type"]], "type": e["type"], "room_id": "r1", "ts": T0}
        assert e == {**expected, **sample(e["type"])}


async def test_reading_pages_by_id_and_rooms_stay_apart(stream: CommerceStream) -> None:
    ids = [await stream.append("r1", "viewer_joined", {"uid": f"u{i}"}) for i in range(7)]
    await stream.append("r2", "viewer_joined", {"uid": "elsewhere"})
    assert len(set(ids)) == 7  # many in one millisecond, still distinct and ordered
    seen: list[str] = []
    after = "0-0"
    while page := await stream.read("r1", after=after, count=3):
        assert len(page) <= 3
        seen += [e["uid"] for e in page]
        after = page[-1]["id"]
    assert seen == [f"u{i}" for i in range(7)]
    assert [e["id"] for e in await stream.read("r1", after=ids[4])] == ids[5:]
    assert [e["uid"] for e in await stream.read("r2")] == ["elsewhere"]
    assert await stream.read("nobody") == []
    # a fold over the whole room reads it page by page
    assert [e["id"] async for e in stream.scan("r1", page=2)] == ids
    assert [e["id"] async for e in stream.scan("r1", after=ids[5])] == ids[6:]


async def test_a_batch_is_written_in_order_or_not_at_all(stream: CommerceStream) -> None:
    """The joins of a storm go in as one write: in their order, each with its own id; one
    event that would not read back as written refuses the batch before anything is kept
    (the join recorder's batcher then writes its neighbours one by one)."""
    joins = [("viewer_joined", {"uid": f"u{i}", "first": 1}) for i in range(5)]
    ids = await stream.append_many("r1", joins)
    assert len(set(ids)) == 5
    assert [(e["id"], e["uid"]) for e in await stream.read("r1")] == [
        (i, f"u{n}") for n, i in enumerate(ids)
    ]
    bad = [("viewer_joined", {"uid": "u9"}), ("viewer_joined", {"uid": 7})]
    with pytest.raises(ValueError):
        await stream.append_many("r1", bad)
    assert len(await stream.read("r1")) == 5


async def test_ids_follow_the_clock_and_ts_defaults_to_now(stream: CommerceStream) -> None:
    before = now_ms()
    first = await stream.append("r1", "viewer_joined", {"uid": "a"})
    [event] = await stream.read("r1")
    assert before <= event["ts"] <= now_ms()
    assert before - 1000 <= int(first.split("-")[0]) <= now_ms() + 1000


@pytest.mark.parametrize(
    ("event_type", "fields"),
    [
        ("no_such_type", {"uid": "u1"}),  # a type is declared before it is written
        ("", {"uid": "u1"}),
        ("viewer_joined", {"type": "hold_paid"}),  # set by the stream
        ("viewer_joined", {"room_id": "elsewhere"}),
        ("viewer_joined", {"note": "x"}),  # a field the type does not declare
        ("viewer_joined", {"uid": 7}),  # would read back as "7"
        ("viewer_joined", {"uid": None}),
        ("viewer_joined", {"ts": "7"}),
        ("draw_closed", {"seq": True}),  # a bool is not a number
        ("draw_closed", {"winners": {1, 2}}),  # not JSON
        ("sale_created", {"stock": 1.5}),
    ],
)
async def test_an_append_that_would_not_read_back_is_refused(
    stream: CommerceStream, event_type: str, fields: dict
) -> None:
    with pytest.raises(ValueError):
        await stream.append("r1", event_type, fields)
    assert await stream.read("r1") == []


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_the_cap_keeps_the_newest_events(
    backend: str, redis_url: str, key_prefix: str
) -> None:
    redis = RedisLayer.from_settings(Settings(redis_url=redis_url, key_prefix=key_prefix))
    stream = MemoryStream(maxlen=100) if backend == "memory" else RedisStream(redis, maxlen=100)
    try:
        for i in range(1000):
            await stream.append("r1", "viewer_joined", {"uid": f"u{i}"})
        kept = await stream.read("r1", count=1000)
        # about the cap (Redis trims whole nodes of 100 entries), and always the newest
        assert 100 <= len(kept) <= 200
        assert [e["uid"] for e in kept] == [f"u{i}" for i in range(1000 - len(kept), 1000)]
    finally:
        await redis.close()


def test_an_entry_of_an_unknown_type_reads_as_text() -> None:
    """A reader older than the writer still hands out what it cannot type."""
    entry = {"type": "coupon_claimed", "room_id": "r1", "ts": "5", "value_fen": "100"}
    assert decode("5-0", entry) == {
        "id": "5-0",
        "type": "coupon_claimed",
        "room_id": "r1",
        "ts": 5,
        "value_fen": "100",
    }
    assert encode("r1", "viewer_joined", {"uid": "u", "ts": 5}) == {
        "type": "viewer_joined",
        "room_id": "r1",
        "uid": "u",
        "ts": "5",
    }


def test_every_event_type_and_field_is_documented() -> None:
    """docs/merchant-api.md is what a merchant backend codes against."""
    doc = (Path(__file__).parents[2] / "docs" / "merchant-api.md").read_text()
    section = doc[doc.index("## The room's commerce event stream") :]
    for event_type, fields in EVENT_TYPES.items():
        assert f"`{event_type}`" in section, event_type
        for name in fields:
            assert f"`{name}`" in section, (event_type, name)
