"""The coupon template store: templates, and how many coupons drops reserved of each.

A template is merchant-level (like a product): every room drops from it. Its `total` is
reserved atomically, a drop's count at a time, when a drop is created: a drop beyond what
the template has left is refused (`template_exhausted`), whichever process or room asks.
The drops and their coupons live in the sale store (a drop is a sale of kind `coupon`).
One contract suite (tests/coupons/test_template_store_contract.py) runs both stores.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from liveroom.rules.coupon import Template


@dataclass(frozen=True)
class Stored:
    """A template with what drops reserved of its total so far."""

    template: Template
    reserved: int

    @property
    def left(self) -> int:
        return max(self.template.total - self.reserved, 0)


@dataclass(frozen=True)
class Reservation:
    """A reservation's answer: `ok`, and what the template has left after it (or had)."""

    ok: bool
    left: int
    found: bool = True


class TemplateStore(ABC):
    name = "templates"

    async def close(self) -> None:  # noqa: B027 - optional hook
        pass

    @abstractmethod
    async def put(self, template: Template) -> Stored | None:
        """Create or replace; None (and no change) when the new total is below what drops
        reserved already."""

    @abstractmethod
    async def get(self, template_id: str) -> Stored | None: ...

    @abstractmethod
    async def list(self) -> list[Stored]:
        """Every template, by id."""

    @abstractmethod
    async def reserve(self, template_id: str, count: int) -> Reservation:
        """Take `count` of the template's total for a drop, all or nothing, atomically."""

    @abstractmethod
    async def release(self, template_id: str, count: int, once: str = "") -> bool:
        """Give `count` back to the template's total: a reservation whose drop was never
        created, or the coupons an ended drop did not give out. With `once` (the drop),
        at most once for it, however many processes or retries end the drop; False when
        it was given back before (or there is no such template)."""

    @abstractmethod
    async def add_drop(self, template_id: str, room_id: str, drop_id: str) -> None:
        """Remember a drop of the template (its issued and redeemed counts add up)."""

    @abstractmethod
    async def drops(self, template_id: str) -> list[tuple[str, str]]:
        """(room id, drop id) of every drop of the template."""
