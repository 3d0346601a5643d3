"""The Redis engine: room state shared by every process and host on one Redis.

Each state change that must be atomic is one Lua script (liveroom/redis/lua/room_*.lua),
so the semantics match the memory engine, where each method runs on one event loop
without awaiting in the middle. The contract suite (tests/contract) runs both engines
through the same tests. Connections, keys, scripts and the outage guard come from the one
Redis layer (liveroom/redis): every key of a room carries the hash tag `{room_id}`, so a
room's scripts touch one Redis Cluster slot. Events go out with PUBLISH on the room's
channel; on a Redis Cluster the scripts SPUBLISH and the subscriber SSUBSCRIBEs (sharded
pub/sub), so a room's messages stay on the shard that owns its slot instead of being
broadcast to every node (liveroom/redis/pubsub.py).

Messages on a room channel are described in redis_pubsub.py, which reads them.

Redis outages: every call raises Unavailable promptly (short socket timeouts, no
retries) instead of hanging; the single subscriber connection reconnects with backoff,
resubscribes every room it had and replays what it missed from the history. If Redis
comes back empty (no persistence), seqs go on above the highest this process has seen
(`floor` in lib_room.lua append_event, and room_seq_floor.lua on resubscribe) instead of
starting over at 1, which every hub would drop as already delivered; the history and room
state are lost all the same, so run Redis with `appendonly yes`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import msgpack

from liveroom.batching import RoomBatcher
from liveroom.engine.base import (
    ROOM_FIELDS,
    CommentResult,
    Engine,
    Moderation,
    Paced,
    Room,
    Sink,
    Snapshot,
)
from liveroom.engine.redis_pubsub import (
    Subscriber,
    event_message,
    personal_message,
    unpack_events,
)
from liveroom.redis import RedisLayer
from liveroom.redis.guard import guard
from liveroom.redis.keys import RoomKeys, dedup_suffix
from liveroom.rules import history
from liveroom.rules.show import REPLAY_TYPES
from liveroom.settings import Settings

log = logging.getLogger("liveroom.engine.redis")

PACE_TTL_MS = 86_400_000  # a paced announcement's state outlives its last use by a day


def _pack(obj: Any) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


# Room fields are stored as strings in a hash; these say how each goes in and out.
def _encode_field(name: str, value: Any) -> str | None:
    """The stored string, or None to delete the field (back to the default)."""
    if value is None:
        return None
    if name in ("allow_anonymous", "replay"):
        return "1" if value else "0"
    if name == "keywords":
        return json.dumps(list(value), ensure_ascii=False)
    if name == "slow_mode":
        return str(int(value))
    return str(value)


def _decode_room(room_id: str, flat: list[bytes], allow_anonymous: bool) -> Room:
    room = Room(id=room_id, allow_anonymous=allow_anonymous)
    for i in range(0, len(flat), 2):
        name, raw = flat[i].decode(), flat[i + 1].decode()
        if name == "allow_anonymous":
            room.allow_anonymous = raw == "1"
        elif name == "replay":
            room.replay = raw == "1"
        elif name == "keywords":
            room.keywords = json.loads(raw)
        elif name == "slow_mode":
            room.slow_mode = int(raw)
        elif name in ("title", "status", "pinned", "social_proof"):
            setattr(room, name, raw)
    return room


class RedisEngine(Engine):
    name = "redis"

    def __init__(self, settings: Settings, redis: RedisLayer | None = None) -> None:
        """`redis` is the process's Redis layer; without one the engine makes its own
        (and closes it with itself), as a test or a tool needs."""
        super().__init__(settings)
        self._owns_redis = redis is None
        self.redis = redis or RedisLayer.from_settings(settings)
        self.client = self.redis.client
        self._publish = self.redis.script("room_publish")
        self._post_comments = self.redis.script("room_post_comments")
        self._snapshot = self.redis.script("room_snapshot")
        self._events_since = self.redis.script("room_events_since")
        self._raise_seq = self.redis.script("room_seq_floor")
        self._presence = self.redis.script("room_presence")
        self._add_likes = self.redis.script("room_add_likes")
        self._publish_paced = self.redis.script("room_publish_paced")
        # one Redis: a channel of the process's own keeps its connection up with no rooms;
        # a cluster: connections only to the masters of the rooms it serves
        home = None if self.redis.sharded else self.redis.keys.node_channel(settings.node_id)
        self.subscriber = Subscriber(self.redis.routes, home, self._resume)
        self._published: dict[str, int] = {}  # room -> highest seq this process assigned
        # a room's comments that reach this process together go to Redis as one script call
        self._comments: RoomBatcher[_Comment, CommentResult] = RoomBatcher(self._post_many)
        self._moderations: RoomBatcher[str, Moderation] = RoomBatcher(
            self._moderation_many, max_in_flight=1
        )

    def _keys(self, room_id: str) -> RoomKeys:
        return self.redis.keys.room(room_id)

    async def start(self) -> None:
        with guard():
            await self.client.ping()
            await self.subscriber.start()

    async def close(self) -> None:
        await self._comments.close()
        await self._moderations.close()
        await self.subscriber.close()
        if self._owns_redis:
            await self.redis.close()

    # rooms ---------------------------------------------------------------------------
    async def room(self, room_id: str) -> Room:
        with guard():
            flat = await self.client.execute_command("HGETALL", self._keys(room_id).room)
        return _decode_room(room_id, _flat(flat), self.settings.allow_anonymous)

    async def snapshot(self, room_id: str, recent: int) -> Snapshot:
        k = self._keys(room_id)
        with guard():
            room_flat, seq, likes, viewers, entries, deleted = await self._snapshot(
                keys=[k.room, k.seq, k.likes, k.presence, k.history, k.deleted], args=[recent]
            )
        newest_first = unpack_events(entries)
        comments = history.recent_comments(newest_first, {d.decode() for d in deleted}, recent)
        room = _decode_room(room_id, room_flat, self.settings.allow_anonymous)
        return Snapshot(room, int(seq), int(likes), int(viewers), comments)

    # events --------------------------------------------------------------------------
    def _event_args(self, k: RoomKeys, event: dict[str, Any]) -> list[Any]:
        """Script arguments of room_publish: how to append an event."""
        event_id = event.get("id")
        return [
            k.channel,
            self.settings.history_size,
            _pack(event),
            str(event.get("type", "")),
            event_id if isinstance(event_id, str) else "",
            self._seq_floor(k),
        ]

    def _replay_args(self, event: dict[str, Any]) -> list[Any]:
        """Script arguments saying whether and how the event is kept for a show's replay
        (the script keeps it only while the room's `replay` field is set)."""
        s = self.settings
        wanted = "1" if event.get("type") in REPLAY_TYPES else ""
        return [wanted, s.replay_max_events, s.replay_days * 86400]

    def _seq_floor(self, k: RoomKeys) -> int:
        """The highest seq this process has seen in the room (published or received)."""
        return max(self._published.get(k.room_id, 0), self.subscriber.last_seq(k.channel))

    def _note_published(self, room_id: str, seq: int) -> int:
        if seq > self._published.get(room_id, 0):
            self._published[room_id] = seq
        return seq

    async def _resume(self, room_id: str, since: int) -> list[dict] | None:
        """After the subscriber reconnects: keep seqs monotonic, then read what was missed."""
        k = self._keys(room_id)
        with guard():
            behind = await self._raise_seq(keys=[k.seq], args=[since])
        if behind:
            log.error(
                "room %s: Redis lost its data (seq was behind %d); seqs go on from there. "
                "Run Redis with persistence (appendonly yes) to keep history across restarts.",
                room_id,
                since,
            )
        return await self.events_since(room_id, since)

    async def publish(
        self,
        room_id: str,
        event: dict[str, Any],
        *,
        room_changes: dict[str, Any] | None = None,
        moderation: tuple[str, float | None] | None = None,
    ) -> dict[str, Any]:
        changes: list[str] = []
        if room_changes:
            unknown = set(room_changes) - set(ROOM_FIELDS)
            if unknown:
                raise ValueError(f"unknown room fields: {sorted(unknown)}")
            for name, value in room_changes.items():
                stored = _encode_field(name, value)
                changes += [name, "d", ""] if stored is None else [name, "s", stored]
        mod_uid, mod_until = "", ""
        if moderation is not None:
            mod_uid, until = moderation
            mod_until = repr(float(until or 0))
        k = self._keys(room_id)
        with guard():
            seq = await self._publish(
                keys=[k.room, k.seq, k.history, k.moderation, k.replay],
                args=[
                    *self._event_args(k, event),
                    mod_uid,
                    mod_until,
                    *self._replay_args(event),
                    *changes,
                ],
            )
        return {**event, "seq": self._note_published(room_id, int(seq))}

    async def events_since(self, room_id: str, since: int) -> list[dict] | None:
        k = self._keys(room_id)
        with guard():
            current, oldest, packed = await self._events_since(
                keys=[k.seq, k.history], args=[since]
            )
        state = history.recovery(since, int(current), int(oldest) if oldest >= 0 else None)
        if state == "none":
            return []
        if state == "gap":
            return None
        return unpack_events(packed)

    async def replay(self, room_id: str, after: int, count: int) -> list[dict]:
        k = self._keys(room_id)
        with guard():
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.xrange(k.replay, min=f"({after}-0", count=count)
                pipe.smembers(k.deleted)
                rows, deleted = await pipe.execute()
        gone = {d.decode() for d in deleted}
        out = []
        for entry_id, fields in rows:
            event = event_message(entry_id.split(b"-")[0], fields[b"d"])
            if event.get("type") == "comment" and event.get("id") in gone:
                continue
            out.append(event)
        return out

    async def subscribe(self, room_id: str, sink: Sink) -> None:
        """Start delivering; if Redis is down this raises but the subscription stands."""
        k = self._keys(room_id)
        with guard():
            await self.subscriber.add(room_id, k.channel, sink, self.settings.redis_timeout_s)
            # where a catch-up after a lost connection starts if no event came before it
            self.subscriber.seen(k.channel, int(await self.client.get(k.seq) or 0))

    async def unsubscribe(self, room_id: str) -> None:
        await self.subscriber.remove(self._keys(room_id).channel)

    # comments ------------------------------------------------------------------------
    async def post_comment(
        self, room_id: str, uid: str, event: dict[str, Any], client_id: str | None
    ) -> CommentResult:
        return await self._comments.submit(room_id, _Comment(uid, event, client_id))

    async def _post_many(self, room_id: str, comments: list[_Comment]) -> list[CommentResult]:
        """One script call for a batch of the room's comments (liveroom/batching.py): each
        gets the answer it would get alone, and the accepted ones one pub/sub message."""
        s = self.settings
        k = self._keys(room_id)
        args: list[Any] = [
            k.channel,
            s.history_size,
            self._seq_floor(k),
            repr(float(s.comment_rate)),
            s.comment_burst,
            int(s.dedup_ttl_s * 1000),
            s.replay_max_events,
            s.replay_days * 86400,
        ]
        for c in comments:
            event_id = c.event.get("id")
            args += [
                c.uid,
                "" if c.client_id is None else dedup_suffix(c.uid, c.client_id),
                "1" if c.event.get("host") else "",
                _pack(c.event),
                str(c.event.get("type", "")),
                event_id if isinstance(event_id, str) else "",
                "1" if c.event.get("type") in REPLAY_TYPES else "",
            ]
        with guard():
            reply = await self._post_comments(
                keys=[
                    k.room,
                    k.seq,
                    k.history,
                    k.moderation,
                    k.buckets,
                    k.last_comment,
                    k.dedup_base,
                    k.replay,
                ],
                args=args,
            )
        out = []
        for c, outcome, value in zip(comments, reply[::2], reply[1::2], strict=True):
            out.append(self._comment_result(room_id, c.event, outcome.decode(), value))
        return out

    def _comment_result(
        self, room_id: str, event: dict[str, Any], outcome: str, value: Any
    ) -> CommentResult:
        if outcome == "ok":
            return CommentResult(event={**event, "seq": self._note_published(room_id, int(value))})
        if outcome == "dup":
            seq, _, payload = value.partition(b":")
            return CommentResult(event=event_message(seq, payload), duplicate=True)
        if outcome in ("muted", "slow_mode"):
            return CommentResult.refused(outcome, float(value))
        if outcome == "banned":
            return CommentResult.refused(outcome)
        return CommentResult.refused("rate_limited", 1.0 / self.settings.comment_rate)

    async def comment_deleted(self, room_id: str, comment_id: str) -> bool:
        with guard():
            added = await self.client.sadd(self._keys(room_id).deleted, comment_id)
        return added == 1

    async def moderation(self, room_id: str, uid: str) -> Moderation:
        return await self._moderations.submit(room_id, uid)

    async def _moderation_many(self, room_id: str, uids: list[str]) -> list[Moderation]:
        """Every joining viewer's moderation is read before its welcome: in a join storm
        the viewers of a room arriving together are read with one HMGET."""
        with guard():
            raws = await self.client.hmget(self._keys(room_id).moderation, uids)
        out = []
        for raw in raws:
            mod = float(raw) if raw is not None else 0.0
            out.append(Moderation(banned=mod == -1, muted_until=max(mod, 0.0)))
        return out

    async def publish_state(self, room_id: str, state: dict[str, Any]) -> None:
        with guard():
            await self.redis.publish(self._keys(room_id).channel, b"s" + _pack(state))

    async def send_personal(self, room_id: str, uid: str, frame: dict[str, Any]) -> None:
        with guard():
            await self.redis.publish(self._keys(room_id).channel, personal_message(uid, frame))

    async def publish_paced(
        self, room_id: str, name: str, event: dict[str, Any] | None, window_ms: int
    ) -> Paced:
        k = self._keys(room_id)
        wanted, replay_cap, replay_ttl = self._replay_args(event or {})
        with guard():
            seq, payload, pending, next_at = await self._publish_paced(
                keys=[k.room, k.seq, k.history, k.replay, k.pace(name)],
                args=[
                    k.channel,
                    self.settings.history_size,
                    b"" if event is None else _pack(event),
                    str((event or {}).get("type", name)),
                    self._seq_floor(k),
                    window_ms,
                    PACE_TTL_MS,
                    wanted,
                    replay_cap,
                    replay_ttl,
                ],
            )
        published = None
        if seq:
            published = event_message(self._note_published(room_id, int(seq)), payload)
        return Paced(published, int(pending), int(next_at))

    # likes and presence --------------------------------------------------------------
    async def add_likes(self, room_id: str, n: int) -> int:
        k = self._keys(room_id)
        with guard():
            return int(await self._add_likes(keys=[k.likes], args=[k.channel, n]))

    async def report_presence(self, room_id: str, local_count: int) -> int:
        s = self.settings
        with guard():
            total = await self._presence(
                keys=[self._keys(room_id).presence],
                args=[s.node_id, local_count, int(s.presence_ttl_s * 1000)],
            )
        return int(total)


@dataclass(frozen=True, slots=True)
class _Comment:
    uid: str
    event: dict[str, Any]
    client_id: str | None


def _flat(reply: Any) -> list[bytes]:
    """HGETALL as a flat list whatever the client's response callbacks made of it."""
    if isinstance(reply, dict):
        return [x for pair in reply.items() for x in pair]
    return list(reply)
