"""The Redis engine's subscriber: one pub/sub connection per process for all its rooms.

A reader task decodes each message and calls the room's sink synchronously, in the order
Redis delivered them (which, for events, is seq order: each is published by the script
that assigned its seq). When the connection drops (Redis restart, network, CLIENT KILL),
the reader reconnects with backoff, resubscribes every room, and before reading any new
message delivers what each room published meanwhile, read from the room history: viewers
on this process miss nothing that the history still holds.

Messages on a room channel:
- `e<seq>:<msgpack event without seq>` an event (the same bytes as in the history stream),
- `l<total>` the new like total,
- `s<msgpack dict>` latest-value state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import msgpack
from redis.asyncio.client import PubSub
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from liveroom.engine.base import Sink
from liveroom.errors import Unavailable
from liveroom.redis.client import Client
from liveroom.redis.guard import guard

log = logging.getLogger("liveroom.engine.redis")

Resume = Callable[[str, int], Awaitable[list[dict] | None]]


def event_message(seq: int | bytes, payload: bytes) -> dict[str, Any]:
    return {**msgpack.unpackb(payload, raw=False), "seq": int(seq)}


class Subscriber:
    """The process's one pub/sub connection; the engine adds and removes rooms."""

    backoff_s = (0.05, 2.0)  # first and longest wait between reconnect attempts

    def __init__(self, client: Client, home_channel: str, resume: Resume) -> None:
        """`home_channel` is subscribed from the start, so the connection exists even with
        no rooms; `resume(room_id, since)` returns what a room published after `since`
        (as engine.events_since does) once the connection is back."""
        self.client = client
        self._resume = resume
        self._rooms: dict[bytes, tuple[str, Sink]] = {}  # channel -> (room id, sink)
        self._last_seq: dict[bytes, int] = {}  # last event seq delivered per channel
        self._replayed: dict[bytes, int] = {}  # live events up to this seq came by catch-up
        self._confirming: dict[bytes, asyncio.Future[None]] = {}  # SUBSCRIBE sent, not yet on
        self._pubsub: PubSub | None = None
        self._task: asyncio.Task | None = None
        self._home = home_channel.encode()
        # set while subscribed and caught up; cleared while reconnecting
        self.connected = asyncio.Event()

    async def start(self) -> None:
        """Connect now, so a room subscribed right after start is live at once."""
        if self._pubsub is None:
            await self._connect()
            self.connected.set()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="redis-subscriber"
            )

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._drop()

    async def add(self, room_id: str, channel: str, sink: Sink, timeout: float) -> None:
        """Subscribe and return once Redis confirms, so every event published afterwards is
        delivered. While disconnected this raises, but the room is resubscribed on return."""
        key = channel.encode()
        self._rooms[key] = (room_id, sink)
        pubsub = self._pubsub
        if pubsub is None:
            raise RedisConnectionError("subscriber is reconnecting")
        confirmed = self._confirming.get(key)
        if confirmed is None:
            confirmed = self._confirming[key] = asyncio.get_running_loop().create_future()
            await pubsub.subscribe(key)
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
        if self._rooms.pop(key, None) is None:
            return
        pubsub = self._pubsub
        if pubsub is not None:
            with contextlib.suppress(Unavailable), guard():  # gone with the connection
                await pubsub.unsubscribe(key)

    # connection ----------------------------------------------------------------------
    async def _connect(self) -> None:
        pubsub = self.client.pubsub()
        try:
            subscribed: set[bytes] = set()
            wanted = {self._home, *self._rooms}
            while wanted - subscribed:  # rooms may be added while we subscribe
                batch = wanted - subscribed
                await pubsub.subscribe(*batch)
                subscribed |= batch
                wanted = {self._home, *self._rooms}
        except BaseException:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
            raise
        self._pubsub = pubsub

    async def _drop(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        self.connected.clear()
        confirming, self._confirming = self._confirming, {}
        for waiter in confirming.values():
            if not waiter.done():
                waiter.set_exception(RedisConnectionError("subscriber connection lost"))
            waiter.exception()  # retrieved, so an unawaited one does not log
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def _run(self) -> None:
        backoff = self.backoff_s[0]
        failures = 0
        while True:
            try:
                with guard():  # any outage, wherever it struck, leaves as Unavailable
                    if self._pubsub is None:
                        await self._reconnect(failures)
                        failures, backoff = 0, self.backoff_s[0]
                    message = await self._pubsub.get_message(timeout=1.0)  # type: ignore[union-attr]
                if message is None:
                    continue
                if message["type"] == "message":
                    self._dispatch(message["channel"], message["data"])
                elif message["type"] == "subscribe":
                    waiter = self._confirming.pop(message["channel"], None)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(None)
            except asyncio.CancelledError:
                raise
            except Unavailable as exc:
                failures += 1
                if failures == 1 or failures % 20 == 0:
                    log.warning("redis subscriber lost (%s); reconnecting", exc)
                await self._drop()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.backoff_s[1])
            except Exception:
                log.exception("redis subscriber: unexpected error; reconnecting")
                await self._drop()
                await asyncio.sleep(backoff)

    async def _reconnect(self, failures: int) -> None:
        await self._connect()
        # subscribed first, then read history: nothing falls between the two
        await self._recover()
        self.connected.set()
        log.warning(
            "redis subscriber back after %d failed attempts; %d rooms resubscribed",
            failures,
            len(self._rooms),
        )

    async def _recover(self) -> None:
        """Deliver what each room published while we were away, before any live message."""
        for channel, (room_id, _) in list(self._rooms.items()):
            last = self._last_seq.get(channel)
            if last is None:
                continue
            missed = await self._resume(room_id, last)
            if missed is None:
                log.warning(
                    "room %s: events after seq %d already left the history; "
                    "viewers on this process recover them by reconnecting",
                    room_id,
                    last,
                )
                continue
            for event in missed:
                self._deliver(channel, event)
            if missed:
                self._replayed[channel] = missed[-1]["seq"]

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
            elif kind == b"l":
                sink(room_id, "likes", int(data[1:]))
            elif kind == b"s":
                sink(room_id, "state", msgpack.unpackb(data[1:], raw=False))
        except Exception:
            log.exception("bad message or sink failure in room %s", room_id)
