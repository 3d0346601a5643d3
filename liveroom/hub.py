"""Per-process fan-out: each room's local connections and its outbox.

Events for a room collect in an outbox; every tick the outbox goes out as one frame per
recipient group (hosts see everything, viewers a sample of comments once a room talks
faster than people read), encoded once per group and wire format and written as the same
bytes to every connection. Like totals and viewer counts ride along as latest values.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from liveroom import codec, protocol
from liveroom.background import cancel_and_wait, every
from liveroom.connection import CLOSED, CLOSING, DEGRADED, JOINING, Connection, wire_frame
from liveroom.engine.base import CANCELLED, ENDED, Engine, Personal, Room
from liveroom.metrics import METRICS
from liveroom.rules.lanes import NORMAL, lane_of
from liveroom.rules.sampling import Sampler
from liveroom.rules.ticks import rest_after
from liveroom.types import RoomEventHandler
from liveroom.welcome import Welcomes

log = logging.getLogger("liveroom.hub")


@dataclass
class RoomChannel:
    id: str
    room: Room
    sampler: Sampler
    conns: set[Connection] = field(default_factory=set)
    by_uid: dict[str, set[Connection]] = field(default_factory=dict)
    pending: list[dict] = field(default_factory=list)
    last_seq: int = 0
    likes: int = 0
    likes_sent: int = 0
    viewers: int = 0
    viewers_sent: int = 0
    local_likes: int = 0  # taps received here, not yet added to the engine
    extra_state: dict[str, Any] = field(default_factory=dict)  # e.g. stock, filled by features
    # frames for one user's connections, sent after the tick's events (engine.send_personal)
    personal: list[Personal] = field(default_factory=list)
    ending: bool = False  # the room ended: its connections are closed at this tick's end
    # ... and stays so: a connection being welcomed meanwhile is closed after its welcome
    # (ws.py), whatever status that welcome read
    ended: bool = False


class Hub:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.settings = engine.settings
        self.rooms: dict[str, RoomChannel] = {}
        self._tasks: list[asyncio.Task] = []
        self._like_pushes: set[asyncio.Task] = set()
        self._joining: dict[str, asyncio.Lock] = {}
        self._listener: RoomEventHandler | None = None
        # connections in a room's set whose welcome is still being built: while there are
        # any, ticks yield more of the process to them (rules/ticks.py)
        self._welcoming: set[Connection] = set()
        # the snapshot reads of the viewers joining together, shared (welcome.py)
        self.welcomes = Welcomes(engine, self.settings.recent_comments)

    # lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._tick_loop(), name="hub-tick"),
            loop.create_task(
                every(self.settings.presence_interval_s, self.report_presence), name="hub-presence"
            ),
        ]

    async def stop(self) -> None:
        await self.welcomes.close()
        await cancel_and_wait(self._tasks)
        # taps counted here and not yet added to the engine: a restart must not lose them
        for channel in list(self.rooms.values()):
            self._push_local_likes(channel)
        if self._like_pushes:
            await asyncio.wait(list(self._like_pushes), timeout=5)
        for room_id in list(self.rooms):
            with contextlib.suppress(Exception):
                await self.engine.report_presence(room_id, 0)
                await self.engine.unsubscribe(room_id)

    def listen(self, handler: RoomEventHandler) -> None:
        """Who hears every room event this process receives (the node, for its features)."""
        self._listener = handler

    # membership ----------------------------------------------------------------------
    async def join(self, room_id: str, conn: Connection) -> RoomChannel:
        channel = self.rooms.get(room_id)
        if channel is None:
            lock = self._joining.setdefault(room_id, asyncio.Lock())
            async with lock:
                channel = self.rooms.get(room_id)
                if channel is None:
                    room = await self.engine.room(room_id)
                    sampler = Sampler(self.settings.readable_comments_per_s)
                    channel = RoomChannel(room_id, room, sampler)
                    self.rooms[room_id] = channel
                    await self.engine.subscribe(room_id, self._on_engine)
            self._joining.pop(room_id, None)
        channel.conns.add(conn)
        channel.by_uid.setdefault(conn.uid, set()).add(conn)
        self._welcoming.add(conn)
        METRICS.connections += 1
        return channel

    def leave(self, room_id: str, conn: Connection) -> None:
        self._welcoming.discard(conn)
        channel = self.rooms.get(room_id)
        if channel is None or conn not in channel.conns:
            return
        channel.conns.discard(conn)
        same = channel.by_uid.get(conn.uid)
        if same is not None:
            same.discard(conn)
            if not same:
                del channel.by_uid[conn.uid]
        METRICS.connections -= 1

    def local_viewers(self, room_id: str) -> int:
        channel = self.rooms.get(room_id)
        return len(channel.conns) if channel else 0

    def connections_of(self, room_id: str, uid: str) -> set[Connection]:
        channel = self.rooms.get(room_id)
        return set(channel.by_uid.get(uid, ())) if channel else set()

    # inbound from the engine ---------------------------------------------------------
    def _on_engine(self, room_id: str, kind: str, payload: Any) -> None:
        channel = self.rooms.get(room_id)
        if channel is None:
            return
        if kind == "likes":
            channel.likes = max(channel.likes, int(payload))
        elif kind == "state":
            channel.extra_state.update(payload)
        elif kind == "resubscribed":
            if self._listener is not None:
                self._listener.on_resubscribed(room_id)
        elif kind == "personal":
            if payload.uid in channel.by_uid:
                channel.personal.append(payload)
        elif kind == "event":
            if payload["seq"] <= channel.last_seq:
                return  # already have it (a resubscribe can replay)
            channel.last_seq = payload["seq"]
            channel.pending.append(payload)
            METRICS.events_in += 1
            self._apply(channel, payload)

    def _apply(self, channel: RoomChannel, event: dict) -> None:
        etype = event.get("type")
        if etype in ("room", "pin"):
            asyncio.get_running_loop().create_task(self._refresh_room(channel))
            if event.get("status") in (ENDED, CANCELLED):
                channel.ending = True
        elif etype == "moderation" and event.get("action") == "ban":
            for conn in list(channel.by_uid.get(event.get("uid", ""), ())):
                conn.send(
                    {"t": "error", "code": "banned", "message": "you are banned from this room"}
                )
                conn.shut(protocol.CLOSE_BANNED, "banned")
        if self._listener is not None:
            self._listener.on_room_event(channel, event)

    async def _refresh_room(self, channel: RoomChannel) -> None:
        with contextlib.suppress(Exception):
            channel.room = await self.engine.room(channel.id)

    def add_likes(self, room_id: str, n: int) -> None:
        channel = self.rooms.get(room_id)
        if channel is not None:
            channel.local_likes += n

    # outbound ------------------------------------------------------------------------
    async def _tick_loop(self) -> None:
        tick_s = self.settings.tick_ms / 1000
        loop = asyncio.get_running_loop()
        next_at = last = loop.time()
        rest = 0.0
        while True:
            next_at += tick_s
            delay = next_at - loop.time()
            if delay < rest:
                # Fell behind: no catching up in a burst, and the rest of the process (reading
                # frames, answering grabs, welcoming) gets a pause before the next tick
                # (rules/ticks.py); else a tick that takes longer than the tick period runs
                # back to back with the next, and a grab waits a whole tick's writes for
                # every step it takes through the event loop.
                next_at = loop.time() + rest
                delay = rest
            await asyncio.sleep(delay)
            now = loop.time()
            # A loaded process ticks late: the sampler must see the time that really passed,
            # or viewers would get fewer comments than the readable rate promises.
            elapsed, last = now - last, now
            try:
                self.flush_all(elapsed)
            except Exception:
                METRICS.tick_failures += 1
                log.exception("tick failed")
            rest = rest_after(loop.time() - now, tick_s, bool(self._welcoming))

    def flush_all(self, tick_s: float) -> None:
        for channel in list(self.rooms.values()):
            self._push_local_likes(channel)
            try:
                self.flush(channel, tick_s)
            except Exception:  # one room's fault must not hold up the others
                METRICS.tick_failures += 1
                log.exception("tick failed for room %s", channel.id)

    def _push_local_likes(self, channel: RoomChannel) -> None:
        if channel.local_likes:
            n, channel.local_likes = channel.local_likes, 0
            task = asyncio.get_running_loop().create_task(self._push_likes(channel, n))
            self._like_pushes.add(task)
            task.add_done_callback(self._like_pushes.discard)

    async def _push_likes(self, channel: RoomChannel, n: int) -> None:
        try:
            total = await self.engine.add_likes(channel.id, n)
            channel.likes = max(channel.likes, total)
        except Exception:
            log.warning("like batch of %d lost for room %s", n, channel.id, exc_info=True)

    def _state(self, channel: RoomChannel) -> dict[str, Any]:
        state: dict[str, Any] = {}
        if channel.likes != channel.likes_sent:
            state["likes"] = channel.likes
            channel.likes_sent = channel.likes
        if channel.viewers != channel.viewers_sent:
            state["viewers"] = channel.viewers
            channel.viewers_sent = channel.viewers
        if channel.extra_state:
            state.update(channel.extra_state)
            channel.extra_state = {}
        return state

    def flush(self, channel: RoomChannel, tick_s: float) -> None:
        events, channel.pending = channel.pending, []
        state = self._state(channel)
        # frames for one user go after this tick's events: a user is told after the room
        # saw what came before (a winner's draw_won after the draw_closed)
        personal, channel.personal = channel.personal, []
        if not events and not state:
            self._hand_personal(channel, personal)
            return
        normal = [i for i, e in enumerate(events) if lane_of(e) == NORMAL]
        viewer_events = events
        skipped = 0
        if normal:
            keep = set(channel.sampler.pick(len(normal), tick_s))
            dropped = {idx for n, idx in enumerate(normal) if n not in keep}
            if dropped:
                viewer_events = [e for i, e in enumerate(events) if i not in dropped]
                skipped = len(dropped)
        frames = _FrameCache(channel.last_seq, state)
        frames.add_group("host", events, 0)
        frames.add_group("viewer", viewer_events, skipped)
        seq = channel.last_seq
        first_seq = events[0]["seq"] if events else seq + 1
        soft = self.settings.slow_soft_bytes
        wires = frames.wires()
        sent = 0
        failed: list[tuple[Connection, Exception]] = []
        # The hot loop: one state check (a LIVE raw socket has its `live_transport`), one
        # buffer check and one write of shared bytes per healthy client. A socket that
        # raises (closed under us, mid-tick) costs itself only; the try costs nothing until
        # something raises.
        for conn in channel.conns:
            try:
                transport = conn.live_transport
                if (
                    transport is not None
                    and conn.last_seq < first_seq
                    and transport.get_write_buffer_size() <= soft
                ):
                    transport.write(wires[conn.kind])
                    conn.last_seq = seq
                    sent += 1
                elif self._deliver_special(conn, frames, first_seq, state, events, viewer_events):
                    sent += 1
            except Exception as exc:
                failed.append((conn, exc))
        if failed:
            self._drop_failed(channel, failed)
        METRICS.frames_out += sent
        METRICS.deliveries += sent * len(viewer_events)
        self._hand_personal(channel, personal)
        if channel.ending:
            channel.ending, channel.ended = False, True
            for conn in list(channel.conns):
                if not conn.joining:  # its welcome first, then its close (ws.py)
                    conn.shut(protocol.CLOSE_ROOM_ENDED, "room ended")

    def _hand_personal(self, channel: RoomChannel, frames: list[Personal]) -> None:
        """Each frame to its user's connections here (one joining gets it after its
        welcome: Connection.send_personal)."""
        for item in frames:
            for conn in list(channel.by_uid.get(item.uid, ())):
                conn.send_personal(item.frame)

    def _drop_failed(
        self, channel: RoomChannel, failed: list[tuple[Connection, Exception]]
    ) -> None:
        """Sockets whose write raised: reset and forgotten, the room's tick goes on."""
        log.warning(
            "room %s: %d socket(s) failed on write and were dropped (first: %r)",
            channel.id,
            len(failed),
            failed[0][1],
        )
        for conn, _ in failed:
            conn.write_failed()
            self.leave(channel.id, conn)

    def _deliver_special(
        self,
        conn: Connection,
        frames: _FrameCache,
        first_seq: int,
        state: dict[str, Any],
        events: list[dict],
        viewer_events: list[dict],
    ) -> bool:
        """Everything off the hot path: joining, closing, slow, or an ASGI-only socket."""
        cstate = conn.state
        if cstate is JOINING:
            conn.backlog.append((events if conn.group == "host" else viewer_events, state))
            return False
        if cstate is CLOSING or cstate is CLOSED:
            return False
        backlog = conn.buffered()
        if backlog > self.settings.slow_soft_bytes or cstate is DEGRADED:
            self._slow(conn, backlog, time.monotonic(), state)
            return False
        if conn.last_seq >= first_seq:
            # joined mid-tick: its welcome already held some of these events
            conn.send(frames.after(conn.group, conn.last_seq))
        else:
            payload, wire = frames.get(conn.group, conn.fmt, conn.raw is not None)
            conn.send_encoded(payload, wire)
        conn.last_seq = frames.seq
        return True

    def _slow(self, conn: Connection, backlog: int, now: float, state: dict) -> None:
        """Past the soft bound: state only. Past the hard bound or the grace, or once it has
        drained after missing events: closed with where to resume, and reset if it does
        not take the close within `close_grace_s`."""
        s = self.settings
        if conn.degrade(now):
            METRICS.slow_degraded += 1
        drained = backlog < s.slow_soft_bytes // 4
        if backlog > s.slow_hard_bytes or drained or now - conn.degraded_at > s.slow_grace_s:
            METRICS.slow_closed += 1
            conn.shut(protocol.CLOSE_SLOW_CONSUMER, conn.resume_hint())
            return
        if state:
            conn.send({"t": "state", **state})

    def finish_join(self, conn: Connection, after_seq: int) -> None:
        """Send what arrived while the client was being welcomed, minus what it already has,
        as one tick frame: in a join or reconnect storm a welcome can take seconds, and a
        frame (an encode and a write) per tick it waited would multiply the storm's cost."""
        fresh: list[dict] = []
        state: dict[str, Any] = {}
        for events, tick_state in conn.backlog:
            fresh += [e for e in events if e["seq"] > after_seq]
            state.update(tick_state)
        if fresh:
            after_seq = fresh[-1]["seq"]
        if fresh or state:
            conn.send({"t": "tick", "seq": after_seq, "events": fresh, **state})
        conn.last_seq = after_seq
        conn.welcomed()
        self._welcoming.discard(conn)

    def close_all(self, code: int) -> int:
        """Close every connection of this process, each told where to resume (a restart)."""
        n = 0
        for channel in list(self.rooms.values()):
            for conn in list(channel.conns):
                if conn.is_open:
                    conn.shut(code, conn.resume_hint())
                    n += 1
        return n

    # presence ------------------------------------------------------------------------
    async def report_presence(self) -> None:
        now = time.monotonic()
        for room_id, channel in list(self.rooms.items()):
            # a degraded client in a room gone quiet still has to be closed or released
            for conn in [c for c in channel.conns if c.state is DEGRADED]:
                self._slow(conn, conn.buffered(), now, {})
            try:
                channel.viewers = await self.engine.report_presence(room_id, len(channel.conns))
            except Exception:
                log.warning("presence report failed for %s", room_id, exc_info=True)
                continue
            if not channel.conns and not channel.pending and not channel.local_likes:
                self.rooms.pop(room_id, None)
                with contextlib.suppress(Exception):
                    await self.engine.unsubscribe(room_id)


