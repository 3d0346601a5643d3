"""The room's commerce event stream: the interface both backends implement."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from liveroom.stream.events import decode
from liveroom.types import CommerceListener

log = logging.getLogger("liveroom.stream")

# About this many of a room's latest events are kept, on both backends (Redis trims with
# MAXLEN ~, so a little more may stay); the sale scripts get it with each call.
MAXLEN = 100_000


class CommerceStream(ABC):
    name = "stream"
    # in this process (the memory engine): batching its calls saves no round trip
    # (liveroom/batching.py, `immediate`)
    in_process = False
    maxlen: int  # about this many of a room's latest events are kept
    # who hears of each event this process records (the analytics folds), in order
    listeners: tuple[CommerceListener, ...] = ()

    def listen(self, listener: CommerceListener) -> None:
        self.listeners = (*self.listeners, listener)

    def recorded(self, room_id: str, event_type: str, fields: Mapping[str, Any]) -> None:
        """Tell the listeners of an event written to the stream already, by a script or a
        store in the same step as the change it records (a hold, a payment, a draw entry):
        the caller knows it happened once. `append` tells them by itself. `fields` are of
        their declared kinds (they were written so), which is what a reader gets back: no
        encoding round trip on a grab's path."""
        if self.listeners:
            self._notify(room_id, {"type": event_type, "room_id": room_id, **fields})

    def _tell(self, room_id: str, entry: Mapping[str, str]) -> None:
        event = decode("", entry)  # exactly what a reader of the stream gets back
        del event["id"]
        self._notify(room_id, event)

    def _notify(self, room_id: str, event: dict[str, Any]) -> None:
        for listener in self.listeners:
            try:
                listener.on_commerce_event(room_id, event)
            except Exception:  # a listener's bug must not fail the grab or the payment
                log.exception("commerce listener failed on %s", event.get("type"))

    async def append(self, room_id: str, event_type: str, fields: Mapping[str, Any]) -> str:
        """Add an event to the room's stream; `ts` defaults to now. Returns the event id.
        Raises ValueError for what would not read back as written (see events.encode)."""
        return (await self.append_many(room_id, [(event_type, fields)]))[0]

    @abstractmethod
    async def append_many(
        self, room_id: str, events: Sequence[tuple[str, Mapping[str, Any]]]
    ) -> list[str]:
        """Several events of a room in one write, in order (the joins of a storm, batched
        per room): their ids. Raises ValueError, and writes none, when one would not read
        back as written."""

    @abstractmethod
    async def read(self, room_id: str, after: str = "0-0", count: int = 100) -> list[dict]:
        """Events after the id `after`, oldest first, each with its `id`: page on with the
        last id read."""

    async def scan(
        self, room_id: str, after: str = "0-0", page: int = 1000
    ) -> AsyncIterator[dict[str, Any]]:
        """Every event after `after`, oldest first, read a page at a time: what a feature
        folds over to rebuild its figures from the stream."""
        while events := await self.read(room_id, after, page):
            for event in events:
                yield event
            after = events[-1]["id"]
