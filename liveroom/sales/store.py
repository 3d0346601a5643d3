"""The sale store interface: products, the room's shopping bag, sales, holds, events.

Two implementations: `memory_store` (one process) and `redis_store` (one Lua script per
state change). Decisions live in `liveroom.rules.sale`; a store only keeps state and makes
each operation atomic. One contract suite (tests/sales/test_store_contract.py) runs both.

The store also keeps the room's commerce event stream, the one durable record of a room's
business (sales and holds, draw results, where joining viewers came from) that a merchant
backend consumes. Sale and hold events are written in the same atomic step as the change
they record; other features add theirs with `append_event`.
"""

from __future__ import annotations

import json
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from liveroom.rules.sale import (
    CheckoutOutcome,
    GrabOutcome,
    Hold,
    Product,
    Sale,
    SaleConfig,
    SweepResult,
)

# Event types in the room's commerce event stream.
SALE_CREATED = "sale_created"
SALE_STARTED = "sale_started"
SALE_ENDED = "sale_ended"
HOLD_CREATED = "hold_created"
HOLD_PAID = "hold_paid"
HOLD_CANCELLED = "hold_cancelled"
HOLD_EXPIRED = "hold_expired"
DRAW_STARTED = "draw_started"
DRAW_CLOSED = "draw_closed"
DRAW_CANCELLED = "draw_cancelled"
VIEWER_JOINED = "viewer_joined"

# A stream entry is flat strings; these fields are numbers and these hold JSON (a draw's
# prize, winners, eligibility), and both stores hand them out decoded. Kept to known names
# so that a nick like "[vip]" is never mistaken for JSON.
_INT_FIELDS = frozenset(
    {
        "qty",
        "price_fen",
        "ts",
        "stock",
        "expires_at",
        "starts_at",
        "ends_at",
        "seq",
        "winners_count",
        "entrants_count",
        "closed_at",
    }
)
_JSON_FIELDS = frozenset({"prize", "winners", "eligibility"})
_SET_BY_STORE = frozenset({"id", "type", "room_id"})


@dataclass(frozen=True)
class GrabRequest:
    sale_id: str
    uid: str
    tier: str
    qty: int
    request_id: str
    src: str = ""


def now_ms() -> int:
    return int(time.time() * 1000)


def new_id(kind: str) -> str:
    return f"{kind}_{secrets.token_hex(8)}"


def normalize_event(event_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    """A stream entry as both stores hand it out: numbers and JSON fields decoded."""
    out: dict[str, Any] = {"id": event_id}
    for k, v in fields.items():
        if k in _INT_FIELDS and v not in ("", None):
            out[k] = int(v)
        elif k in _JSON_FIELDS and v not in ("", None):
            out[k] = json.loads(v)
        else:
            out[k] = v
    return out


def event_fields(room_id: str, event_type: str, fields: Mapping[str, Any]) -> dict[str, str]:
    """The stream entry for an appended event, refusing what would not read back as written:
    a number in a field not known as one, structure outside the JSON fields, bools."""
    if not isinstance(event_type, str) or not event_type:
        raise ValueError("event type must be a non-empty string")
    reserved = _SET_BY_STORE & set(fields)
    if reserved:
        raise ValueError(f"fields {sorted(reserved)} are set by the store")
    out = {"type": event_type, "room_id": room_id}
    for k, v in fields.items():
        if k in _JSON_FIELDS:
            out[k] = json.dumps(v, separators=(",", ":"), ensure_ascii=False)
        elif k in _INT_FIELDS and isinstance(v, int) and not isinstance(v, bool):
            out[k] = str(v)
        elif isinstance(v, str) and k not in _INT_FIELDS:
            out[k] = v
        else:
            raise ValueError(f"event field {k!r} cannot hold {type(v).__name__}")
    out.setdefault("ts", str(now_ms()))
    return out


def sale_event_fields(sale_type: str, cfg: SaleConfig, ts: int) -> dict[str, str]:
    return {
        "type": sale_type,
        "room_id": cfg.room_id,
        "sale_id": cfg.sale_id,
        "sku": cfg.sku,
        "stock": str(cfg.stock),
        "price_fen": str(cfg.price_fen),
        "starts_at": str(cfg.starts_at),
        "ts": str(ts),
    }


def hold_event_fields(hold_type: str, hold: Hold, ts: int) -> dict[str, str]:
    return {
        "type": hold_type,
        "room_id": hold.room_id,
        "sale_id": hold.sale_id,
        "hold_id": hold.hold_id,
        "uid": hold.uid,
        "sku": hold.sku,
        "qty": str(hold.qty),
        "price_fen": str(hold.price_fen),
        "order_id": hold.order_id,
        "src": hold.src,
        "ts": str(ts),
    }


class SaleStore(ABC):
    name = "store"

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
    ) -> GrabOutcome:
        """Reserve `qty` units as one atomic decision; the same (uid, request id) gets the
        same answer for as long as the answer is kept (at least the hold's lifetime)."""

    async def grab_many(
        self, room_id: str, requests: list[GrabRequest], now: int
    ) -> list[GrabOutcome]:
        """The same grabs in order, answered exactly as one by one; a store may do them in
        one round trip (the Redis store runs them in one script)."""
        return [
            await self.grab(room_id, r.sale_id, r.uid, r.tier, r.qty, r.request_id, now, r.src)
            for r in requests
        ]

    @abstractmethod
    async def get_hold(self, room_id: str, hold_id: str) -> Hold | None: ...

    @abstractmethod
    async def confirm(self, room_id: str, hold_id: str, order_id: str, now: int) -> CheckoutOutcome:
        """Mark the hold paid by `order_id`; the same order again is a duplicate, not a sale."""

    @abstractmethod
    async def cancel(self, room_id: str, hold_id: str, now: int) -> CheckoutOutcome:
        """End an unpaid hold; its stock returns once."""

    @abstractmethod
    async def sweep(self, room_id: str, now: int, limit: int = 200) -> SweepResult:
        """Expire due holds (stock returns exactly once, whichever process sweeps first) and
        emit due sale_started / sale_ended events."""

    @abstractmethod
    async def rooms_with_sales(self) -> list[str]: ...

    # inspection (invariant checks, the merchant API) ----------------------------------------
    @abstractmethod
    async def takens(self, room_id: str, sale_id: str) -> dict[str, int]:
        """Units held or sold per user."""

    @abstractmethod
    async def holds(self, room_id: str, sale_id: str) -> list[Hold]: ...

    @abstractmethod
    async def events(self, room_id: str, after: str = "0-0", count: int = 100) -> list[dict]:
        """Commerce events after the id `after`, oldest first, each with its `id`."""

    @abstractmethod
    async def append_event(self, room_id: str, event_type: str, fields: Mapping[str, Any]) -> str:
        """Add an event that is not a sale or hold change (a draw result, a viewer's join)
        to the room's commerce stream; `ts` defaults to now. Returns the event id. Raises
        ValueError for fields that would not read back as written (see `event_fields`)."""

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
