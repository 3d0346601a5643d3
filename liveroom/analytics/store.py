"""The analytics store: share codes, first touches, a room's figures, viewer profiles.

Two implementations (`memory_store`, `redis_store`) behind this interface, held to one
contract suite (tests/analytics/test_store_contract.py). What counts and how is decided in
liveroom/rules (attribution, segments); a store keeps the numbers and makes each step
atomic where it must be: a first touch is set once across every process, and a room's
figures change together with the `activity` record that explains them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from liveroom.rules import segments as seg
from liveroom.rules.attribution import FIG, Delta, Figures, ShareCode, Touch
from liveroom.rules.segments import Profile, ProfileDelta, Thresholds
from liveroom.stream.base import CommerceStream

SEEN, SPEND = "seen", "spend"  # the profile indexes (rules.segments.scan_for)


@dataclass(frozen=True, slots=True)
class TouchAsk:
    """A joining viewer's touch. `keep` False: a viewer coming back with `since` (the same
    visit) is attributed to the first touch kept, or else this one, and nothing is kept."""

    uid: str
    touch: Touch
    keep: bool = True


class AnalyticsStore(ABC):
    name = "store"
    # in this process (the memory engine): batching its calls saves no round trip
    # (liveroom/batching.py, `immediate`)
    in_process = False
    # the room's commerce stream, where `apply` records activity in the same step
    stream: CommerceStream

    async def close(self) -> None:  # noqa: B027 - optional hook
        pass

    # share codes ------------------------------------------------------------------------
    @abstractmethod
    async def add_code(self, code: ShareCode) -> bool:
        """Keep a new code; False (nothing changed) when the room has that code already."""

    @abstractmethod
    async def code(self, room_id: str, code: str) -> ShareCode | None: ...

    @abstractmethod
    async def codes(self, room_id: str) -> list[ShareCode]:
        """The room's codes, oldest first."""

    # first touches --------------------------------------------------------------------
    @abstractmethod
    async def touches(
        self, room_id: str, asks: Sequence[TouchAsk], ttl_s: int
    ) -> list[tuple[Touch, bool]]:
        """For each ask, in order: keep its touch as the viewer's first in the room unless
        one is kept already (one atomic step across processes; `keep` False only reads),
        and answer the viewer's first touch and whether it is this one. The joins of a
        room that arrive together ask together: one round trip for a join storm's batch."""

    # figures ----------------------------------------------------------------------------
    @abstractmethod
    async def apply(
        self, room_id: str, delta: Delta, activity: Mapping[str, Any] | None = None
    ) -> None:
        """Change the room's figures by `delta`, and append `activity` (the fields of an
        activity event, when given) to the room's commerce stream, in one atomic step."""

    @abstractmethod
    async def figures(self, room_id: str, tables: Sequence[str] = (FIG,)) -> Figures: ...

    @abstractmethod
    async def replace(self, room_id: str, figures: Figures) -> None:
        """Put `figures` in place of the room's (a rebuild applied)."""

    @abstractmethod
    async def known(self, room_id: str) -> bool:
        """Has the room any figures or share codes at all."""

    # viewer profiles --------------------------------------------------------------------
    @abstractmethod
    async def add_profiles(self, deltas: Mapping[str, ProfileDelta]) -> None:
        """Add each delta to its viewer's profile and indexes (last seen, spend)."""

    @abstractmethod
    async def profiles(self, uids: Sequence[str]) -> list[Profile | None]: ...

    @abstractmethod
    async def index_range(
        self, index: str, lo: int | None, hi: int | None, offset: int, count: int
    ) -> list[str]:
        """Uids of an index (SEEN or SPEND) with lo <= score <= hi (None: open), highest
        score first (ties by uid, descending), `count` of them from `offset`."""

    async def profile(self, uid: str) -> Profile | None:
        [found] = await self.profiles([uid])
        return found

    async def segment_page(
        self, segment: str, th: Thresholds, now: int, offset: int, count: int
    ) -> tuple[list[Profile], int | None]:
        """Up to `count` members of a segment, from `offset` in its index (rules.segments
        scan_for), and the offset to go on from (None: the end). Segments needing the show
        count are filtered here, so one page may scan further than `count`."""
        index, lo, hi = seg.scan_for(segment, now, th)
        found: list[Profile] = []
        while len(found) < count:
            uids = await self.index_range(index, lo, hi, offset, count)
            for i, profile in enumerate(await self.profiles(uids)):
                if profile is not None and seg.in_segment(profile, segment, now, th):
                    found.append(profile)
                    if len(found) == count:
                        return found, offset + i + 1
            offset += len(uids)
            if len(uids) < count:
                return found, None
        return found, offset
