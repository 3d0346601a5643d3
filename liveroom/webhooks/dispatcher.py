"""Merchant webhooks: every commerce event of every room (the room's stream: joins, holds,
payments, draws, coupons, notices...) POSTed to the merchant's URL, so the brand's backend
hears of an order the moment it is paid without reading Redis or polling each room.

Delivery is at least once, in each room's stream order: one process at a time delivers a
room (a lease in the store); it reads the room's stream after the room's cursor, posts up
to `webhook_batch` events in one signed call, and moves the cursor only when the merchant
answered 2xx. A call that fails is retried, the room waiting longer each time (the other
rooms go on); a process that dies mid-call leaves the room to another once its lease
runs out, which sends that batch again: the receiver drops events whose `id` it has seen.

Which rooms to visit: each process marks the rooms it recorded events in (it hears of
every event it records, as the analytics folds do), and a room is forgotten once delivered
to its stream's end, then read once more, so an event recorded meanwhile is never left.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
from starlette.routing import BaseRoute

from liveroom.background import cancel_and_wait, every
from liveroom.errors import Unavailable
from liveroom.merchant.auth import signed_headers
from liveroom.metrics import METRICS
from liveroom.rules.jobs import backoff_ms
from liveroom.rules.webhooks import wanted_types
from liveroom.settings import Settings
from liveroom.stream.base import CommerceStream
from liveroom.types import CommerceEvent, Feature
from liveroom.webhooks.routes import webhook_routes
from liveroom.webhooks.store import WebhookStore

log = logging.getLogger("liveroom.webhooks")

BATCHES_PER_ROUND = 10  # then the next room: one room's backlog does not hold the others
MAX_ROOMS_AT_ONCE = 8  # rooms delivered concurrently by one process
STATUS_COUNT_UP_TO = 1000  # the status call counts a room's undelivered events this far


def now_ms() -> int:
    return int(time.time() * 1000)


class WebhookDispatcher(Feature):
    def __init__(self, settings: Settings, stream: CommerceStream, store: WebhookStore) -> None:
        self.settings = settings
        self.stream = stream
        self.store = store
        self.url = settings.webhook_url
        parts = urlsplit(self.url)
        self._path = parts.path + (f"?{parts.query}" if parts.query else "")
        # for logs and the status call: never the path or query, nor a user:password
        host = parts.netloc.rsplit("@", 1)[-1]
        self._where = f"{parts.scheme}://{host}" if self.url else ""
        self._types = wanted_types(settings.webhook_types)
        self._owner = secrets.token_hex(8)
        # renewed with each batch delivered: covers one call and the reads around it; a
        # process that died holding it delays its rooms this long at most
        self._lease_ms = int((2 * settings.webhook_timeout_s + 1) * 1000)
        self._marked: set[str] = set()  # rooms this process recorded events in since
        self._not_before: dict[str, float] = {}  # room -> monotonic time of its next try
        self._gate = asyncio.Semaphore(MAX_ROOMS_AT_ONCE)
        self._http: httpx.AsyncClient | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.url)

    # seams -------------------------------------------------------------------------------
    def on_commerce_event(self, room_id: str, event: CommerceEvent) -> None:
        self._marked.add(room_id)

    def routes(self) -> list[BaseRoute]:
        return webhook_routes()

    async def start(self) -> None:
        if not self.enabled:
            return
        self._http = httpx.AsyncClient(timeout=self.settings.webhook_timeout_s)
        self._task = asyncio.get_running_loop().create_task(
            every(self.settings.webhook_poll_s, self.round), name="webhooks"
        )

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task])
        if self._http is not None:
            await self._http.aclose()

    async def status(self) -> dict[str, Any]:
        """What the merchant's status call shows: the endpoint (scheme and host only: its
        path or query may hold a secret), and each room with events still to deliver."""
        rooms = await self.store.rooms() if self.enabled else []
        out = []
        for d in await self.store.status(rooms):
            behind = len(await self.stream.read(d.room_id, d.cursor, STATUS_COUNT_UP_TO))
            retry_at = d.until if d.failures else 0
            out.append(
                {"room_id": d.room_id, "cursor": d.cursor, "behind": behind,
                 "failures": d.failures, "error": d.error, "retry_at": retry_at}
            )  # fmt: skip
        types = sorted(self._types)
        return {"enabled": self.enabled, "endpoint": self._where, "types": types, "rooms": out}

    # delivery ----------------------------------------------------------------------------
    async def round(self) -> None:
        """Mark what this process recorded, then deliver every room that has events."""
        if self._marked:
            marked, self._marked = self._marked, set()
            try:
                await self.store.mark(sorted(marked))
            except Exception:
                self._marked |= marked  # marked next round
                raise
        due = [
            r for r in await self.store.rooms() if self._not_before.get(r, 0) <= time.monotonic()
        ]
        await asyncio.gather(*(self._room(room_id) for room_id in due))

    async def _room(self, room_id: str) -> None:
        async with self._gate:
            try:
                await self.deliver(room_id)
            except Unavailable as exc:  # the store: the room is visited again next round
                log.warning("webhook delivery of room %s: store unavailable (%s)", room_id, exc)
            except Exception:
                log.exception("webhook delivery of room %s failed", room_id)

    async def deliver(self, room_id: str) -> None:
        """Deliver the room's events after its cursor, if no other process is at it."""
        cursor = await self.store.take(room_id, self._owner, now_ms(), now_ms() + self._lease_ms)
        if cursor is None:
            # another process delivers it: look again once its lease could have run out, so
            # each room costs about one call a round (its holder's), not one per process
            self._not_before[room_id] = time.monotonic() + self._lease_ms / 1000
            return
        for _ in range(BATCHES_PER_ROUND):
            events = await self.stream.read(room_id, cursor, self.settings.webhook_batch)
            if not events:
                await self._done(room_id, cursor)
                return
            wanted = [e for e in events if e["type"] in self._types] if self._types else events
            error = await self._post(room_id, wanted) if wanted else ""
            if error:
                METRICS.webhook_failures += 1
                await self._failed(room_id, error)
                return
            METRICS.webhook_events += len(wanted)
            self._not_before.pop(room_id, None)
            cursor = events[-1]["id"]
            if not await self.store.advance(
                room_id, self._owner, cursor, now_ms() + self._lease_ms
            ):
                return  # another process took over: it goes on from the stored cursor
        await self.store.hold(room_id, self._owner, now_ms())  # more next round

    async def _done(self, room_id: str, cursor: str) -> None:
        await self.store.forget(room_id)
        if await self.stream.read(room_id, cursor, 1):  # recorded since the read
            await self.store.mark([room_id])
        await self.store.hold(room_id, self._owner, now_ms())

    async def _failed(self, room_id: str, error: str) -> None:
        # counted in the store: whichever process tries next backs off from the same count
        failures = await self.store.failed(room_id, self._owner, now_ms() + self._lease_ms, error)
        if not failures:
            return  # another process took over meanwhile
        wait = backoff_ms(
            failures,
            int(self.settings.webhook_retry_base_s * 1000),
            int(self.settings.webhook_retry_cap_s * 1000),
        )
        self._not_before[room_id] = time.monotonic() + wait / 1000
        # nobody else tries before then either
        await self.store.hold(room_id, self._owner, now_ms() + wait)
        log.warning(
            "webhook %s: room %s not delivered (%s), attempt %d; next in %.1fs",
            self._where,
            room_id,
            error,
            failures,
            wait / 1000,
        )

    async def _post(self, room_id: str, events: list[dict[str, Any]]) -> str:
        """POST one batch; "" when the merchant took it (2xx), else what went wrong."""
        assert self._http is not None
        body = json.dumps(
            {"room_id": room_id, "events": events}, separators=(",", ":"), ensure_ascii=False
        ).encode()
        headers = signed_headers(self.settings.merchant_key, "POST", self._path, body)
        headers["Content-Type"] = "application/json"
        try:
            resp = await self._http.post(self.url, content=body, headers=headers)
        except (httpx.HTTPError, OSError) as exc:
            return type(exc).__name__
        return "" if 200 <= resp.status_code < 300 else f"HTTP {resp.status_code}"
