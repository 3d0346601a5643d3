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

from liveroom.errors import Refusal
from liveroom.tokens import Identity

if TYPE_CHECKING:
    from liveroom.hub import RoomChannel
    from liveroom.rules.sale import Hold, Sale
    from liveroom.session import Session

# A room event as the engine stores and the hub fans it out: type, ts, seq and its fields.
Event = dict[str, Any]
# A frame to a client (welcome, tick, ack, a personal frame) before it is encoded.
Frame = dict[str, Any]
# A commerce event as the room's stream holds it, decoded (liveroom/stream/events.py):
# `type`, `room_id`, `ts` and the type's fields, numbers as ints and structures as objects.
CommerceEvent = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Arrival:
    """Who joins, attributed (liveroom/rules/attribution.py): `ident.ref` and `ident.src`
    are the viewer's first touch in this show, which every event of the visit carries."""

    ident: Identity
    # this join is the viewer's first touch in the show (a new viewer of the show)
    first: bool = False
    # a share code or channel given with the join and not honoured, and why
    ignored: Refusal | None = None


@dataclass(frozen=True, slots=True, eq=False, weakref_slot=True)
class Join:
    """A client being welcomed into a room: one occurrence (compared by identity), which a
    feature may key what it read for the welcome on while the join lasts (weakly, as
    SalesService.units_at_join does)."""

    room_id: str
    ident: Identity
    # True when the client came back with `since` (the same visit, not a new arrival)
    resumed: bool
    # the viewer's first touch in the show (see Arrival); never true for a resumed join
    first: bool = False
    # a share code or channel given with the join and not honoured, and why
    ignored: Refusal | None = None


class RoomEventHandler(Protocol):
    """What the hub hands every room event to (the node, which passes it to each feature)."""

    def on_room_event(self, channel: RoomChannel, event: Event) -> None: ...

    def on_resubscribed(self, room_id: str) -> None: ...


class CommerceListener(Protocol):
    """Told of every commerce event this process records (liveroom/stream: `append`, and
    `recorded` for the events the sale and draw scripts write themselves), after it is in
    the stream. It runs on the recording path (a grab, a payment): it must not block and
    must not raise."""

    def on_commerce_event(self, room_id: str, event: CommerceEvent) -> None: ...


class PaymentListener(Protocol):
    """Told of every payment the merchant backend confirms (a hold newly paid, never a
    duplicate confirmation), on the process that confirmed it, after the store recorded
    it. The payment stands whatever the listener does: it must not raise. `prize`: the
    hold is a lucky bag's prize (a hidden sale), checked out free: no purchase to show."""

    async def on_paid(self, hold: Hold, title: str, *, prize: bool = False) -> None: ...


class SaleEndListener(Protocol):
    """Told of a sale or drop that ended, on the process that ended it (the host's stop,
    the end of the show, or the sweep that found its end time passed), with its counters
    as they stand after the end; told again when a stop is sent again, and by a later full
    sweep of any process when it raised or its process died before every listener was
    told, so it must be idempotent. The end stands whatever it does."""

    async def on_sale_ended(self, sale: Sale) -> None: ...


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

    def on_enter(self, session: Session) -> None:
        """A client was welcomed: its session begins (watch time starts here)."""

    def on_leave(self, session: Session) -> None:
        """The session of a welcomed client ended, however it ended. Exactly one per
        on_enter, so presence kept between the two never outlives the connection."""

    def on_like(self, session: Session, n: int) -> None:
        """A viewer's batch of `n` like taps was accepted (the hub counts the room total)."""

    def on_product_click(self, session: Session, sku: str) -> None:
        """A client clicked a product card (the sale store counts it per sku)."""

    def on_room_event(self, channel: RoomChannel, event: Event) -> None:
        """Every room event reaching this process, in seq order, from any process.

        Runs inside the hub's delivery path: it must not block, and any I/O it needs goes
        into a task of its own."""

    def on_resubscribed(self, room_id: str) -> None:
        """This process's subscription to the room came back after a gap (Redis restarted,
        a cluster slot moved): the missed events were replayed, but latest-value state
        (stock, counts) published meanwhile was lost. A feature that publishes such state
        publishes it again soon; it must not block."""

    def routes(self) -> list[BaseRoute]:
        """HTTP routes the feature serves (merchant API, public records, pages)."""
        return []
