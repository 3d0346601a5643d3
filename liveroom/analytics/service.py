"""Analytics in the room: attribution at the door, live folds, the host's live figures.

One `Analytics` per process, built last by liveroom/node.py (it hears what every other
feature records). What it does, and what each step costs the room:
- **at the door** (`arrive`, before the socket's connection exists): the join's share code
  and channel are checked against the room's codes (cached here) and the viewer's first
  touch in the show is kept or read back (one MULTI for a logged-in viewer), so the
  connection's identity carries the attribution every later event records;
- **as things happen**: comments, likes, clicks and watch time only move in-process
  counters (`Activity`, per room); commerce events (joins, holds, payments, draw entries)
  reach `on_commerce_event` from the stream once they are recorded, and are folded into a
  pending `Delta`. No Redis call on any of these paths;
- **every flush** (`analytics_flush_s`, 1 s): per room, one MULTI adds the pending delta to
  the room's figures together with the `activity` record that explains the in-process part
  (`AnalyticsStore.apply`); watch time is presence-based: each flush adds the seconds its
  own connections were present, so a process that dies stops adding and nobody watches
  forever. Then, for the rooms where this process has host connections, the figures are
  read once and one `figures` frame goes to each host;
- **every profile flush** (`analytics_profile_flush_s`, 10 s): viewer profiles in one
  pipeline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from starlette.routing import BaseRoute

from liveroom import codec
from liveroom.analytics import report as reports
from liveroom.analytics.store import AnalyticsStore, TouchAsk
from liveroom.background import cancel_and_wait, every
from liveroom.batching import RoomBatcher
from liveroom.engine.base import Engine, now_ms
from liveroom.rules import attribution as rules
from liveroom.rules.attribution import Activity, Delta, Figures, ShareCode, Touch
from liveroom.rules.segments import ProfileDelta, Thresholds, profile_deltas, sku_field
from liveroom.settings import Settings
from liveroom.stream.base import CommerceStream
from liveroom.tokens import Identity
from liveroom.types import Arrival, CommerceEvent, Feature, Frame, Join

if TYPE_CHECKING:
    from liveroom.connection import Connection
    from liveroom.hub import Hub
    from liveroom.session import Session

log = logging.getLogger("liveroom.analytics")

CODE_TTL_S = 30.0  # a known code is trusted this long before it is read again
MISS_TTL_S = 5.0  # an unknown one: a flood of made-up codes costs one read per 5 s each
CODES_LIST_TTL_S = 10.0  # labels of the leaderboard in the live figures
MAX_RETRY_DELTAS = 600  # flushes kept while the store is away (about ten minutes)
# Profiles go out this many viewers per pipeline: after a join storm a flush holds every
# viewer of the show, and one huge pipeline would hold the event loop while it is built.
PROFILE_BATCH = 500


def source_key(ident: Identity) -> str:
    return rules.key_of(ident.ref, ident.src)


@dataclass
class _Room:
    """What this process saw of a room since its last flush, and who it serves there."""

    since: int  # ms: when this process started counting the room (the first record's t0)
    activity: Activity = field(default_factory=Activity)
    delta: Delta = field(default_factory=Delta)
    present: dict[str, int] = field(default_factory=dict)  # source key -> connections here
    # source key -> watch ms not yet recorded, minus present * now (see _watch)
    open_ms: dict[str, int] = field(default_factory=dict)
    hosts: set[Connection] = field(default_factory=set)
    last_record: int = 0
    viewers_written: int = -1
    retry: list[tuple[Delta, dict[str, Any] | None]] = field(default_factory=list)
    seen: tuple[int, int, int] = (0, 0, 0)  # (ms, comments, likes) at the last figures read

    def idle(self) -> bool:
        return not (
            any(self.present.values())
            or any(self.open_ms.values())
            or self.hosts
            or self.activity
            or self.delta
            or self.retry
        )


class Analytics(Feature):
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        hub: Hub,
        stream: CommerceStream,
        store: AnalyticsStore,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.hub = hub
        self.stream = stream
        self.store = store
        self.bucket_ms = settings.analytics_bucket_s * 1000
        self.thresholds = Thresholds(
            active_days=settings.segment_active_days,
            active_min_shows=settings.segment_active_shows,
            dormant_days=settings.segment_dormant_days,
            high_value_fen=settings.segment_high_value_fen,
        )
        self._rooms: dict[str, _Room] = {}
        self._profiles: dict[str, ProfileDelta] = {}
        self._entered: dict[Connection, int] = {}  # a logged-in viewer's session start, ms
        self._codes: dict[tuple[str, str], tuple[float, ShareCode | None]] = {}
        self._code_lists: dict[str, tuple[float, list[ShareCode]]] = {}
        self._profiles_at = time.monotonic()
        self._tasks: list[asyncio.Task] = []
        # the joins of a room that arrive together keep their first touches in one step
        self._touches: RoomBatcher[TouchAsk, tuple[Touch, bool]] = RoomBatcher(
            self._touch_many, immediate=store.in_process
        )

    # lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(every(self.settings.analytics_flush_s, self.tick), name="analytics")
        ]

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)
        await self._touches.close()
        now = now_ms()
        for conn, started in self._entered.items():  # sessions still open: their watch so far
            self._profile(conn.ident.uid).add("watch_ms", now - started)
        self._entered.clear()
        with contextlib.suppress(Exception):
            await self.flush(now)
            await self.flush_profiles()
        await self.store.close()

    def routes(self) -> list[BaseRoute]:
        from liveroom.analytics.routes import analytics_routes

        return analytics_routes()

    # at the door ------------------------------------------------------------------------
    async def arrive(
        self, room_id: str, ident: Identity, link_ref: Any, link_src: Any, *, resumed: bool
    ) -> Arrival:
        """Attribute a joining client (liveroom/rules/attribution.py, the rule). Never
        refuses: a code that is not the room's is ignored and said so. Raises Unavailable
        when the store cannot be reached (the socket answers as for any outage)."""
        if ident.is_host:
            return Arrival(ident)
        cand = rules.candidate(ident.ref, ident.src, link_ref, link_src)
        code = await self.code(room_id, cand.ref) if cand.ref else None
        touch, ignored = rules.touch_of(cand, code)
        first = not resumed
        if not ident.is_anonymous:
            ask = TouchAsk(ident.uid, touch, keep=not resumed)
            touch, first = await self._touches.submit(room_id, ask)
        return Arrival(replace(ident, ref=touch.ref, src=touch.src), first, ignored)

    async def _touch_many(self, room_id: str, asks: list[TouchAsk]) -> list[tuple[Touch, bool]]:
        return await self.store.touches(room_id, asks, self.settings.analytics_touch_days * 86400)

    async def code(self, room_id: str, code: str) -> ShareCode | None:
        """A room's code, from a short cache: a link shared to a big group brings
        thousands of joins with the same code within a minute."""
        now = time.monotonic()
        hit = self._codes.get((room_id, code))
        if hit is not None and hit[0] > now:
            return hit[1]
        found = await self.store.code(room_id, code)
        if len(self._codes) > 10_000:
            self._codes = {k: v for k, v in self._codes.items() if v[0] > now}
        self._codes[(room_id, code)] = (now + (CODE_TTL_S if found else MISS_TTL_S), found)
        return found

    async def room_codes(self, room_id: str) -> list[ShareCode]:
        now = time.monotonic()
        hit = self._code_lists.get(room_id)
        if hit is None or hit[0] <= now:
            hit = (now + CODES_LIST_TTL_S, await self.store.codes(room_id))
            self._code_lists[room_id] = hit
        return hit[1]

    def forget_codes(self, room_id: str) -> None:
        """A code was created: the next read sees it."""
        self._code_lists.pop(room_id, None)
        self._codes = {k: v for k, v in self._codes.items() if k[0] != room_id}

    # the room's life ---------------------------------------------------------------------
    def _room(self, room_id: str) -> _Room:
        r = self._rooms.get(room_id)
        if r is None:
            r = self._rooms[room_id] = _Room(since=now_ms())
        return r

    def _profile(self, uid: str) -> ProfileDelta:
        d = self._profiles.get(uid)
        if d is None:
            d = self._profiles[uid] = ProfileDelta()
        return d

    async def on_join(self, join: Join, welcome: Frame) -> None:
        ident = join.ident
        if ident.is_host:
            return
        shown: dict[str, Any] = {"ref": ident.ref, "src": ident.src}
        if join.ignored is not None:
            shown["ignored"] = {"code": join.ignored.code, "message": join.ignored.message}
        welcome["attribution"] = shown
        if ident.is_anonymous and join.first:
            # a logged-in join is counted from its viewer_joined record instead
            self._room(join.room_id).activity.anonymous_join(source_key(ident))

    def on_enter(self, session: Session) -> None:
        ident, conn = session.ident, session.conn
        r = self._room(session.room_id)
        if ident.is_host:
            r.hosts.add(conn)
            return
        now, key = now_ms(), source_key(ident)
        r.present[key] = r.present.get(key, 0) + 1
        r.open_ms[key] = r.open_ms.get(key, 0) - now
        if not ident.is_anonymous:
            self._entered[conn] = now

    def on_leave(self, session: Session) -> None:
        ident, conn = session.ident, session.conn
        r = self._room(session.room_id)
        if ident.is_host:
            r.hosts.discard(conn)
            return
        now, key = now_ms(), source_key(ident)
        r.present[key] = r.present.get(key, 0) - 1
        r.open_ms[key] = r.open_ms.get(key, 0) + now
        started = self._entered.pop(conn, None)
        if started is not None:
            d = self._profile(ident.uid)
            d.add("watch_ms", now - started)
            d.saw(now, session.room_id)

    def on_like(self, session: Session, n: int) -> None:
        if not session.ident.is_host:
            self._room(session.room_id).activity.likes(source_key(session.ident), n)

    def on_product_click(self, session: Session, sku: str) -> None:
        ident = session.ident
        if ident.is_host:
            return
        self._room(session.room_id).activity.click(source_key(ident), sku)
        if not ident.is_anonymous:
            self._profile(ident.uid).add(sku_field("k", sku))

    async def on_comment(self, session: Session, event: dict[str, Any]) -> None:
        ident = session.ident
        if ident.is_host:
            return
        self._room(session.room_id).activity.comment(source_key(ident))
        self._profile(ident.uid).add("comments")

    def on_commerce_event(self, room_id: str, event: CommerceEvent) -> None:
        """A commerce event this process recorded: folded now, written with the next flush."""
        if event.get("type") == "activity":
            return  # our own aggregate, folded when it was made
        self._room(room_id).delta.merge(rules.fold(event, self.bucket_ms))
        for uid, d in profile_deltas(room_id, event).items():
            self._profile(uid).merge(d)

    # flushes ----------------------------------------------------------------------------
    async def tick(self) -> None:
        now = now_ms()
        await self.flush(now)
        if time.monotonic() - self._profiles_at >= self.settings.analytics_profile_flush_s:
            self._profiles_at = time.monotonic()
            await self.flush_profiles()
        await self.push_figures(now)

    async def flush(self, now: int | None = None) -> None:
        """Every room's pending figures, each in one atomic step with its activity record."""
        now = now_ms() if now is None else now
        failed: Exception | None = None
        for room_id, r in list(self._rooms.items()):
            try:
                await self._flush_room(room_id, r, now)
            except Exception as exc:  # kept for the next flush; the other rooms go on
                failed = failed or exc
            if r.idle() and room_id not in self.hub.rooms:
                del self._rooms[room_id]
        if failed is not None:
            raise failed

    def _watch(self, r: _Room, now: int) -> None:
        """Move the watch time since the last record into the activity: for each source,
        what closed sessions watched plus what the present ones watched up to now."""
        for key in set(r.present) | set(r.open_ms):
            present = r.present.get(key, 0)
            ms = r.open_ms.get(key, 0) + present * now
            r.activity.watch(key, ms)
            if present:
                r.open_ms[key] = -present * now
            else:
                r.open_ms.pop(key, None)
                r.present.pop(key, None)

    async def _flush_room(self, room_id: str, r: _Room, now: int) -> None:
        while r.retry:  # what a store outage left, in order, before anything newer
            delta, record = r.retry[0]
            await self.store.apply(room_id, delta, record)
            r.retry.pop(0)
        channel = self.hub.rooms.get(room_id)
        viewers = channel.viewers if channel is not None else -1
        watching = any(r.present.values()) or any(r.open_ms.values())
        write = (
            bool(r.activity)
            or (channel is not None and viewers != r.viewers_written)
            or (watching and now - (r.last_record or r.since) >= self.bucket_ms)
        )
        delta, r.delta = r.delta, Delta()
        record = None
        if write:
            self._watch(r, now)
            activity, r.activity = r.activity, Activity()
            t0 = r.last_record or r.since
            record = activity.record(t0=t0, t1=now, viewers=viewers, node=self.settings.node_id)
            delta.merge(
                rules.fold({"type": "activity", "room_id": room_id, **record}, self.bucket_ms)
            )
            r.last_record, r.viewers_written = now, viewers
        if not delta and record is None:
            return
        try:
            await self.store.apply(room_id, delta, record)
        except Exception:
            if len(r.retry) < MAX_RETRY_DELTAS:
                r.retry.append((delta, record))
            else:
                log.error("analytics for %s: store away too long, a flush was dropped", room_id)
            raise

    async def flush_profiles(self) -> None:
        deltas, self._profiles = list(self._profiles.items()), {}
        for start in range(0, len(deltas), PROFILE_BATCH):
            batch = dict(deltas[start : start + PROFILE_BATCH])
            if start:
                await asyncio.sleep(0)  # the memory store never yields by itself
            try:
                await self.store.add_profiles(batch)
            except Exception:
                for uid, d in deltas[start:]:  # back in front of what came meanwhile
                    self._profile(uid).merge(d)
                raise

    async def push_figures(self, now: int) -> None:
        """Each room with hosts here: its figures read once, one frame to every host."""
        for room_id, r in list(self._rooms.items()):
            if not r.hosts:
                continue
            figs = await self.store.figures(room_id)
            codes = await self.room_codes(room_id)
            channel = self.hub.rooms.get(room_id)
            comments, likes = figs.count("comments"), figs.count("likes")
            then, c0, l0 = r.seen
            span = (now - then) / 1000 if then else 0
            rates = ((comments - c0) / span, (likes - l0) / span) if span > 0 else (0.0, 0.0)
            r.seen = (now, comments, likes)
            frame = reports.live_figures(
                figs,
                now=now,
                viewers_now=channel.viewers if channel is not None else 0,
                codes=codes,
                rates=rates,
            )
            encoded: dict[str, bytes | str] = {}
            for conn in list(r.hosts):
                payload = encoded.get(conn.fmt)
                if payload is None:
                    payload = encoded[conn.fmt] = codec.encode(conn.fmt, frame)
                conn.send_encoded(payload)

    # reads ------------------------------------------------------------------------------
    async def report(self, room_id: str, now: int | None = None) -> dict[str, Any] | None:
        """The show report, or None for a room with no figures and no share codes."""
        if not await self.store.known(room_id):
            return None
        now = now_ms() if now is None else now
        figs = await self.store.figures(room_id, rules.TABLES)
        return await self._report(room_id, figs, now, live=True)

    async def _report(self, room_id: str, figs: Figures, now: int, *, live: bool) -> dict[str, Any]:
        room = await self.engine.room(room_id)
        channel = self.hub.rooms.get(room_id) if live else None
        return reports.report(
            room_id,
            figs,
            status=room.status,
            now=now,
            viewers_now=(channel.viewers if channel is not None else 0) if live else None,
            codes=await self.store.codes(room_id),
            bucket_ms=self.bucket_ms,
        )

    async def rebuild(self, room_id: str, *, apply: bool) -> dict[str, Any]:
        """The figures folded afresh from the room's commerce stream (the same fold as live),
        the live ones beside them, and what differs; `apply` puts the rebuilt ones in place."""
        rebuilt = Figures()
        events = 0
        async for event in self.stream.scan(room_id):
            rebuilt.apply(rules.fold(event, self.bucket_ms))
            events += 1
        live = await self.store.figures(room_id, rules.TABLES)
        differs = _differences(live, rebuilt)
        if apply:
            await self.store.replace(room_id, rebuilt)
        now = now_ms()
        return {
            "room_id": room_id,
            "events": events,
            "applied": apply,
            "differences": differs,
            "report": await self._report(room_id, rebuilt, now, live=False),
        }


def _differences(live: Figures, rebuilt: Figures) -> list[dict[str, Any]]:
    out = []
    for kind, a, b in (("count", live.counts, rebuilt.counts), ("mark", live.marks, rebuilt.marks)):
        for table in sorted(set(a) | set(b)):
            x, y = a.get(table, {}), b.get(table, {})
            for name in sorted(set(x) | set(y)):
                if x.get(name, 0) != y.get(name, 0):
                    out.append(
                        {
                            "table": table,
                            "kind": kind,
                            "field": name,
                            "live": x.get(name),
                            "rebuilt": y.get(name),
                        }
                    )
    return out