class _FrameCache:
    """Each (group, format) frame encoded at most once per tick."""

    def __init__(self, seq: int, state: dict[str, Any]) -> None:
        self.seq = seq
        self.state = state
        self.groups: dict[str, dict[str, Any]] = {}
        self.cache: dict[tuple[str, str], tuple[bytes | str, bytes | None]] = {}

    def add_group(self, group: str, events: list[dict], skipped: int) -> None:
        frame: dict[str, Any] = {"t": "tick", "seq": self.seq, "events": events}
        if skipped:
            frame["skipped"] = skipped
        frame.update(self.state)
        self.groups[group] = frame

    def after(self, group: str, seq: int) -> dict[str, Any]:
        frame = self.groups[group]
        return {**frame, "events": [e for e in frame["events"] if e["seq"] > seq]}

    def wires(self) -> _Wires:
        return _Wires(self)

    def get(self, group: str, fmt: str, raw: bool) -> tuple[bytes | str, bytes | None]:
        key = (group, fmt)
        hit = self.cache.get(key)
        if hit is None or (raw and hit[1] is None):
            payload = hit[0] if hit else codec.encode(fmt, self.groups[group])
            hit = (payload, wire_frame(payload) if raw else None)
            self.cache[key] = hit
        return hit


class _Wires(dict):
    """(group, format) -> full WebSocket frame bytes, encoded on first use."""

    def __init__(self, cache: _FrameCache) -> None:
        super().__init__()
        self._cache = cache

    def __missing__(self, kind: tuple[str, str]) -> bytes:
        wire = self._cache.get(kind[0], kind[1], True)[1]
        assert wire is not None
        self[kind] = wire
        return wire
