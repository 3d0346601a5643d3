"""Where draws live: the record, its entrants, and the steps that must happen exactly once.

Two implementations (memory, Redis) behind one interface; the contract suite in
tests/draws runs against both. The decisions (who may enter, who wins) are in
`liveroom.rules.draw`; a store only keeps state and makes each step atomic.
"""

from __future__ import annotations

import json
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from liveroom.rules import draw as rules


def new_draw_id() -> str:
    # time-ordered prefix sorts draws in logs; the random tail keeps ids unguessable
    return f"{int(time.time() * 1000):x}{secrets.token_hex(3)}"


# Lucky bags (福袋): a prize each winner receives at the close, through the drop machinery.
COUPON_PRIZE = "coupon"  # a coupon of `template_id`, from a hidden drop
PRODUCT_PRIZE = "product"  # a unit of `sku`, as a free hold from a hidden sale
PRIZE_KINDS = (COUPON_PRIZE, PRODUCT_PRIZE)


@dataclass(frozen=True)
class Prize:
    title: str
    image: str = ""
    # Mini-program page where a winner claims the prize; the claim ticket is added to it.
    claim_path: str = ""
    # a lucky bag's prize: COUPON_PRIZE with `template_id`, PRODUCT_PRIZE with `sku`; ""
    # for a prize the merchant hands over itself (claim ticket only)
    kind: str = ""
    template_id: str = ""
    sku: str = ""

    def public(self) -> dict[str, Any]:
        """As the room and the record show it: a plain prize keeps its three fields."""
        return {k: v for k, v in asdict(self).items() if v or k in ("title", "image", "claim_path")}


def bag_id(draw_id: str) -> str:
    """The hidden drop or sale holding a lucky bag's prizes: derived from the draw, so a
    retried start or close finds the same one."""
    return f"lb-{draw_id}"


