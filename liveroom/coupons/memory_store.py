"""Templates in this process: each method runs without awaiting mid-change, which makes it
atomic on the event loop as each Redis method is one command or script."""

from __future__ import annotations

from liveroom.coupons.store import Reservation, Stored, TemplateStore
from liveroom.rules.coupon import Template


class MemoryTemplateStore(TemplateStore):
    name = "memory"

    def __init__(self) -> None:
        self._templates: dict[str, Stored] = {}
        self._drops: dict[str, list[tuple[str, str]]] = {}
        self._given_back: set[tuple[str, str]] = set()  # (template, drop) ended drops
        self._reserved_for: set[tuple[str, str]] = set()  # (template, drop) that reserved

    async def put(self, template: Template) -> Stored | None:
        before = self._templates.get(template.template_id)
        reserved = before.reserved if before else 0
        if template.total < reserved:
            return None
        stored = self._templates[template.template_id] = Stored(template, reserved)
        return stored

    async def get(self, template_id: str) -> Stored | None:
        return self._templates.get(template_id)

    async def list(self) -> list[Stored]:
        return [self._templates[k] for k in sorted(self._templates)]

    async def reserve(self, template_id: str, count: int, drop: str = "") -> Reservation:
        stored = self._templates.get(template_id)
        if stored is None:
            return Reservation(False, 0, found=False)
        if drop and (template_id, drop) in self._reserved_for:
            return Reservation(True, stored.left, again=True)
        if count > stored.left:
            return Reservation(False, stored.left)
        after = self._templates[template_id] = Stored(stored.template, stored.reserved + count)
        if drop:
            self._reserved_for.add((template_id, drop))
        return Reservation(True, after.left)

    async def unreserve(self, template_id: str, count: int, drop: str = "") -> bool:
        if template_id not in self._templates:
            return False
        if drop:
            if (template_id, drop) not in self._reserved_for:
                return False
            self._reserved_for.discard((template_id, drop))
        self._give(template_id, count)
        return True

    async def release(self, template_id: str, count: int, once: str = "") -> bool:
        if template_id not in self._templates or (template_id, once) in self._given_back:
            return False
        if once:
            self._given_back.add((template_id, once))
        self._give(template_id, count)
        return True

    def _give(self, template_id: str, count: int) -> None:
        stored = self._templates[template_id]
        self._templates[template_id] = Stored(stored.template, max(stored.reserved - count, 0))

    async def add_drop(self, template_id: str, room_id: str, drop_id: str) -> None:
        drops = self._drops.setdefault(template_id, [])
        if (room_id, drop_id) not in drops:
            drops.append((room_id, drop_id))

    async def drops(self, template_id: str) -> list[tuple[str, str]]:
        return sorted(self._drops.get(template_id, []))
