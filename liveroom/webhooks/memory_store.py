"""Webhook delivery state in this process: one process is all the memory engine has, so
the lease only keeps the dispatcher's own rounds from overlapping; each method runs
without awaiting mid-change."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from liveroom.webhooks.store import START, Delivery, WebhookStore


@dataclass
class _Delivery:
    cursor: str = START
    owner: str = ""
    until: int = 0
    failures: int = 0
    error: str = ""


class MemoryWebhookStore(WebhookStore):
    def __init__(self) -> None:
        self._rooms: set[str] = set()
        self._deliveries: dict[str, _Delivery] = {}

    async def mark(self, room_ids: Sequence[str]) -> None:
        self._rooms.update(room_ids)

    async def rooms(self) -> list[str]:
        return sorted(self._rooms)

    async def forget(self, room_id: str) -> None:
        self._rooms.discard(room_id)

    async def take(self, room_id: str, owner: str, now_ms: int, until_ms: int) -> str | None:
        d = self._deliveries.get(room_id)
        if d is None:
            d = self._deliveries[room_id] = _Delivery()
        if d.owner and d.owner != owner and d.until > now_ms:
            return None
        d.owner, d.until = owner, until_ms
        return d.cursor

    async def advance(self, room_id: str, owner: str, cursor: str, until_ms: int) -> bool:
        d = self._deliveries.get(room_id)
        if d is None or d.owner != owner:
            return False
        d.cursor, d.until, d.failures, d.error = cursor, until_ms, 0, ""
        return True

    async def failed(self, room_id: str, owner: str, until_ms: int, error: str) -> int:
        d = self._deliveries.get(room_id)
        if d is None or d.owner != owner:
            return 0
        d.until, d.error, d.failures = until_ms, error, d.failures + 1
        return d.failures

    async def status(self, room_ids: Sequence[str]) -> list[Delivery]:
        out = []
        for room_id in room_ids:
            d = self._deliveries.get(room_id) or _Delivery()
            out.append(Delivery(room_id, d.cursor, d.failures, d.error, d.until))
        return out

    async def hold(self, room_id: str, owner: str, until_ms: int) -> bool:
        d = self._deliveries.get(room_id)
        if d is None or d.owner != owner:
            return False
        d.until = until_ms
        return True