@dataclass(frozen=True)
class Draw:
    id: str
    room_id: str
    prize: Prize
    winners_count: int
    created_at: int  # unix ms
    ends_at: int  # unix ms: entries stop here and the draw closes itself
    mode: str  # rules.BUTTON or rules.PHRASE
    seed: str  # secret until the draw leaves OPEN
    commitment: str
    phrase: str = ""
    eligibility: rules.Eligibility = field(default_factory=rules.Eligibility)
    by: str = ""  # the host who started it
    state: str = rules.OPEN
    closed_at: int = 0
    # the room was told of the start (draw_started): a start sent again after an outage
    # tells it if the first try could not
    announced: bool = True

    @property
    def finished(self) -> bool:
        return self.state != rules.OPEN

    def announcement(self) -> dict[str, Any]:
        """What the room sees while the draw is open: never the seed."""
        out: dict[str, Any] = {
            "draw_id": self.id,
            "prize": self.prize.public(),
            "winners_count": self.winners_count,
            "ends_at": self.ends_at,
            "commitment": self.commitment,
            "mode": self.mode,
            "eligibility": self.eligibility.public(),
            "state": self.state,
        }
        if self.mode == rules.PHRASE:
            out["phrase"] = self.phrase
        return out

    # One flat JSON document for the fields that never change, so both stores keep the
    # same shape and the Redis Lua scripts only ever look at `state` and `ends_at`.
    def to_record(self) -> str:
        rec = asdict(self)
        for moving in ("state", "closed_at", "announced"):
            rec.pop(moving)
        return json.dumps(rec, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_record(cls, record: str, state: str, closed_at: int, announced: bool = True) -> Draw:
        rec = json.loads(record)
        rec["prize"] = Prize(**rec["prize"])
        elig = rec["eligibility"]
        rec["eligibility"] = rules.Eligibility(
            elig["members_only"], tuple(elig["tiers"]), elig["min_watch_s"]
        )
        return cls(**rec, state=state, closed_at=closed_at, announced=announced)

    def with_state(self, state: str, closed_at: int) -> Draw:
        return replace(self, state=state, closed_at=closed_at)


@dataclass(frozen=True)
class EnterResult:
    """`code` empty when entered (or already in: `duplicate`); `entrants` is the count."""

    entrants: int = 0
    duplicate: bool = False
    code: str = ""
    message: str = ""


@dataclass(frozen=True)
class DrawResult:
    """A finished draw with everything a verifier needs."""

    draw: Draw
    entrants: list[str]  # sorted, unique
    winners: list[dict[str, str]]  # [{uid, nick}] in draw order


@dataclass(frozen=True)
class OpenView:
    draw: Draw
    entrants: int
    entered: bool


@dataclass(frozen=True)
class Joined:
    """What a joining viewer needs, read in as few round trips as the store can."""

    open: list[OpenView]
    won: list[Draw]  # draws the viewer won lately, newest first


class DrawStore(ABC):
    # in this process (the memory engine): batching its calls saves no round trip
    # (liveroom/batching.py, `immediate`)
    in_process = False

    @abstractmethod
    async def create(self, d: Draw) -> bool:
        """Store a new open draw and schedule it for closing at `ends_at`, in one step
        with the test that its id is new: False (nothing changed) when a draw with this id
        exists, so a start the host sends again with the id it named starts one draw."""

    @abstractmethod
    async def announced(self, room_id: str, draw_id: str) -> None:
        """The room was told of the draw's start: a draw is stored unannounced (`create`
        with `announced` False) until this."""

    @abstractmethod
    async def get(self, room_id: str, draw_id: str) -> Draw | None: ...

    @abstractmethod
    async def open_draws(self, room_id: str) -> list[Draw]: ...

    @abstractmethod
    async def enter(
        self,
        room_id: str,
        draw_id: str,
        uid: str,
        nick: str,
        now_ms: int,
        src: str = "",
        ref: str = "",
    ) -> EnterResult:
        """Add uid if the draw is open and not past its end, in one atomic step; a new
        entry is recorded in the room's commerce stream (`draw_entered`, with the entrant's
        channel `src` and share code `ref`) in the same step, when the store has one."""

    @abstractmethod
    async def count(self, room_id: str, draw_id: str) -> int: ...

    @abstractmethod
    async def entrant_ids(self, room_id: str, draw_id: str) -> list[str]:
        """Everyone who entered, in no particular order."""

    @abstractmethod
    async def nicks(self, room_id: str, draw_id: str, uids: list[str]) -> dict[str, str]:
        """The nick each of these entrants had when entering."""

    @abstractmethod
    async def has_entered(self, room_id: str, draw_id: str, uid: str) -> bool: ...

    @abstractmethod
    async def record_wins(self, room_id: str, draw_id: str, uids: list[str]) -> None:
        """Remember who won, so a winner who was offline at the close still gets a ticket."""

    @abstractmethod
    async def wins(self, room_id: str, uid: str) -> list[str]:
        """Ids of the draws in the room uid won lately, newest first."""

    @abstractmethod
    async def finish(self, room_id: str, draw_id: str, state: str, now_ms: int) -> Draw | None:
        """Move an OPEN draw to `state` (closed or cancelled). Exactly one caller, across
        every process, gets the finished draw back; everyone else gets None."""

    @abstractmethod
    async def due(self, now_ms: int) -> list[tuple[str, str]]:
        """(room_id, draw_id) of draws past their end and not yet `done`, in any room: the
        open ones must be closed, the finished ones announced (their closer died)."""

    @abstractmethod
    async def done(self, room_id: str, draw_id: str) -> None:
        """The draw's outcome has been announced; sweepers may forget it."""

    @abstractmethod
    async def mark_seen(self, room_id: str, uid: str, now_ms: int) -> int:
        """Remember when uid first joined the room (kept if already set); return it."""

    @abstractmethod
    async def first_seen(self, room_id: str, uid: str) -> int | None: ...

    @abstractmethod
    async def joined(self, room_id: str, uids: Sequence[str | None], now_ms: int) -> list[Joined]:
        """Viewers join (the ones of a room arriving together, batched: one or two round
        trips for the lot): for each, start their watch clock (`mark_seen`, unless the uid
        is None, an anonymous viewer or a host), and read the open draws (with counts and
        whether the uid entered) and the uid's recent wins."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        pass

    async def result(self, room_id: str, draw_id: str) -> DrawResult | None:
        """The finished draw recomputed from its seed and entrants (None while open)."""
        d = await self.get(room_id, draw_id)
        if d is None or not d.finished:
            return None
        uids = rules.sorted_entrants(await self.entrant_ids(room_id, draw_id))
        if d.state != rules.CLOSED:
            return DrawResult(d, uids, [])
        picked = rules.pick_winners(d.seed, uids, d.winners_count)
        nicks = await self.nicks(room_id, draw_id, picked) if picked else {}
        return DrawResult(d, uids, [{"uid": u, "nick": nicks.get(u, "")} for u in picked])
