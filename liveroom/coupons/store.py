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
    # the drop had reserved already (a create sent again): nothing more was taken, and the
    # reservation is the one the drop, if it exists, holds
    again: bool = False


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
    async def reserve(self, template_id: str, count: int, drop: str = "") -> Reservation:
        """Take `count` of the template's total for a drop, all or nothing, atomically.
        With `drop` ("<room>/<drop>"), at most once for it: a create sent again after an
        outage that hid whether the first try reserved takes nothing more (`again`)."""

    @abstractmethod
    async def unreserve(self, template_id: str, count: int, drop: str = "") -> bool:
        """Give back the reservation of a drop that was never created (refused), and with
        `drop` forget that it reserved, so a later create of it reserves again; False
        when `drop` had no reservation (or there is no such template)."""

    @abstractmethod
    async def release(self, template_id: str, count: int, once: str = "") -> bool:
        """Give back the coupons an ended drop did not give out. With `once` (the drop),
        at most once for it, however many processes or retries end the drop; False when
        it was given back before (or there is no such template)."""

    @abstractmethod
    async def add_drop(self, template_id: str, room_id: str, drop_id: str) -> None:
        """Remember a drop of the template (its issued and redeemed counts add up)."""

    @abstractmethod
    async def drops(self, template_id: str) -> list[tuple[str, str]]:
        """(room id, drop id) of every drop of the template."""
