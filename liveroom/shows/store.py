"""Where shows, their subscribers and series live: the interface both engines implement.

The lifecycle moves by compare-and-set (`transition`): two hosts pressing "go live" on two
processes make one show go live once. The merchant's settings are one record beside it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from liveroom.rules import show as rules
from liveroom.shows.model import Series, Show

NO_SHOW = "-"  # the stores' word for "no show record yet" (rules say "")


@dataclass(frozen=True)
class Subscriber:
    uid: str
    ts: int
    nick: str = ""
    tier: str = ""
    src: str = ""


class ShowStore(ABC):
    async def close(self) -> None:  # noqa: B027 - optional hook
        pass

    @abstractmethod
    async def get(self, room_id: str) -> Show | None: ...

    @abstractmethod
    async def transition(
        self, room_id: str, target: str, now: int, show: Show | None = None
    ) -> tuple[Show, str]:
        """Move the show to `target` if rules.TRANSITIONS allows it from where it is,
        storing `show`'s settings with it (None: keep them; a show created by this call
        gets defaults). Returns (the show now, the status it had: "" for none); raises
        rules.ShowError when the move is not allowed."""

    @abstractmethod
    async def put_settings(self, show: Show) -> None:
        """Replace the show's settings (its status stays); a room with no show gets one
        with no status yet (live by default, as rooms are)."""

    @abstractmethod
    async def subscribe(self, room_id: str, sub: Subscriber) -> bool:
        """Record a viewer's "remind me"; False when they had already."""

    @abstractmethod
    async def is_subscribed(self, room_id: str, uid: str) -> bool: ...

    @abstractmethod
    async def subscribers(
        self, room_id: str, offset: int, count: int
    ) -> tuple[list[Subscriber], int]:
        """A page of subscribers in the order they subscribed, and how many there are."""

    # series ------------------------------------------------------------------------------
    @abstractmethod
    async def put_series(self, series: Series) -> None: ...

    @abstractmethod
    async def get_series(self, series_id: str) -> Series | None: ...

    @abstractmethod
    async def list_series(self) -> list[Series]: ...

    @abstractmethod
    async def delete_series(self, series_id: str) -> bool: ...

    @abstractmethod
    async def add_episode(self, series_id: str, room_id: str, starts_at: int) -> None: ...

    @abstractmethod
    async def episodes(self, series_id: str) -> list[tuple[str, int]]:
        """(room id, starts_at) of the series' episodes, in start order."""


def refused(current: str, target: str) -> rules.ShowError:
    try:
        rules.check_transition(current, target)
    except rules.ShowError as err:
        return err
    raise AssertionError(f"{current!r} -> {target!r} is allowed")


def subscriber_info(sub: Subscriber) -> dict[str, Any]:
    return {"ts": sub.ts, "nick": sub.nick, "tier": sub.tier, "src": sub.src}
