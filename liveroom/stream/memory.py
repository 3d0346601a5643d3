"""The commerce stream in this process, for the memory engine.

`add` is synchronous so that the memory sale store records an event in the same step as
the change it records, exactly as the sale Lua scripts do on Redis.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from liveroom.stream.base import MAXLEN, CommerceStream
from liveroom.stream.events import decode, encode, now_ms


def parse_id(text: str) -> tuple[int, int]:
    """A stream id "<ms>-<n>" (or "<ms>") as a tuple that sorts as Redis sorts ids."""
    ms, _, n = text.partition("-")
    return int(ms or 0), int(n or 0)


@dataclass
class _Room:
    ids: list[tuple[int, int]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    last: tuple[int, int] = (0, 0)


class MemoryStream(CommerceStream):
    name = "memory"
    in_process = True

    def __init__(self, maxlen: int = MAXLEN) -> None:
        self.maxlen = maxlen
        self._rooms: dict[str, _Room] = {}

    def add(self, room_id: str, entry: Mapping[str, str]) -> str:
        """Keep an encoded entry (events.encode, or a store's own fields) under a new id:
        like a Redis stream's, "<ms>-<n>" and strictly increasing."""
        room = self._rooms.get(room_id)
        if room is None:  # not setdefault: an empty room built per entry, then dropped
            room = self._rooms[room_id] = _Room()
        ms = now_ms()
        room.last = (ms, 0) if ms > room.last[0] else (room.last[0], room.last[1] + 1)
        text = f"{room.last[0]}-{room.last[1]}"
        room.ids.append(room.last)
        room.events.append(decode(text, entry))
        if len(room.ids) > self.maxlen + self.maxlen // 10:  # trim in steps, as MAXLEN ~ does
            del room.ids[: -self.maxlen]
            del room.events[: -self.maxlen]
        return text

    async def append_many(
        self, room_id: str, events: Sequence[tuple[str, Mapping[str, Any]]]
    ) -> list[str]:
        entries = [encode(room_id, event_type, fields) for event_type, fields in events]
        ids = []
        for entry in entries:
            ids.append(self.add(room_id, entry))
            if self.listeners:
                self._tell(room_id, entry)
        return ids

    async def read(self, room_id: str, after: str = "0-0", count: int = 100) -> list[dict]:
        room = self._rooms.get(room_id)
        if room is None:
            return []
        start = bisect_right(room.ids, parse_id(after))
        return [dict(e) for e in room.events[start : start + count]]
