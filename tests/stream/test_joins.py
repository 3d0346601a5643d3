"""Viewer joins in the commerce stream: who is counted, and that a join never waits on it."""

from __future__ import annotations

from typing import Any

from liveroom.errors import Unavailable
from liveroom.stream.joins import JoinRecorder
from liveroom.stream.memory import MemoryStream
from liveroom.tokens import Identity
from liveroom.types import Join

ROOM = "svc"


class BrokenStream(MemoryStream):
    async def append(self, room_id: str, event_type: str, fields: Any) -> str:
        raise Unavailable("stream down")


async def test_only_a_logged_in_viewers_fresh_join_is_recorded() -> None:
    stream = MemoryStream()
    joins = [
        Join(ROOM, Identity(uid="amy", tier="vip", src="moments"), resumed=False, first=True),
        Join(ROOM, Identity(uid="amy", src="moments"), resumed=True),  # same visit, resumed
        Join(ROOM, Identity(uid="anon:x1"), resumed=False),
        Join(ROOM, Identity(uid="boss", role="host"), resumed=False),
    ]
    for join in joins:
        await JoinRecorder(stream).on_join(join, {"t": "welcome"})
    events = await stream.read(ROOM)
    assert [(e["type"], e["uid"], e["tier"], e["src"]) for e in events] == [
        ("viewer_joined", "amy", "vip", "moments")
    ]
    assert (events[0]["ref"], events[0]["first"]) == ("", 1)


async def test_a_join_records_the_viewers_attribution() -> None:
    """The share code and channel of the viewer's first touch, and whether this is it."""
    stream = MemoryStream()
    again = Identity(uid="amy", src="offline_store", ref="K7QX2M9A")
    await JoinRecorder(stream).on_join(Join(ROOM, again, resumed=False), {"t": "welcome"})
    [event] = await stream.read(ROOM)
    assert (event["src"], event["ref"], event["first"]) == ("offline_store", "K7QX2M9A", 0)


async def test_a_stream_outage_never_refuses_a_join() -> None:
    frame: dict[str, Any] = {"t": "welcome"}
    join = Join(ROOM, Identity(uid="amy", src="moments"), resumed=False)
    await JoinRecorder(BrokenStream()).on_join(join, frame)  # returns: the join goes on
    assert frame == {"t": "welcome"}
