"""Viewer profiles across shows, the segments they fall in, and the tags they carry.

Pure: no I/O. A profile is a handful of counters per uid, kept across every show of the
deployment (liveroom/analytics folds them live); the segments are decided here from a
profile, the time now and the thresholds, so changing a threshold needs no migration.

The segments (configurable thresholds in brackets, with their defaults):
- `new`: attended exactly one show, and not dormant;
- `returning`: attended two shows or more, and not dormant;
- `active`: returning, attended at least `active_min_shows` [3] shows, and was last seen
  within `active_days` [14] days;
- `high_value`: spent at least `high_value_fen` [50,000 fen = ¥500] in all (whenever);
- `dormant`: not seen for `dormant_days` [30] days or more.
Every viewer is exactly one of new, returning or dormant; `active` is a part of
`returning`; `high_value` cuts across them (a dormant high-value viewer is the one to win
back first).

Tags, for the merchant's WeCom customer tags: `clicked_not_bought:<sku>` (clicked the
product card, never paid for the sku) and `held_not_paid:<sku>` (grabbed it, never paid).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from liveroom.rules.attribution import SEP

NEW = "new"
RETURNING = "returning"
ACTIVE = "active"
HIGH_VALUE = "high_value"
DORMANT = "dormant"
SEGMENTS = (NEW, RETURNING, ACTIVE, HIGH_VALUE, DORMANT)
DAY_MS = 86_400_000

# profile counters (hash fields), besides the per-sku ones below
COUNTERS = ("shows", "watch_ms", "comments", "holds", "paid", "spend_fen")
CLICKED, HELD, BOUGHT = "k", "h", "b"  # k|<sku> clicks, h|<sku> holds, b|<sku> units paid


def sku_field(kind: str, sku: str) -> str:
    return f"{kind}{SEP}{sku}"


@dataclass(frozen=True)
class Thresholds:
    active_days: float = 14
    active_min_shows: int = 3
    dormant_days: float = 30
    high_value_fen: int = 50_000

    def public(self) -> dict[str, float]:
        return {
            "active_days": self.active_days,
            "active_min_shows": self.active_min_shows,
            "dormant_days": self.dormant_days,
            "high_value_fen": self.high_value_fen,
        }

    def dormant_since(self, now: int) -> int:
        """Last seen at or before this (ms): dormant."""
        return now - int(self.dormant_days * DAY_MS)

    def active_since(self, now: int) -> int:
        return now - int(self.active_days * DAY_MS)


@dataclass(slots=True)
class ProfileDelta:
    """One flush's change to one viewer's profile."""

    counts: dict[str, int] = field(default_factory=dict)
    seen: int = 0  # latest time seen (ms); 0: not seen in this delta
    room: str = ""  # the room seen in, when `seen`

    def add(self, name: str, n: int = 1) -> None:
        if n:
            self.counts[name] = self.counts.get(name, 0) + n

    def saw(self, ts: int, room: str) -> None:
        if ts >= self.seen:
            self.seen, self.room = ts, room

    def merge(self, other: ProfileDelta) -> None:
        for name, n in other.counts.items():
            self.add(name, n)
        if other.seen:
            self.saw(other.seen, other.room)


@dataclass(frozen=True)
class Profile:
    uid: str
    counts: Mapping[str, int]
    first_seen: int = 0
    last_seen: int = 0
    last_room: str = ""

    def count(self, name: str) -> int:
        return int(self.counts.get(name, 0))

    def per_sku(self, kind: str) -> dict[str, int]:
        prefix = kind + SEP
        return {k[len(prefix) :]: v for k, v in self.counts.items() if k.startswith(prefix) and v}

    def public(self, now: int, th: Thresholds) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "shows": self.count("shows"),
            "watch_s": self.count("watch_ms") // 1000,
            "comments": self.count("comments"),
            "holds": self.count("holds"),
            "paid": self.count("paid"),
            "spend_fen": self.count("spend_fen"),
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "last_room": self.last_room,
            "clicked": self.per_sku(CLICKED),
            "held": self.per_sku(HELD),
            "bought": self.per_sku(BOUGHT),
            "segments": segments_of(self, now, th),
            "tags": tags_of(self),
        }


def profile_deltas(room_id: str, event: Mapping[str, Any]) -> dict[str, ProfileDelta]:
    """What a commerce event changes in viewers' profiles (anonymous viewers have none)."""
    uid = event.get("uid", "")
    if not isinstance(uid, str) or not uid or uid.startswith("anon:"):
        return {}
    etype, ts = event.get("type"), int(event.get("ts", 0))
    d = ProfileDelta()
    sku = event.get("sku", "")
    if etype == "viewer_joined":
        if event.get("first"):
            d.add("shows")
        d.saw(ts, room_id)
    elif etype == "hold_created":
        d.add("holds")
        d.add(sku_field(HELD, sku))
    elif etype == "hold_paid":
        qty = int(event.get("qty", 0))
        d.add("paid")
        d.add("spend_fen", qty * int(event.get("price_fen", 0)))
        d.add(sku_field(BOUGHT, sku), qty)
    else:
        return {}
    return {uid: d}


def is_dormant(p: Profile, now: int, th: Thresholds) -> bool:
    return p.last_seen <= th.dormant_since(now)


def in_segment(p: Profile, segment: str, now: int, th: Thresholds) -> bool:
    shows = p.count("shows")
    if segment == HIGH_VALUE:
        return p.count("spend_fen") >= th.high_value_fen
    if segment == DORMANT:
        return is_dormant(p, now, th)
    if is_dormant(p, now, th):
        return False
    if segment == NEW:
        return shows <= 1
    if segment == RETURNING:
        return shows >= 2
    if segment == ACTIVE:
        return shows >= max(2, th.active_min_shows) and p.last_seen >= th.active_since(now)
    raise ValueError(f"no segment {segment!r}")


def segments_of(p: Profile, now: int, th: Thresholds) -> list[str]:
    return [s for s in SEGMENTS if in_segment(p, s, now, th)]


def tags_of(p: Profile) -> list[str]:
    bought = p.per_sku(BOUGHT)
    tags = [f"clicked_not_bought:{sku}" for sku in sorted(p.per_sku(CLICKED)) if sku not in bought]
    tags += [f"held_not_paid:{sku}" for sku in sorted(p.per_sku(HELD)) if sku not in bought]
    return tags


def scan_for(segment: str, now: int, th: Thresholds) -> tuple[str, int | None, int | None]:
    """Which index a segment is listed from, and its score range (None: open): `seen` (uid
    -> last seen ms) or `spend` (uid -> spend fen). Members of the range still go through
    `in_segment` (new, returning and active need the show count)."""
    if segment == HIGH_VALUE:
        return "spend", th.high_value_fen, None
    if segment == DORMANT:
        return "seen", None, th.dormant_since(now)
    if segment == ACTIVE:
        return "seen", th.active_since(now), None
    if segment in (NEW, RETURNING):
        return "seen", th.dormant_since(now) + 1, None
    raise ValueError(f"no segment {segment!r}")
