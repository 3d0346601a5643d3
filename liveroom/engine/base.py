"""The engine interface: room state, events, comments, moderation, likes, presence.

Two implementations sit behind it: `memory` (one process, no setup) and `redis` (many
processes and hosts). One contract suite (tests/contract) runs against both. Anything
that is a decision rather than storage lives in `liveroom.rules` and is shared.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from liveroom.settings import Settings

# Called for everything published in a subscribed room, on every process:
# kind "event" with the event dict (it has a seq), kind "likes" with the new total,
# kind "state" with a dict of latest values (stock, draw entrant counts) that replace older ones,
# kind "personal" with a `Personal`: a frame for one user's connections only,
# kind "resubscribed" with None: the subscription came back after a gap (Redis restarted,
# a slot moved) and the missed events were replayed; latest-value state ("likes", "state")
# published meanwhile is not in the history and was lost, so its owners publish it again.
Sink = Callable[[str, str, Any], None]

LIVE = "live"
ENDED = "ended"
CANCELLED = "cancelled"  # a scheduled show called off (liveroom/shows); over, like ENDED

# Room fields a host or the merchant API may set.
# `replay`: a show is live and its room events are kept for the replay (liveroom/shows).
# `social_proof`: how purchases are shown to the room (liveroom/rules/social_proof.py).
ROOM_FIELDS = (
    "title",
    "status",
    "allow_anonymous",
    "keywords",
    "slow_mode",
    "pinned",
    "replay",
    "social_proof",
)


@dataclass
class Room:
    id: str
    title: str = ""
    status: str = LIVE
    allow_anonymous: bool = True
    keywords: list[str] = field(default_factory=list)
    slow_mode: int = 0
    pinned: str | None = None
    replay: bool = False
    social_proof: str = "masked"

    def public(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("keywords")
        out.pop("replay")
        return out


@dataclass
class Snapshot:
    room: Room
    seq: int
    likes: int
    viewers: int
    comments: list[dict]


@dataclass
class CommentResult:
    """`event` is the accepted comment (also for a retried client id); else `code`."""

    event: dict | None = None
    code: str = ""
    message: str = ""
    retry_after: float = 0.0
    duplicate: bool = False

    @classmethod
    def refused(cls, code: str, retry_after: float = 0.0) -> CommentResult:
        """A refusal with the one wording clients see, whichever engine decided it."""
        return cls(code=code, message=REFUSALS[code], retry_after=round(retry_after, 3))


REFUSALS = {
    "banned": "you are banned from this room",
    "muted": "you are muted",
    "slow_mode": "slow mode is on",
    "rate_limited": "too many comments",
}


@dataclass(frozen=True, slots=True)
class Personal:
    """A frame addressed to one user in a room (an order paid, a coupon claimed by
    comment): every process hands it to that user's connections in the room it serves,
    once each. It is not a room event: no seq, not kept in history, so a connection that
    is not there when it is sent never gets it."""

    uid: str
    frame: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Paced:
    """What `Engine.publish_paced` did: the announcement it published (with its seq), if
    the room's slot was open; how many items wait for the next slot, and when that opens
    (unix ms, by the engine's clock)."""

    event: dict[str, Any] | None
    pending: int
    next_at: int


@dataclass(frozen=True)
class Moderation:
    banned: bool = False
    muted_until: float = 0.0  # unix seconds

    def muted(self, now: float) -> bool:
        return self.muted_until > now


def now_ms() -> int:
    return int(time.time() * 1000)


class Engine(ABC):
    name: str = "engine"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def start(self) -> None:  # noqa: B027 - optional hook
        pass

    async def close(self) -> None:  # noqa: B027 - optional hook
        pass

    # rooms ---------------------------------------------------------------------------
    @abstractmethod
    async def room(self, room_id: str) -> Room:
        """The room's settings; a room never configured gets defaults (rooms are implicit)."""

    @abstractmethod
    async def snapshot(self, room_id: str, recent: int) -> Snapshot:
        """Room, seq, likes, viewers and recent comments, read at one instant."""

    # events --------------------------------------------------------------------------
    @abstractmethod
    async def publish(
        self,
        room_id: str,
        event: dict[str, Any],
        *,
        room_changes: dict[str, Any] | None = None,
        moderation: tuple[str, float | None] | None = None,
    ) -> dict[str, Any]:
        """Give the event the room's next seq, keep it in history and fan it out.

        `room_changes` (room fields) and `moderation` ((uid, until): -1 ban, 0 clear,
        else muted until that unix time) are applied in the same atomic step, so no
        process ever sees the event without the state change or the other way round.
        """

    @abstractmethod
    async def events_since(self, room_id: str, since: int) -> list[dict] | None:
        """Events with seq > since, oldest first; None when history no longer holds them."""

    @abstractmethod
    async def replay(self, room_id: str, after: int, count: int) -> list[dict]:
        """A show's kept events (rules.show.REPLAY_TYPES, recorded while the room's `replay`
        field is set) with seq > after, oldest first, without comments deleted since."""

    @abstractmethod
    async def subscribe(self, room_id: str, sink: Sink) -> None:
        """Deliver the room's events and like totals to `sink` until unsubscribed."""

    @abstractmethod
    async def unsubscribe(self, room_id: str) -> None: ...

    # comments ------------------------------------------------------------------------
    @abstractmethod
    async def post_comment(
        self, room_id: str, uid: str, event: dict[str, Any], client_id: str | None
    ) -> CommentResult:
        """Check ban, mute, slow mode, rate and duplicate id; publish if all pass."""

    @abstractmethod
    async def comment_deleted(self, room_id: str, comment_id: str) -> bool:
        """Mark a comment deleted; False if it was already."""

    @abstractmethod
    async def moderation(self, room_id: str, uid: str) -> Moderation: ...

    @abstractmethod
    async def publish_state(self, room_id: str, state: dict[str, Any]) -> None:
        """Fan out latest-value state (no seq, not kept in history) to every process."""

    @abstractmethod
    async def send_personal(self, room_id: str, uid: str, frame: dict[str, Any]) -> None:
        """Hand `frame` to every connection `uid` has in the room, on every process that
        serves the room (sink kind "personal"); at most once each (see `Personal`). Calls
        one after another arrive in that order, after the events published before them
        (calls at once may arrive in any order)."""

    @abstractmethod
    async def publish_paced(
        self, room_id: str, name: str, event: dict[str, Any] | None, window_ms: int
    ) -> Paced:
        """A room announcement at most once per `window_ms` across processes, coalescing
        the rest (rules.social_proof.take_slot): `event` (None: add nothing, only publish
        what waits if the slot is open) becomes the newest of the items waiting under
        `name`; if the slot is open the newest is published as a room event, with
        `others` = how many more items it stands for, and the count starts again. One
        atomic step: no item is counted twice or lost between processes."""

    # likes and presence --------------------------------------------------------------
    @abstractmethod
    async def add_likes(self, room_id: str, n: int) -> int:
        """Add n taps, tell every process the new total, return it."""

    @abstractmethod
    async def report_presence(self, room_id: str, local_count: int) -> int:
        """Record this process's viewer count; return the count summed over live processes."""


def new_event(event_type: str, **fields: Any) -> dict[str, Any]:
    return {"type": event_type, "ts": now_ms(), **fields}


EngineFactory = Callable[[Settings], Awaitable[Engine]]
