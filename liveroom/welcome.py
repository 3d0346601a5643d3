"""The room reads behind a welcome, shared by the viewers who join together.

When a WeCom reminder says "we are live", or a process dies and its viewers come back to
this one with `since`, thousands of viewers join one room within seconds, and every
welcome needs the same snapshot (room, seq, likes, viewers, recent comments) and, for the
ones coming back, the events after their `since`. Read once per viewer that is a Redis
script call and the decoding of dozens of comments each; here the joins of a room that
reach this process together share one read (a batch, liveroom/batching.py), and the
viewers coming back with the same `since` (most of them: they got the same last tick) share
one history read.

Sharing keeps each welcome exact: a viewer is in the room's channel (collecting live ticks
in its backlog) before it asks, and a batch's reads start only after every viewer in it
has asked, so the snapshot is never older than any of its viewers' backlogs, just as when
each read alone (the hub drops from the backlog what the snapshot already holds).
"""

from __future__ import annotations

from dataclasses import dataclass

from liveroom.batching import RoomBatcher
from liveroom.engine.base import Engine, Snapshot


@dataclass(frozen=True, slots=True)
class WelcomeReads:
    """What one joining viewer's welcome is built from. `missed`: for a viewer that came
    back with `since`, the events after it up to the snapshot's seq, or None when the
    history no longer holds them all; for a new arrival, None."""

    snapshot: Snapshot
    missed: list[dict] | None


class Welcomes:
    def __init__(self, engine: Engine, recent_comments: int) -> None:
        self.engine = engine
        self.recent = recent_comments
        # one read on its way per room at a time: the viewers asking meanwhile share the next
        self._batches: RoomBatcher[int | None, WelcomeReads] = RoomBatcher(
            self._read, max_batch=10_000, max_in_flight=1
        )

    async def read(self, room_id: str, since: int | None) -> WelcomeReads:
        """The snapshot (and what was missed after `since`) for a viewer already in the
        room's channel."""
        return await self._batches.submit(room_id, since)

    async def _read(self, room_id: str, sinces: list[int | None]) -> list[WelcomeReads]:
        snap = await self.engine.snapshot(room_id, self.recent)
        missed: dict[int, list[dict] | None] = {}
        for since in sinces:
            if since is not None and since not in missed:
                events = await self.engine.events_since(room_id, since)
                missed[since] = (
                    None if events is None else [e for e in events if e["seq"] <= snap.seq]
                )
        return [WelcomeReads(snap, None if s is None else missed[s]) for s in sinces]

    async def close(self) -> None:
        await self._batches.close()
