"""The sale store in this process: each method runs without awaiting mid-change, which
makes it atomic on the event loop exactly as each Redis method is one Lua script; its
events go to a MemoryStream in the same step (MemoryStream.add is synchronous)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from liveroom.rules import sale as rules
from liveroom.rules.sale import (
    CheckoutOutcome,
    GrabOutcome,
    Hold,
    Product,
    Sale,
    SaleConfig,
    SweepResult,
)
from liveroom.sales import store
from liveroom.sales.store import SaleStore
from liveroom.stream.memory import MemoryStream


# The fields of stream.EVENT_TYPES sale_* and hold_*, as lib_sale.lua writes them on Redis.
def _sale_event(cfg: SaleConfig, ts: int) -> dict[str, str]:
    return {
        "sale_id": cfg.sale_id,
        "sku": cfg.sku,
        "stock": str(cfg.stock),
        "price_fen": str(cfg.price_fen),
        "starts_at": str(cfg.starts_at),
        "ts": str(ts),
    }


def _hold_event(hold: Hold, ts: int) -> dict[str, str]:
    return {
        "sale_id": hold.sale_id,
        "hold_id": hold.hold_id,
        "uid": hold.uid,
        "sku": hold.sku,
        "qty": str(hold.qty),
        "price_fen": str(hold.price_fen),
        "order_id": hold.order_id,
        "src": hold.src,
        "ref": hold.ref,
        "ts": str(ts),
    }


@dataclass
class _SaleData:
    cfg: SaleConfig
    available: int
    held: int = 0
    sold: int = 0
    started: bool = False
    ended_at: int = 0
    takens: dict[str, int] = field(default_factory=dict)
    answers: dict[tuple[str, str], tuple[int, GrabOutcome]] = field(default_factory=dict)

    def view(self) -> Sale:
        return Sale(self.cfg, self.available, self.held, self.sold, self.started, self.ended_at)


@dataclass
class _RoomSales:
    sales: dict[str, _SaleData] = field(default_factory=dict)
    holds: dict[str, Hold] = field(default_factory=dict)
    orders: dict[str, str] = field(default_factory=dict)  # order id -> hold id
    bag: list[str] = field(default_factory=list)
    clicks: dict[str, int] = field(default_factory=dict)


class MemorySaleStore(SaleStore):
    name = "memory"

    def __init__(self, stream: MemoryStream | None = None, answer_ttl_s: int = 600) -> None:
        self.stream: MemoryStream = stream if stream is not None else MemoryStream()
        self.answer_ttl_s = answer_ttl_s
        self._products: dict[str, Product] = {}
        self._rooms: dict[str, _RoomSales] = {}

    def _room(self, room_id: str) -> _RoomSales:
        return self._rooms.setdefault(room_id, _RoomSales())

    def _emit(self, room_id: str, event_type: str, fields: dict[str, str]) -> None:
        self.stream.add(room_id, {"type": event_type, "room_id": room_id, **fields})

    # products and the bag ---------------------------------------------------------------------
    async def put_product(self, product: Product) -> None:
        self._products[product.sku] = product

    async def get_product(self, sku: str) -> Product | None:
        return self._products.get(sku)

    async def list_products(self) -> list[Product]:
        return [self._products[k] for k in sorted(self._products)]

    async def delete_product(self, sku: str) -> bool:
        return self._products.pop(sku, None) is not None

    async def pin(self, room_id: str, sku: str) -> list[str]:
        bag = self._room(room_id).bag
        if sku in bag:
            bag.remove(sku)  # a re-pin moves it to the end, as in Redis
        bag.append(sku)
        return list(bag)

    async def unpin(self, room_id: str, sku: str) -> list[str]:
        bag = self._room(room_id).bag
        if sku in bag:
            bag.remove(sku)
        return list(bag)

    async def bag(self, room_id: str) -> list[str]:
        return list(self._room(room_id).bag)

    async def count_click(self, room_id: str, sku: str) -> int:
        clicks = self._room(room_id).clicks
        clicks[sku] = clicks.get(sku, 0) + 1
        return clicks[sku]

    async def clicks(self, room_id: str) -> dict[str, int]:
        return dict(self._room(room_id).clicks)

    # sales --------------------------------------------------------------------------------------
    async def create_sale(self, cfg: SaleConfig) -> Sale:
        room = self._room(cfg.room_id)
        if cfg.sale_id in room.sales:
            raise rules.SaleError("sale_exists", f"sale {cfg.sale_id} already exists")
        data = _SaleData(cfg, available=cfg.stock)
        room.sales[cfg.sale_id] = data
        self._emit(cfg.room_id, "sale_created", _sale_event(cfg, cfg.created_at))
        if cfg.created_at >= cfg.starts_at:
            data.started = True
            self._emit(cfg.room_id, "sale_started", _sale_event(cfg, cfg.created_at))
        return data.view()

    async def get_sale(self, room_id: str, sale_id: str) -> Sale | None:
        data = self._room(room_id).sales.get(sale_id)
        return data.view() if data else None

    async def list_sales(self, room_id: str) -> list[Sale]:
        return [d.view() for d in self._room(room_id).sales.values()]

    async def end_sale(self, room_id: str, sale_id: str, now: int) -> Sale | None:
        room = self._room(room_id)
        data = room.sales.get(sale_id)
        if data is None:
            return None
        if not rules.is_ended(data.cfg, data.ended_at, now):
            data.ended_at = now
            self._emit(room_id, "sale_ended", _sale_event(data.cfg, now))
        return data.view()

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
        room = self._room(room_id)
        data = room.sales.get(sale_id)
        if data is None:
            return GrabOutcome(refusal=rules.Refusal(rules.NO_SUCH_SALE))
        key = (uid, request_id)
        kept = data.answers.get(key)
        if kept is not None and kept[0] > now:
            return replace(kept[1], duplicate=True)
        taken = data.takens.get(uid, 0)
        refusal = rules.grab_refusal(
            data.cfg,
            ended_at=data.ended_at,
            available=data.available,
            taken=taken,
            tier=tier,
            qty=qty,
            now=now,
        )
        if refusal is not None:
            outcome = GrabOutcome(refusal=refusal)
        else:
            hold = Hold(
                hold_id=store.new_id("h"),
                room_id=room_id,
                sale_id=sale_id,
                uid=uid,
                qty=qty,
                price_fen=data.cfg.price_fen,
                sku=data.cfg.sku,
                created_at=now,
                expires_at=rules.hold_expires_at(data.cfg, now),
                request_id=request_id,
                src=src,
                ref=ref,
                nick=nick,
            )
            data.available -= qty
            data.held += qty
            data.takens[uid] = taken + qty
            room.holds[hold.hold_id] = hold
            self._emit(room_id, "hold_created", _hold_event(hold, now))
            outcome = GrabOutcome(hold=hold)
        ttl_ms = 1000 * max(self.answer_ttl_s, data.cfg.hold_s + 60)
        if len(data.answers) > 200_000:
            data.answers = {k: v for k, v in data.answers.items() if v[0] > now}
        data.answers[key] = (now + ttl_ms, outcome)
        return outcome

    async def get_hold(self, room_id: str, hold_id: str) -> Hold | None:
        return self._room(room_id).holds.get(hold_id)

    def _end_hold(self, room: _RoomSales, hold: Hold, status: str, now: int, **kw: Any) -> Hold:
        """Move a held hold to a final state and settle the counters, exactly once."""
        assert hold.status == rules.HELD
        data = room.sales[hold.sale_id]
        data.held -= hold.qty
        if status == rules.PAID:
            data.sold += hold.qty
        else:
            data.available += hold.qty
            data.takens[hold.uid] = data.takens.get(hold.uid, 0) - hold.qty
        ended = replace(hold, status=status, ended_at=now, **kw)
        room.holds[hold.hold_id] = ended
        event_type = {
            rules.PAID: "hold_paid",
            rules.CANCELLED: "hold_cancelled",
            rules.EXPIRED: "hold_expired",
        }[status]
        self._emit(hold.room_id, event_type, _hold_event(ended, now))
        return ended

    async def confirm(self, room_id: str, hold_id: str, order_id: str, now: int) -> CheckoutOutcome:
        room = self._room(room_id)
        hold = room.holds.get(hold_id)
        if hold is None:
            return CheckoutOutcome(error=rules.NO_SUCH_HOLD)
        other = room.orders.get(order_id)
        if other is not None and other != hold_id:
            return CheckoutOutcome(hold=hold, error=rules.ORDER_CONFLICT)
        decision = rules.confirm_decision(hold, order_id, now)
        if decision == "duplicate":
            return CheckoutOutcome(hold=hold, duplicate=True)
        if decision != "pay":
            if rules.is_due(hold, now):
                hold = self._end_hold(room, hold, rules.EXPIRED, now)
            return CheckoutOutcome(hold=hold, error=decision)
        room.orders[order_id] = hold_id
        return CheckoutOutcome(hold=self._end_hold(room, hold, rules.PAID, now, order_id=order_id))

    async def cancel(self, room_id: str, hold_id: str, now: int) -> CheckoutOutcome:
        room = self._room(room_id)
        hold = room.holds.get(hold_id)
        if hold is None:
            return CheckoutOutcome(error=rules.NO_SUCH_HOLD)
        decision = rules.cancel_decision(hold, now)
        if decision == "duplicate":
            return CheckoutOutcome(hold=hold, duplicate=True)
        if decision != "cancel":
            if rules.is_due(hold, now):
                hold = self._end_hold(room, hold, rules.EXPIRED, now)
            return CheckoutOutcome(hold=hold, error=decision)
        return CheckoutOutcome(hold=self._end_hold(room, hold, rules.CANCELLED, now))

    async def sweep(self, room_id: str, now: int, limit: int = 200) -> SweepResult:
        room = self._room(room_id)
        result = SweepResult()
        for hold in list(room.holds.values()):
            if len(result.expired) >= limit:
                break
            if rules.is_due(hold, now):
                result.expired.append(self._end_hold(room, hold, rules.EXPIRED, now))
        for data in room.sales.values():
            for step in rules.sale_transitions(
                data.cfg, started=data.started, ended_at=data.ended_at, now=now
            ):
                if step == "started":
                    data.started = True
                    self._emit(room_id, "sale_started", _sale_event(data.cfg, now))
                    result.started.append(data.cfg.sale_id)
                else:
                    data.ended_at = data.cfg.ends_at
                    self._emit(room_id, "sale_ended", _sale_event(data.cfg, now))
                    result.ended.append(data.cfg.sale_id)
        return result

    async def rooms_with_sales(self) -> list[str]:
        return [r for r, data in self._rooms.items() if data.sales]

    async def takens(self, room_id: str, sale_id: str) -> dict[str, int]:
        data = self._room(room_id).sales.get(sale_id)
        return {u: n for u, n in data.takens.items() if n} if data else {}

    async def holds(self, room_id: str, sale_id: str) -> list[Hold]:
        return [h for h in self._room(room_id).holds.values() if h.sale_id == sale_id]
