"""Draws in this process, for the memory engine.

No method awaits in the middle of a change, so each is atomic on the one event loop,
which is the same guarantee each Redis Lua script gives across processes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from liveroom.draws.store import Draw, DrawStore, EnterResult, Joined, OpenView
from liveroom.rules import draw as rules
from liveroom.stream.events import encode
from liveroom.stream.memory import MemoryStream

WINS_KEPT = 5


class MemoryDrawStore(DrawStore):
    in_process = True

    def __init__(self, stream: MemoryStream | None = None) -> None:
        """`stream`: the room's commerce stream, where entries are recorded (None: not)."""
        self.stream = stream
        self._draws: dict[tuple[str, str], Draw] = {}
        self._entrants: dict[tuple[str, str], dict[str, str]] = {}
        self._seen: dict[tuple[str, str], int] = {}
        self._due: set[tuple[str, str]] = set()
        self._wins: dict[tuple[str, str], list[str]] = {}

    async def create(self, d: Draw) -> bool:
        key = (d.room_id, d.id)
        if key in self._draws:
            return False
        self._draws[key] = d
        self._entrants[key] = {}
        self._due.add(key)
        return True

    async def announced(self, room_id: str, draw_id: str) -> None:
        d = self._draws.get((room_id, draw_id))
        if d is not None:
            self._draws[(room_id, draw_id)] = replace(d, announced=True)

    async def get(self, room_id: str, draw_id: str) -> Draw | None:
        return self._draws.get((room_id, draw_id))

    async def open_draws(self, room_id: str) -> list[Draw]:
        return sorted(
            (d for (r, _), d in self._draws.items() if r == room_id and d.state == rules.OPEN),
            key=lambda d: d.id,
        )

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
        key = (room_id, draw_id)
        d = self._draws.get(key)
        if d is None:
            return EnterResult(code=rules.DRAW_NOT_FOUND, message="no such draw")
        entrants = self._entrants[key]
        refused = rules.entry_refusal(d.state, d.ends_at, now_ms)
        if refused:
            return EnterResult(len(entrants), code=refused[0], message=refused[1])
        if uid in entrants:
            return EnterResult(len(entrants), duplicate=True)
        entrants[uid] = nick
        if self.stream is not None:
            fields = {"draw_id": draw_id, "uid": uid, "src": src, "ref": ref, "ts": now_ms}
            self.stream.add(room_id, encode(room_id, "draw_entered", fields))
        return EnterResult(len(entrants))

    async def count(self, room_id: str, draw_id: str) -> int:
        return len(self._entrants.get((room_id, draw_id), ()))

    async def entrant_ids(self, room_id: str, draw_id: str) -> list[str]:
        return list(self._entrants.get((room_id, draw_id), {}))

    async def nicks(self, room_id: str, draw_id: str, uids: list[str]) -> dict[str, str]:
        known = self._entrants.get((room_id, draw_id), {})
        return {u: known[u] for u in uids if u in known}

    async def has_entered(self, room_id: str, draw_id: str, uid: str) -> bool:
        return uid in self._entrants.get((room_id, draw_id), {})

    async def record_wins(self, room_id: str, draw_id: str, uids: list[str]) -> None:
        for uid in uids:
            won = self._wins.setdefault((room_id, uid), [])
            if draw_id in won:
                won.remove(draw_id)
            won.insert(0, draw_id)
            del won[WINS_KEPT:]

    async def wins(self, room_id: str, uid: str) -> list[str]:
        return list(self._wins.get((room_id, uid), []))

    async def finish(self, room_id: str, draw_id: str, state: str, now_ms: int) -> Draw | None:
        d = self._draws.get((room_id, draw_id))
        if d is None or d.state != rules.OPEN:
            return None
        d = self._draws[(room_id, draw_id)] = d.with_state(state, now_ms)
        return d

    async def due(self, now_ms: int) -> list[tuple[str, str]]:
        return sorted(k for k in self._due if self._draws[k].ends_at <= now_ms)

    async def done(self, room_id: str, draw_id: str) -> None:
        self._due.discard((room_id, draw_id))

    async def mark_seen(self, room_id: str, uid: str, now_ms: int) -> int:
        return self._seen.setdefault((room_id, uid), now_ms)

    async def first_seen(self, room_id: str, uid: str) -> int | None:
        return self._seen.get((room_id, uid))

    async def joined(self, room_id: str, uids: Sequence[str | None], now_ms: int) -> list[Joined]:
        out = []
        for uid in uids:
            if uid is not None:
                await self.mark_seen(room_id, uid, now_ms)
            views = [
                OpenView(d, len(entrants), uid in entrants)
                for d in await self.open_draws(room_id)
                for entrants in [self._entrants[(room_id, d.id)]]
            ]
            won = [self._draws[(room_id, i)] for i in await self.wins(room_id, uid or "")]
            out.append(Joined(views, won))
        return out
