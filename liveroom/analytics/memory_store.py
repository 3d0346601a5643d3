"""The analytics store in this process, for the memory engine: no method awaits in the
middle of a change, so each is atomic on the event loop, as each Redis step is."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from liveroom.analytics.store import SEEN, AnalyticsStore, TouchAsk
from liveroom.rules.attribution import FIG, Delta, Figures, ShareCode, Touch
from liveroom.rules.segments import Profile, ProfileDelta
from liveroom.stream.events import encode
from liveroom.stream.memory import MemoryStream


@dataclass(slots=True)
class _Viewer:
    counts: dict[str, int] = field(default_factory=dict)
    first_seen: int = 0
    last_seen: int = 0
    last_room: str = ""


class MemoryAnalyticsStore(AnalyticsStore):
    name = "memory"
    in_process = True

    def __init__(self, stream: MemoryStream | None = None) -> None:
        self.stream: MemoryStream = stream if stream is not None else MemoryStream()
        self._codes: dict[str, dict[str, ShareCode]] = {}
        self._touches: dict[str, dict[str, Touch]] = {}
        self._figures: dict[str, Figures] = {}
        self._viewers: dict[str, _Viewer] = {}

    async def add_code(self, code: ShareCode) -> bool:
        codes = self._codes.setdefault(code.room_id, {})
        if code.code in codes:
            return False
        codes[code.code] = code
        return True

    async def code(self, room_id: str, code: str) -> ShareCode | None:
        return self._codes.get(room_id, {}).get(code)

    async def codes(self, room_id: str) -> list[ShareCode]:
        return sorted(self._codes.get(room_id, {}).values(), key=lambda c: c.created_at)

    async def touches(
        self, room_id: str, asks: Sequence[TouchAsk], ttl_s: int
    ) -> list[tuple[Touch, bool]]:
        kept = self._touches.setdefault(room_id, {})
        out = []
        for ask in asks:
            first = ask.keep and ask.uid not in kept
            if first:
                kept[ask.uid] = ask.touch
            out.append((kept.get(ask.uid, ask.touch), first))
        return out

    async def apply(
        self, room_id: str, delta: Delta, activity: Mapping[str, Any] | None = None
    ) -> None:
        entry = encode(room_id, "activity", activity) if activity is not None else None
        figures = self._figures.get(room_id)
        if figures is None:  # not setdefault: empty tables built per call, then dropped
            figures = self._figures[room_id] = Figures()
        figures.apply(delta)
        if entry is not None:
            self.stream.add(room_id, entry)

    async def figures(self, room_id: str, tables: Sequence[str] = (FIG,)) -> Figures:
        held = self._figures.get(room_id, Figures())
        return Figures(
            counts={t: dict(held.counts[t]) for t in tables if t in held.counts},
            marks={t: dict(held.marks[t]) for t in tables if t in held.marks},
        )

    async def replace(self, room_id: str, figures: Figures) -> None:
        self._figures[room_id] = Figures(
            counts={t: dict(c) for t, c in figures.counts.items()},
            marks={t: dict(m) for t, m in figures.marks.items()},
        )

    async def known(self, room_id: str) -> bool:
        return room_id in self._figures or bool(self._codes.get(room_id))

    async def add_profiles(self, deltas: Mapping[str, ProfileDelta]) -> None:
        for uid, d in deltas.items():
            v = self._viewers.get(uid)
            if v is None:
                v = self._viewers[uid] = _Viewer()
            for name, n in d.counts.items():
                v.counts[name] = v.counts.get(name, 0) + n
            if d.seen:
                v.first_seen = min(v.first_seen or d.seen, d.seen)
                if d.seen >= v.last_seen:
                    v.last_seen, v.last_room = d.seen, d.room

    async def profiles(self, uids: Sequence[str]) -> list[Profile | None]:
        out: list[Profile | None] = []
        for uid in uids:
            v = self._viewers.get(uid)
            out.append(
                None
                if v is None
                else Profile(uid, dict(v.counts), v.first_seen, v.last_seen, v.last_room)
            )
        return out

    async def index_range(
        self, index: str, lo: int | None, hi: int | None, offset: int, count: int
    ) -> list[str]:
        def score(v: _Viewer) -> int:
            return v.last_seen if index == SEEN else v.counts.get("spend_fen", 0)

        ranked = sorted(
            (
                (score(v), uid)
                for uid, v in self._viewers.items()
                if (index == SEEN and v.last_seen) or (index != SEEN and score(v))
            ),
            reverse=True,
        )
        inside = [uid for s, uid in ranked if (lo is None or s >= lo) and (hi is None or s <= hi)]
        return inside[offset : offset + count]
