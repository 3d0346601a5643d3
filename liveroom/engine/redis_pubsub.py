"""The Redis engine's subscriber: the process's pub/sub connections for all its rooms.

On one Redis that is one connection; on a Redis Cluster, one per master that owns the slot
of a room this process serves (a room's channel is a shard channel there: see
liveroom/redis/pubsub.py for which node and command), and none for the others. Each
connection (`_Link`) has a reader task that decodes each message and calls the room's
sink synchronously, in the order Redis delivered them (which, for events, is seq order:
each is published by the script that assigned its seq).

A room's channel can lose its connection: the connection drops (Redis restart, network,
CLIENT KILL, a master killed), or on a cluster the room's slot goes elsewhere (resharded
to another master, or a failover: the node then says `sunsubscribe`, or answers MOVED).
Either way the channel is subscribed again where it lives now (on a cluster, after
reading the slot map again), with backoff while nowhere answers, and the moment the new
subscription is confirmed, before any message after it is read, the room is caught up
from its history: every event published after the last one delivered here, read by seq.
So viewers on this process miss nothing the history still holds, and get it in order,
whatever happened to the connection or the slot.

Messages on a room channel:
- `e<seq>:<msgpack event without seq>` an event (the same bytes as in the history stream),
- `b<packed events>` several events of one script call (a batch of comments), in seq
  order, each a big-endian (seq u64, length u32) header and the event's msgpack without
  seq: the layout a history read returns (`unpack_events`), decoded once per process,
- `l<total>` the new like total,
- `s<msgpack dict>` latest-value state,
- `u<msgpack [uid, frame]>` a frame for one user's connections (engine.send_personal);
  not an event: a lost connection's catch-up does not bring it back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import msgpack
from redis import exceptions as rexc
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from liveroom.background import cancel_and_wait
from liveroom.engine.base import Personal, Sink
from liveroom.errors import Unavailable
from liveroom.redis.guard import guard
from liveroom.redis.pubsub import Address, Connection, Routes

log = logging.getLogger("liveroom.engine.redis")

Resume = Callable[[str, int], Awaitable[list[dict] | None]]

# Where a channel waits while no node could be asked where it lives (the cluster is
# unreachable): its link only finds the channel a home, it never connects.
NOWHERE: Address = ("", -1)


def event_message(seq: int | bytes, payload: bytes) -> dict[str, Any]:
    return {**msgpack.unpackb(payload, raw=False), "seq": int(seq)}


def personal_message(uid: str, frame: dict[str, Any]) -> bytes:
    return b"u" + msgpack.packb([uid, frame], use_bin_type=True)


_EVENT_HEADER = struct.Struct(">QI")  # seq, payload length: pack_event in lib_room.lua


def unpack_events(packed: bytes) -> list[dict[str, Any]]:
    """Events packed into one string by a script (a history read, a batch message)."""
    events = []
    offset = 0
    while offset < len(packed):
        seq, size = _EVENT_HEADER.unpack_from(packed, offset)
        offset += _EVENT_HEADER.size
        events.append(event_message(seq, packed[offset : offset + size]))
        offset += size
    return events


class Subscriber:
    """The process's pub/sub connections; the engine adds and removes rooms."""

    backoff_s = (0.05, 2.0)  # first and longest wait between reconnect attempts

    def __init__(self, routes: Routes, home_channel: str | None, resume: Resume) -> None:
        """`home_channel` (one Redis only) is subscribed from the start, so the connection
        exists even with no rooms; `resume(room_id, since)` returns what a room published
        after `since` (as engine.events_since does) once its subscription is back."""
        self.routes = routes
        self._resume = resume
        self._rooms: dict[bytes, tuple[str, Sink]] = {}  # channel -> (room id, sink)
        self._last_seq: dict[bytes, int] = {}  # last event seq delivered per channel
        self._replayed: dict[bytes, int] = {}  # live events up to this seq came by catch-up
        self._confirming: dict[bytes, asyncio.Future[None]] = {}  # asked for, not yet on
        self._links: dict[Address, _Link] = {}
        self._home = home_channel.encode() if home_channel else None
        # set while every connection is subscribed and caught up; cleared while one is not
        self.connected = asyncio.Event()
        self.connected.set()

    async def start(self) -> None:
        """Connect now (one Redis), so a room subscribed right after start is live at once."""
        if self._home is None:
            return
        link = self._link(await self.routes.owner(self._home))
        link.home = self._home
        await link.start()

    async def close(self) -> None:
        links, self._links = list(self._links.values()), {}
        for link in links:
            await link.close()
        for waiter in self._confirming.values():
            if not waiter.done():
                waiter.cancel()
        self._confirming.clear()

    async def add(self, room_id: str, channel: str, sink: Sink, timeout: float) -> None:
        """Subscribe and return once Redis confirms, so every event published afterwards is
        delivered. While Redis cannot be reached this raises, but the room stands: it is
        subscribed as soon as its node answers."""
        key = channel.encode()
        self._rooms[key] = (room_id, sink)
        confirmed = self._confirming.get(key)
        if confirmed is None:
            confirmed = self._confirming[key] = asyncio.get_running_loop().create_future()
        try:
            address = await self.routes.owner(key)
        except BaseException:
            self._place(key, NOWHERE)
            raise
        link = self._place(key, address)
        if link.failing:
            raise RedisConnectionError("subscriber is reconnecting")
        await link.subscribe(key)
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(confirmed)
        except TimeoutError:
            raise RedisTimeoutError("no subscribe confirmation from redis") from None

    def last_seq(self, channel: str) -> int:
        """The highest seq delivered (or known to be had) for the room, 0 if none."""
        return self._last_seq.get(channel.encode(), 0)

    def seen(self, channel: str, seq: int) -> None:
        """Events up to `seq` need no catch-up: the subscriber's owner has them already."""
        key = channel.encode()
        if key in self._rooms:
            self._last_seq[key] = max(self._last_seq.get(key, 0), seq)

    async def remove(self, channel: str) -> None:
        key = channel.encode()
        self._last_seq.pop(key, None)
        self._replayed.pop(key, None)
        waiter = self._confirming.pop(key, None)
        if waiter is not None and not waiter.done():
            waiter.cancel()
        if self._rooms.pop(key, None) is None:
            return
        for address, link in list(self._links.items()):
            if key in link.channels:
                await link.unsubscribe(key)
                if link.idle:
                    del self._links[address]
                    await link.close()

    # where channels live -------------------------------------------------------------
    def _link(self, address: Address) -> _Link:
        link = self._links.get(address)
        if link is None:
            link = self._links[address] = _Link(self, address)
        return link

    def _place(self, channel: bytes, address: Address) -> _Link:
        """Put a channel on the connection to `address` (it subscribes there when it can)."""
        for link in self._links.values():
            if link.address != address:
                link.channels.discard(channel)
        link = self._link(address)
        link.channels.add(channel)
        link.run()
        return link

    async def _rehome(self, channel: bytes, refresh: bool) -> None:
        """A channel its connection no longer carries: subscribe it where it lives now
        (or, while no node answers where that is, park it until one does)."""
        if channel not in self._rooms:
            return
        try:
            with guard():
                if refresh:
                    await self.routes.refresh()
                address = await self.routes.owner(channel)
        except Unavailable:
            self._place(channel, NOWHERE)
            return
        link = self._place(channel, address)
        if link.connection is not None and not link.failing:
            # if this fails, so does the link's reader, which subscribes it on reconnect
            with contextlib.suppress(Unavailable), guard():
                await link.subscribe(channel)

    def _link_ended(self, link: _Link) -> None:
        if self._links.get(link.address) is link:
            del self._links[link.address]
        self._changed()

    def _changed(self) -> None:
        if all(link.up for link in self._links.values()):
            self.connected.set()
        else:
            self.connected.clear()

    def _confirmed(self, channel: bytes) -> None:
        waiter = self._confirming.pop(channel, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _lost(self, channels: set[bytes]) -> None:
        """Subscriptions asked for on a connection that dropped: their callers are told."""
        for channel in channels:
            waiter = self._confirming.pop(channel, None)
            if waiter is not None and not waiter.done():
                waiter.set_exception(RedisConnectionError("subscriber connection lost"))
                waiter.exception()  # retrieved, so an unawaited one does not log

    async def _recover(self, channel: bytes) -> None:
        """Deliver what the room published while it had no subscription here, before any
        message of the new one."""
        target = self._rooms.get(channel)
        last = self._last_seq.get(channel)
        if target is None or last is None:
            return
        room_id, sink = target
        missed = await self._resume(room_id, last)
        if missed is None:
            log.warning(
                "room %s: events after seq %d already left the history; "
                "viewers on this process recover them by reconnecting",
                room_id,
                last,
            )
        else:
            for event in missed:
                self._deliver(channel, event)
            if missed:
                self._replayed[channel] = missed[-1]["seq"]
        try:
            sink(room_id, "resubscribed", None)
        except Exception:
            log.exception("sink failed for room %s", room_id)

    # delivery ------------------------------------------------------------------------
    def _deliver(self, channel: bytes, event: dict[str, Any]) -> None:
        target = self._rooms.get(channel)
        if target is None:
            return
        replayed = self._replayed.get(channel)
        if replayed is not None:
            if event["seq"] <= replayed:
                return  # already delivered by catch-up
            del self._replayed[channel]
        self._last_seq[channel] = max(self._last_seq.get(channel, 0), event["seq"])
        room_id, sink = target
        try:
            sink(room_id, "event", event)
        except Exception:
            log.exception("sink failed for room %s", room_id)

    def _dispatch(self, channel: bytes, data: bytes) -> None:
        target = self._rooms.get(channel)
        if target is None or not data:
            return
        room_id, sink = target
        kind = data[:1]
        try:
            if kind == b"e":
                seq, _, payload = data[1:].partition(b":")
                self._deliver(channel, event_message(seq, payload))
            elif kind == b"b":
                for event in unpack_events(memoryview(data)[1:]):
                    self._deliver(channel, event)
            elif kind == b"l":
                sink(room_id, "likes", int(data[1:]))
            elif kind == b"s":
                sink(room_id, "state", msgpack.unpackb(data[1:], raw=False))
            elif kind == b"u":
                uid, frame = msgpack.unpackb(data[1:], raw=False)
                sink(room_id, "personal", Personal(uid, frame))
        except Exception:
            log.exception("bad message or sink failure in room %s", room_id)


class _Link:
    """One pub/sub connection, to one node, for the channels that live there."""

    def __init__(self, owner: Subscriber, address: Address) -> None:
        self.owner = owner
        self.routes = owner.routes
        self.address = address
        self.channels: set[bytes] = set()  # the rooms' channels that live on this node
        self.home: bytes | None = None  # subscribed for the connection's sake (one Redis)
        self.connection: Connection | None = None
        self.failing = False  # lost, reconnecting with backoff
        self._sent: deque[bytes] = deque()  # subscribes sent, in order, not yet answered
        self._catching_up: set[bytes] = set()  # sent, to be caught up once confirmed
        self._task: asyncio.Task | None = None

    @property
    def up(self) -> bool:
        return self.connection is not None and not self._catching_up

    @property
    def idle(self) -> bool:
        return not self.channels and self.home is None

    async def start(self) -> None:
        """Connect now rather than on the reader's first turn."""
        if self.connection is None:
            with guard():
                await self._connect()
        self.run()

    def run(self) -> None:
        if self._task is None:
            name = f"redis-subscriber-{self.address[0]}:{self.address[1]}"
            self._task = asyncio.get_running_loop().create_task(self._run(), name=name)

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            await cancel_and_wait([task])
        await self._drop()

    async def subscribe(self, channel: bytes) -> None:
        """Subscribe now if connected (else the next connect does); once confirmed, the
        channel is caught up from its history if this process had it before."""
        if self.connection is None:
            return
        self._sent.append(channel)
        if channel in self.owner._last_seq:
            self._catching_up.add(channel)
            self.owner._changed()
        await self.routes.subscribe(self.connection, channel)

    async def unsubscribe(self, channel: bytes) -> None:
        self.channels.discard(channel)
        self._catching_up.discard(channel)
        if self.connection is not None:
            with contextlib.suppress(Unavailable), guard():  # gone with the connection
                await self.routes.unsubscribe(self.connection, channel)

    # the connection ------------------------------------------------------------------
    async def _connect(self) -> None:
        connection = self.routes.open(self.address)
        self.connection = connection
        try:
            if self.home is not None:
                self._sent.append(self.home)
                await self.routes.subscribe(connection, self.home)
            done: set[bytes] = set()
            while self.channels - done:  # rooms may be added while we subscribe
                for channel in sorted(self.channels - done):
                    await self.subscribe(channel)
                    done.add(channel)
        except BaseException:
            await self._drop()
            raise
        self.owner._changed()

    async def _drop(self) -> None:
        connection, self.connection = self.connection, None
        sent, self._sent = set(self._sent), deque()
        self._catching_up.clear()
        self.owner._lost(sent)
        self.owner._changed()
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.aclose()

    async def _relocate(self, refresh: bool) -> bool:
        """Before (re)connecting: move channels that live elsewhere now to their node (on a
        cluster; after reading the slot map again if the connection failed). False if
        nothing is left here."""
        if self.routes.sharded:
            if refresh:
                await self.routes.refresh()
            for channel in sorted(self.channels):
                address = await self.routes.owner(channel)
                if address != self.address:
                    self.channels.discard(channel)
                    await self.owner._rehome(channel, refresh=False)
        return not self.idle and self.address != NOWHERE

    async def _run(self) -> None:
        backoff = self.owner.backoff_s[0]
        failures = 0
        try:
            while True:
                try:
                    with guard():  # any outage, wherever it struck, leaves as Unavailable
                        if self.connection is None:
                            if not await self._relocate(refresh=failures > 0):
                                return
                            await self._connect()
                            if failures:
                                log.warning(
                                    "redis subscriber %s back after %d failed attempts; "
                                    "%d rooms resubscribed",
                                    _name(self.address),
                                    failures,
                                    len(self.channels),
                                )
                            failures, backoff, self.failing = 0, self.owner.backoff_s[0], False
                        message = await self.connection.pubsub.get_message(timeout=1.0)  # type: ignore[union-attr]
                        if message is not None:
                            await self._handle(message)
                        if self.idle and not self._sent:
                            return  # every room here moved away: no connection to keep
                except asyncio.CancelledError:
                    raise
                except rexc.AskError as exc:  # MOVED is one too
                    await self._refused(exc)
                except Unavailable as exc:
                    failures += 1
                    self.failing = True
                    if failures == 1 or failures % 20 == 0:
                        log.warning(
                            "redis subscriber %s lost (%s); reconnecting", _name(self.address), exc
                        )
                    await self._drop()
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, self.owner.backoff_s[1])
                except Exception:
                    log.exception("redis subscriber: unexpected error; reconnecting")
                    self.failing = True
                    await self._drop()
                    await asyncio.sleep(backoff)
        finally:
            if self._task is asyncio.current_task():
                self._task = None
                self.owner._link_ended(self)
                await self._drop()
                for channel in self.channels:  # placed here while it was ending
                    self.owner._place(channel, self.address)

    async def _handle(self, message: dict[str, Any]) -> None:
        kind, channel = message["type"], message["channel"]
        if kind in self.routes.message_types:
            self.owner._dispatch(channel, message["data"])
        elif kind in self.routes.subscribe_types:
            with contextlib.suppress(ValueError):
                self._sent.remove(channel)
            if channel in self._catching_up:
                # read before any later message of this connection: nothing in between
                await self.owner._recover(channel)
                self._catching_up.discard(channel)
                self.owner._changed()
            self.owner._confirmed(channel)
        elif kind == "sunsubscribe" and channel in self.channels:
            # the node let go of it: its slot moved, or this master became a replica
            self.channels.discard(channel)
            self._catching_up.discard(channel)
            await self.owner._rehome(channel, refresh=True)
            self.owner._changed()

    async def _refused(self, exc: rexc.AskError) -> None:
        """A subscribe this node refused (the answer to the oldest one sent): the slot is
        elsewhere (MOVED names where) or on its way there (ASK: ask again shortly)."""
        if not self._sent:
            log.warning(
                "redis subscriber %s: unexpected %r; reconnecting", _name(self.address), exc
            )
            await self._drop()
            return
        channel = self._sent.popleft()
        self._catching_up.discard(channel)
        if self.connection is not None:  # redis-py counts it as subscribed; it is not
            self.connection.pubsub.shard_channels.pop(channel, None)
        self.channels.discard(channel)
        if isinstance(exc, rexc.MovedError):
            with contextlib.suppress(Unavailable), guard():
                await self.routes.moved(exc)
        else:
            await asyncio.sleep(self.owner.backoff_s[0])
        await self.owner._rehome(channel, refresh=not isinstance(exc, rexc.MovedError))
        self.owner._changed()


def _name(address: Address) -> str:
    return f"{address[0]}:{address[1]}" if address[1] > 0 else "redis"
