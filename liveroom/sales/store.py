"""The sale store interface: products, the room's shopping bag, sales, holds.

Two implementations: `memory_store` (one process) and `redis_store` (one Lua script per
state change). Decisions live in `liveroom.rules.sale`; a store only keeps state and makes
each operation atomic. One contract suite (tests/sales/test_store_contract.py) runs both.

Every sale and hold change is recorded in the room's commerce event stream
(liveroom/stream) in the same atomic step as the change: `store.stream` is that stream.
"""

from __future__ import annotations

import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from liveroom.rules.sale import (
    CheckoutOutcome,
    GrabOutcome,
    Hold,
    Product,
    Sale,
    SaleConfig,
    SweepResult,
)
from liveroom.stream.base import CommerceStream


@dataclass(frozen=True)
class GrabRequest:
    sale_id: str
    uid: str
    tier: str
    qty: int
    request_id: str
    src: str = ""
    ref: str = ""  # the buyer's share code (first touch in the show)
    nick: str = ""  # the buyer's nick, kept on the hold (the room's social proof shows it)


def now_ms() -> int:
    return int(time.time() * 1000)


def new_id(kind: str) -> str:
    return f"{kind}_{secrets.token_hex(8)}"


class SaleStore(ABC):
    name = "store"
    # in this process (the memory engine): batching its calls saves no round trip
    # (liveroom/batching.py, `immediate`)
    in_process = False
    # The room's commerce event stream, where this store records sale and hold events.
    stream: CommerceStream

    async def start(self) -> None:  # noqa: B027 - optional hook
        pass

    async def close(self) -> None:  # noqa: B027 - optional hook
        pass

    # products and the shopping bag ---------------------------------------------------------
    @abstractmethod
    async def put_product(self, product: Product) -> None: ...

    @abstractmethod
    async def get_product(self, sku: str) -> Product | None: ...

    @abstractmethod
    async def list_products(self) -> list[Product]: ...

    @abstractmethod
    async def delete_product(self, sku: str) -> bool: ...

    @abstractmethod
    async def pin(self, room_id: str, sku: str) -> list[str]:
        """Add to the room's shopping bag (idempotent); return the bag in pin order."""

    @abstractmethod
    async def unpin(self, room_id: str, sku: str) -> list[str]: ...

    @abstractmethod
    async def bag(self, room_id: str) -> list[str]: ...

    @abstractmethod
    async def count_click(self, room_id: str, sku: str) -> int: ...

    @abstractmethod
    async def clicks(self, room_id: str) -> dict[str, int]: ...

    # sales ---------------------------------------------------------------------------------
    @abstractmethod
    async def create_sale(self, cfg: SaleConfig) -> Sale:
        """Store the sale with all its stock available; emit sale_created (and sale_started
        when it starts at once)."""

    @abstractmethod
    async def get_sale(self, room_id: str, sale_id: str) -> Sale | None: ...

    @abstractmethod
    async def list_sales(self, room_id: str) -> list[Sale]: ...

    @abstractmethod
    async def end_sale(self, room_id: str, sale_id: str, now: int) -> Sale | None:
        """Stop new grabs (holds may still be paid); sale_ended is emitted once."""

    @abstractmethod
    async def grab(
        self,
        room_id: str,
        sale_id: str,
        uid: str,
        tier: str,
        qty: int,
        request_id: str,
        now: int,
        src: str = "",
        ref: str = "",
        nick: str = "",
    ) -> GrabOutcome:
        """Reserve `qty` units as one atomic decision; the same (uid, request id) gets the
        same answer for as long as the answer is kept (at least the hold's lifetime)."""

    async def grab_many(
        self, room_id: str, requests: list[GrabRequest], now: int
    ) -> list[GrabOutcome]:
        """The same grabs in order, answered exactly as one by one; a store may do them in
        one round trip (the Redis store runs them in one script)."""
        return [
            await self.grab(
                room_id, r.sale_id, r.uid, r.tier, r.qty, r.request_id, now, r.src, r.ref, r.nick
            )
            for r in requests
        ]

    @abstractmethod
    async def get_hold(self, room_id: str, hold_id: str) -> Hold | None:
        """A hold, or a coupon of a drop (by its coupon id)."""

    @abstractmethod
    async def units_of(self, room_id: str, uids: Sequence[str]) -> list[list[Hold]]:
        """For each uid, every hold and coupon they took in the room (grabs, claims, lucky
        bags' prizes) as it stands now, oldest first: what a viewer coming back sees of
        their own. The viewers of a room joining together ask at once (a batch)."""

    @abstractmethod
    async def confirm(self, room_id: str, hold_id: str, order_id: str, now: int) -> CheckoutOutcome:
        """Mark the hold paid by `order_id`; the same order again is a duplicate, not a sale.
        For a coupon: redeem it by `order_id` (rules.coupon.redeem_decision)."""

    @abstractmethod
    async def cancel(self, room_id: str, hold_id: str, now: int) -> CheckoutOutcome:
        """End an unpaid hold; its stock returns once."""

    @abstractmethod
    async def sweep(
        self, room_id: str, now: int, limit: int = 200, check_idle: bool = False
    ) -> SweepResult:
        """Expire due holds (stock returns exactly once, whichever process sweeps first) and
        emit due sale_started / sale_ended events; with `check_idle`, list the ends still
        to be told and say whether the room has nothing left for a sweep
        (rules.sale.room_idle), decided in the same step."""

    @abstractmethod
    async def rooms_with_sales(self) -> list[str]:
        """The rooms the full sweep visits: every room with a sale, until `forget_room`."""

    @abstractmethod
    async def forget_room(self, room_id: str) -> None:
        """Leave an idle room out of `rooms_with_sales` (a new sale puts it back)."""

    @abstractmethod
    async def remember_room(self, room_id: str) -> None:
        """Put a room back among `rooms_with_sales`."""

    @abstractmethod
    async def told_end(self, room_id: str, sale_id: str) -> None:
        """Every end listener has handled the sale's end. (The store marks each end, in
        the same step as the end itself, as still to be told; a full sweep lists them.)"""

    # inspection (invariant checks, the merchant API) ----------------------------------------
    @abstractmethod
    async def takens(self, room_id: str, sale_id: str) -> dict[str, int]:
        """Units held or sold per user."""

    @abstractmethod
    async def holds(self, room_id: str, sale_id: str) -> list[Hold]: ...

    async def shop(self, room_id: str) -> tuple[list[Product], list[Sale]]:
        """The pinned products (pin order) and the room's sales, for a joining viewer: every
        join reads this, so a store may answer it in fewer round trips."""
        products = [await self.get_product(sku) for sku in await self.bag(room_id)]
        return [p for p in products if p is not None], await self.list_sales(room_id)

    async def expire_due(self, now: int) -> SweepResult:
        """One sweep over every room that has sales."""
        total = SweepResult()
        for room_id in await self.rooms_with_sales():
            while True:
                result = await self.sweep(room_id, now)
                total.expired += result.expired
                total.started += result.started
                total.ended += result.ended
                if len(result.expired) < 200:
                    break
        return total
