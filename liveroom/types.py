"""The seams features plug into, named once, as Starlette's types.py names its interfaces.

A feature (flash sales, lucky draws, and whatever comes next) is one object built once per
process by `liveroom.node.build`, in dependency order, and handed what it needs in its
constructor. It takes part in a room's life only through the callbacks of `Feature`; the
node calls them in build order. Each is a no-op unless the feature overrides it, so a
feature shows by what it overrides which moments of the room it cares about.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from starlette.routing import BaseRoute

from liveroom.tokens import Identity

if TYPE_CHECKING:
    from liveroom.hub import RoomChannel
    from liveroom.session import Session

# A room event as the engine stores and the hub fans it out: type, ts, seq and its fields.
Event = dict[str, Any]
# A frame to a client (welcome, tick, ack, a personal frame) before it is encoded.
Frame = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Join:
    """A client being welcomed into a room."""

    room_id: str
    ident: Identity
    # True when the client came back with `since` (the same visit, not a new arrival)
    resumed: bool


class RoomEventHandler(Protocol):
    """What the hub hands every room event to (the node, which passes it to each feature)."""

    def on_room_event(self, channel: RoomChannel, event: Event) -> None: ...


class Feature:
    """Base of every feature; override the moments the feature takes part in."""

    async def start(self) -> None:
        """Start background work (sweepers, timers); the engine is started already."""

    async def stop(self) -> None:
        """Stop background work and close what the feature opened, before the engine."""

    async def on_join(self, join: Join, welcome: Frame) -> None:
        """Add this feature's part of the room to a joining client's welcome frame.

        Every join waits on this, so it should cost at most a pipelined read."""

    async def on_comment(self, session: Session, event: Event) -> None:
        """A comment the room accepted (never a retried duplicate), after its ack."""

    def on_room_event(self, channel: RoomChannel, event: Event) -> None:
        """Every room event reaching this process, in seq order, from any process.

        Runs inside the hub's delivery path: it must not block, and any I/O it needs goes
        into a task of its own."""

    def routes(self) -> list[BaseRoute]:
        """HTTP routes the feature serves (merchant API, public records, pages)."""
        return []
