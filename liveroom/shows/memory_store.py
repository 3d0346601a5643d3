"""Shows in this process, for the memory engine (each step runs without awaiting)."""

from __future__ import annotations

from dataclasses import replace

from liveroom.rules import show as rules
from liveroom.shows.model import Series, Show
from liveroom.shows.store import ShowStore, Subscriber, refused


class MemoryShowStore(ShowStore):
    def __init__(self) -> None:
        self._shows: dict[str, Show] = {}
        self._subs: dict[str, dict[str, Subscriber]] = {}
        self._series: dict[str, Series] = {}
        self._episodes: dict[str, dict[str, int]] = {}

    async def get(self, room_id: str) -> Show | None:
        return self._shows.get(room_id)

    async def transition(
        self, room_id: str, target: str, now: int, show: Show | None = None
    ) -> tuple[Show, str]:
        current = self._shows.get(room_id)
        was = current.status if current is not None else ""
        if was not in rules.TRANSITIONS[target]:
            raise refused(was, target)
        base = show or current or Show(room_id)
        moved = replace(base, status=target)
        if current is not None:
            moved = replace(moved, started_at=current.started_at, ended_at=current.ended_at)
        if target == rules.LIVE:
            moved = replace(moved, started_at=now)
        elif target in rules.OVER:
            moved = replace(moved, ended_at=now)
        self._shows[room_id] = moved
        return moved, was

    async def put_settings(self, show: Show) -> None:
        current = self._shows.get(show.room_id)
        if current is None:
            self._shows[show.room_id] = replace(show, status="", started_at=0, ended_at=0)
            return
        self._shows[show.room_id] = replace(
            show, status=current.status, started_at=current.started_at, ended_at=current.ended_at
        )

    async def subscribe(self, room_id: str, sub: Subscriber) -> bool:
        subs = self._subs.setdefault(room_id, {})
        if sub.uid in subs:
            return False
        subs[sub.uid] = sub
        return True

    async def is_subscribed(self, room_id: str, uid: str) -> bool:
        return uid in self._subs.get(room_id, {})

    async def subscribers(
        self, room_id: str, offset: int, count: int
    ) -> tuple[list[Subscriber], int]:
        subs = list(self._subs.get(room_id, {}).values())
        return subs[offset : offset + count], len(subs)

    async def put_series(self, series: Series) -> None:
        self._series[series.series_id] = series

    async def get_series(self, series_id: str) -> Series | None:
        return self._series.get(series_id)

    async def list_series(self) -> list[Series]:
        return [self._series[k] for k in sorted(self._series)]

    async def delete_series(self, series_id: str) -> bool:
        return self._series.pop(series_id, None) is not None

    async def add_episode(self, series_id: str, room_id: str, starts_at: int) -> None:
        self._episodes.setdefault(series_id, {}).setdefault(room_id, starts_at)

    async def episodes(self, series_id: str) -> list[tuple[str, int]]:
        eps = self._episodes.get(series_id, {})
        return sorted(eps.items(), key=lambda kv: (kv[1], kv[0]))
