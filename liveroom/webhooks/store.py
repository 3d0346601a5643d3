"""Where merchant-webhook delivery keeps its state: which rooms may have events to deliver,
and for each room how far delivery got and which process is at it (a lease), so that any
number of processes deliver each room's events once, in the stream's order.

Two implementations (memory, Redis) behind one interface; the contract suite in
tests/webhooks runs against both.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

START = "0-0"  # the cursor of a room nothing was delivered of yet


@dataclass(frozen=True)
class Delivery:
    """How a room's delivery stands, for the merchant's status call."""

    room_id: str
    cursor: str = START
    failures: int = 0  # failed calls in a row since the last one taken
    error: str = ""  # what the last failed call got
    until: int = 0  # unix ms: the lease's end (with failures: when it is tried again)


class WebhookStore(ABC):
    async def close(self) -> None:  # noqa: B027 - optional hook
        pass

    @abstractmethod
    async def mark(self, room_ids: Sequence[str]) -> None:
        """These rooms recorded events since: they are visited until delivered."""

    @abstractmethod
    async def rooms(self) -> list[str]:
        """The rooms marked and not forgotten since."""

    @abstractmethod
    async def forget(self, room_id: str) -> None:
        """Delivered to its stream's end: not visited until marked again (the caller reads
        the stream once more after this, and marks it again if an event came meanwhile)."""

    @abstractmethod
    async def take(self, room_id: str, owner: str, now_ms: int, until_ms: int) -> str | None:
        """The room's delivery, for `owner` until `until_ms`, if no other owner holds it
        (or its lease ran out): the cursor to deliver after. None: another process
        delivers it."""

    @abstractmethod
    async def advance(self, room_id: str, owner: str, cursor: str, until_ms: int) -> bool:
        """Delivered up to `cursor` (a stream id); the lease runs on to `until_ms`. False
        (nothing changed) when the lease is no longer `owner`'s: another process took
        over, and redelivers from the cursor it finds."""

    @abstractmethod
    async def failed(self, room_id: str, owner: str, until_ms: int, error: str) -> int:
        """A call failed with `error`: counted (the count goes back to 0 when the cursor
        next advances), the lease running to `until_ms`. The failed calls in a row, or 0
        when the lease is not `owner`'s."""

    @abstractmethod
    async def status(self, room_ids: Sequence[str]) -> list[Delivery]:
        """How each room's delivery stands (a room never delivered: from START)."""

    @abstractmethod
    async def hold(self, room_id: str, owner: str, until_ms: int) -> bool:
        """Keep the lease until `until_ms` and nobody else before: a release when it is
        now, a backoff when it is the retry time. False when it is not `owner`'s."""
