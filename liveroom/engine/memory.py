"""The embedded engine: all room state in this process, for development and single-host shows.

Everything here runs on one event loop without awaiting in the middle of a change, which
is what makes each method atomic, just as each Redis method is one Lua script.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any

from liveroom.engine.base import (
    ROOM_FIELDS,
    CommentResult,
    Engine,
    Moderation,
    Paced,
    Personal,
    Room,
    Sink,
    Snapshot,
    now_ms,
)
from liveroom.rules import history, ratelimit
from liveroom.rules.show import REPLAY_TYPES
from liveroom.rules.social_proof import Pace, take_slot


@dataclass
class _RoomData:
    room: Room
    seq: int = 0
    likes: int = 0
    events: deque = field(default_factory=deque)
    deleted: set[str] = field(default_factory=set)
    moderation: dict[str, float] = field(default_factory=dict)  # uid -> -1 ban / mute-until
    buckets: dict[str, ratelimit.Bucket] = field(default_factory=dict)
    last_comment: dict[str, float] = field(default_factory=dict)
    dedup: dict[tuple[str, str], tuple[float, dict]] = field(default_factory=dict)
    viewers: int = 0
    replay: deque = field(default_factory=deque)  # a show's events for its replay
    # publish_paced: per name, the pace and the newest item waiting
    paces: dict[str, tuple[Pace, dict[str, Any] | None]] = field(default_factory=dict)


class MemoryEngine(Engine):
    name = "memory"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rooms: dict[str, _RoomData] = {}
        self._sinks: dict[str, Sink] = {}

    def _data(self, room_id: str) -> _RoomData:
        data = self._rooms.get(room_id)
        if data is None:
            room = Room(id=room_id, allow_anonymous=self.settings.allow_anonymous)
            data = self._rooms[room_id] = _RoomData(
                room=room,
                events=deque(maxlen=self.settings.history_size),
                replay=deque(maxlen=self.settings.replay_max_events),
            )
        return data

    def _emit(self, room_id: str, kind: str, payload: Any) -> None:
        sink = self._sinks.get(room_id)
        if sink is not None:
            sink(room_id, kind, payload)

    async def room(self, room_id: str) -> Room:
        return replace(self._data(room_id).room)

    async def snapshot(self, room_id: str, recent: int) -> Snapshot:
        d = self._data(room_id)
        comments = history.recent_comments(reversed(d.events), d.deleted, recent)
        return Snapshot(replace(d.room), d.seq, d.likes, d.viewers, [dict(c) for c in comments])

    async def publish(
        self,
        room_id: str,
        event: dict[str, Any],
        *,
        room_changes: dict[str, Any] | None = None,
        moderation: tuple[str, float | None] | None = None,
    ) -> dict[str, Any]:
        d = self._data(room_id)
        if room_changes:
            unknown = set(room_changes) - set(ROOM_FIELDS)
            if unknown:
                raise ValueError(f"unknown room fields: {sorted(unknown)}")
            d.room = replace(d.room, **room_changes)
        if moderation is not None:
            uid, until = moderation
            if not until:
                d.moderation.pop(uid, None)
            else:
                d.moderation[uid] = until
        return self._append(room_id, d, event)

    def _append(self, room_id: str, d: _RoomData, event: dict[str, Any]) -> dict[str, Any]:
        d.seq += 1
        stored = {**event, "seq": d.seq}
        d.events.append(stored)
        if d.room.replay and stored.get("type") in REPLAY_TYPES:
            d.replay.append(stored)
        self._emit(room_id, "event", dict(stored))
        return dict(stored)

    async def events_since(self, room_id: str, since: int) -> list[dict] | None:
        d = self._data(room_id)
        oldest = d.events[0]["seq"] if d.events else None
        state = history.recovery(since, d.seq, oldest)
        if state == "none":
            return []
        if state == "gap":
            return None
        return [dict(e) for e in d.events if e["seq"] > since]

    async def replay(self, room_id: str, after: int, count: int) -> list[dict]:
        d = self._data(room_id)
        out = []
        for e in d.replay:
            if e["seq"] <= after or (e.get("type") == "comment" and e.get("id") in d.deleted):
                continue
            out.append(dict(e))
            if len(out) >= count:
                break
        return out

    async def subscribe(self, room_id: str, sink: Sink) -> None:
        self._sinks[room_id] = sink

    async def unsubscribe(self, room_id: str) -> None:
        self._sinks.pop(room_id, None)

    async def post_comment(
        self, room_id: str, uid: str, event: dict[str, Any], client_id: str | None
    ) -> CommentResult:
        d = self._data(room_id)
        now = time.time()
        s = self.settings
        if client_id is not None:
            seen = d.dedup.get((uid, client_id))
            if seen is not None and seen[0] > now:
                return CommentResult(event=dict(seen[1]), duplicate=True)
        mod = d.moderation.get(uid, 0.0)
        if mod == -1:
            return CommentResult.refused("banned")
        if mod > now:
            return CommentResult.refused("muted", mod - now)
        wait = ratelimit.slow_mode_wait(d.last_comment.get(uid), now, d.room.slow_mode)
        if wait > 0 and not event.get("host"):
            return CommentResult.refused("slow_mode", wait)
        allowed, bucket = ratelimit.take(d.buckets.get(uid), now, s.comment_rate, s.comment_burst)
        d.buckets[uid] = bucket
        if not allowed and not event.get("host"):
            return CommentResult.refused("rate_limited", 1.0 / s.comment_rate)
        d.last_comment[uid] = now
        stored = self._append(room_id, d, event)
        if client_id is not None:
            if len(d.dedup) > 100_000:
                d.dedup = {k: v for k, v in d.dedup.items() if v[0] > now}
            d.dedup[(uid, client_id)] = (now + s.dedup_ttl_s, stored)
        return CommentResult(event=stored)

    async def comment_deleted(self, room_id: str, comment_id: str) -> bool:
        d = self._data(room_id)
        if comment_id in d.deleted:
            return False
        d.deleted.add(comment_id)
        return True

    async def moderation(self, room_id: str, uid: str) -> Moderation:
        mod = self._data(room_id).moderation.get(uid, 0.0)
        return Moderation(banned=mod == -1, muted_until=max(mod, 0.0))

    async def publish_state(self, room_id: str, state: dict[str, Any]) -> None:
        self._emit(room_id, "state", dict(state))

    async def send_personal(self, room_id: str, uid: str, frame: dict[str, Any]) -> None:
        self._emit(room_id, "personal", Personal(uid, dict(frame)))

    async def publish_paced(
        self, room_id: str, name: str, event: dict[str, Any] | None, window_ms: int
    ) -> Paced:
        d = self._data(room_id)
        pace, newest = d.paces.get(name, (Pace(), None))
        if event is not None:
            newest = dict(event)
        pace, count = take_slot(pace, 0 if event is None else 1, now_ms(), window_ms)
        published = None
        if count and newest is not None:
            published = self._append(room_id, d, {**newest, "others": count - 1})
            newest = None
        d.paces[name] = (pace, newest)
        return Paced(published, pace.pending, pace.next_at(window_ms))

    async def add_likes(self, room_id: str, n: int) -> int:
        d = self._data(room_id)
        d.likes += n
        self._emit(room_id, "likes", d.likes)
        return d.likes

    async def report_presence(self, room_id: str, local_count: int) -> int:
        d = self._data(room_id)
        d.viewers = local_count
        return local_count
