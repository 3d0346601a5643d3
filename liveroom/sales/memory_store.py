"""The sale store in this process: each method runs without awaiting mid-change, which
makes it atomic on the event loop exactly as each Redis method is one Lua script; its
events go to a MemoryStream in the same step (MemoryStream.add is synchronous)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from liveroom.rules import coupon as coupon_rules
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


def _strings(fields: dict[str, Any], ts: int) -> dict[str, str]:
    """A sale or unit event's fields as the stream keeps them, as lib_sale.lua writes them."""
    return {**{k: str(v) for k, v in fields.items()}, "ts": str(ts)}


def _sale_event(cfg: SaleConfig, ts: int) -> dict[str, str]:
    return _strings(rules.sale_fields(cfg), ts)


def _hold_event(hold: Hold, ts: int) -> dict[str, str]:
    return _strings(rules.KINDS[hold.kind].unit_fields(hold), ts)


@dataclass
class _SaleData:
    cfg: SaleConfig
    available: int
    held: int = 0
    sold: int = 0
    started: bool = False
    ended_at: int = 0
    redeemed: int = 0
    takens: dict[str, int] = field(default_factory=dict)
    answers: dict[tuple[str, str], tuple[int, GrabOutcome]] = field(default_factory=dict)

    def view(self) -> Sale:
        return Sale(
            self.cfg,
            self.available,
            self.held,
            self.sold,
            self.started,
            self.ended_at,
            self.redeemed,
        )


@dataclass
class _RoomSales:
    sales: dict[str, _SaleData] = field(default_factory=dict)
    holds: dict[str, Hold] = field(default_factory=dict)
    orders: dict[str, str] = field(default_factory=dict)  # order id -> hold id
    bag: list[str] = field(default_factory=list)
    clicks: dict[str, int] = field(default_factory=dict)
    units: dict[str, list[str]] = field(default_factory=dict)  # uid -> hold and coupon ids
    untold: set[str] = field(default_factory=set)  # ended, end listeners not yet told


class MemorySaleStore(SaleStore):
    name = "memory"
    in_process = True

    def __init__(self, stream: MemoryStream | None = None, answer_ttl_s: int = 600) -> None:
        self.stream: MemoryStream = stream if stream is not None else MemoryStream()
        self.answer_ttl_s = answer_ttl_s
        self._products: dict[str, Product] = {}
        self._rooms: dict[str, _RoomSales] = {}
        self._forgotten: set[str] = set()  # idle rooms the full sweep leaves out

    def _room(self, room_id: str) -> _RoomSales:
        # not setdefault: that would build (and collect) seven empty containers per call,
        # and every grab of a flash sale calls this
        room = self._rooms.get(room_id)
        if room is None:
            room = self._rooms[room_id] = _RoomSales()
        return room

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
        self._forgotten.discard(cfg.room_id)
        self._sale_moment(cfg, "created", cfg.created_at)
        if cfg.created_at >= cfg.starts_at:
            data.started = True
            self._sale_moment(cfg, "started", cfg.created_at)
        return data.view()

    def _sale_moment(self, cfg: SaleConfig, moment: str, ts: int) -> None:
        if moment == "ended":
            self._room(cfg.room_id).untold.add(cfg.sale_id)
        event_type = rules.KINDS[cfg.kind].events[moment]
        if event_type:
            self._emit(cfg.room_id, event_type, _sale_event(cfg, ts))

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
            self._sale_moment(data.cfg, "ended", now)
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
        elif data.cfg.kind == rules.COUPON:
            outcome = GrabOutcome(hold=self._issue(room, data, uid, qty, request_id, now, src, ref))
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
            room.units.setdefault(uid, []).append(hold.hold_id)
            self._emit(room_id, "hold_created", _hold_event(hold, now))
            outcome = GrabOutcome(hold=hold)
        ttl_ms = 1000 * max(self.answer_ttl_s, data.cfg.hold_s + 60)
        if len(data.answers) > 200_000:
            data.answers = {k: v for k, v in data.answers.items() if v[0] > now}
        data.answers[key] = (now + ttl_ms, outcome)
        return outcome

    def _issue(
        self,
        room: _RoomSales,
        data: _SaleData,
        uid: str,
        qty: int,
        request_id: str,
        now: int,
        src: str,
        ref: str,
    ) -> Hold:
        """A claim of a drop: a coupon, given out for good (counted as sold)."""
        valid_from, valid_until = coupon_rules.validity(coupon_rules.terms_of(data.cfg), now)
        coupon = Hold(
            hold_id=coupon_rules.coupon_id_for(store.new_id("h")),
            room_id=data.cfg.room_id,
            sale_id=data.cfg.sale_id,
            uid=uid,
            qty=qty,
            price_fen=0,
            sku="",
            created_at=now,
            expires_at=valid_until,
            status=rules.ISSUED,
            request_id=request_id,
            src=src,
            ref=ref,
            kind=rules.COUPON,
            valid_from=valid_from,
        )
        data.available -= qty
        data.sold += qty
        data.takens[uid] = data.takens.get(uid, 0) + qty
        room.holds[coupon.hold_id] = coupon
        room.units.setdefault(uid, []).append(coupon.hold_id)
        self._emit(
            data.cfg.room_id,
            rules.KINDS[rules.COUPON].events[rules.ISSUED],
            _hold_event(coupon, now),
        )
        return coupon

    async def get_hold(self, room_id: str, hold_id: str) -> Hold | None:
        return self._room(room_id).holds.get(hold_id)

    async def units_of(self, room_id: str, uids: Sequence[str]) -> list[list[Hold]]:
        room = self._room(room_id)
        return [[room.holds[u] for u in room.units.get(uid, ())] for uid in uids]

    def _end_hold(self, room: _RoomSales, hold: Hold, status: str, now: int, **kw: Any) -> Hold:
        """Move a unit to a final state and settle the counters, exactly once: a held
        hold's stock is sold or goes back; a coupon's stays given out whatever its end."""
        kind = rules.KINDS[hold.kind]
        assert hold.status == kind.unit_status
        data = room.sales[hold.sale_id]
        if kind.returns_stock:
            data.held -= hold.qty
            if status == rules.PAID:
                data.sold += hold.qty
            else:
                data.available += hold.qty
                data.takens[hold.uid] = data.takens.get(hold.uid, 0) - hold.qty
        ended = replace(hold, status=status, ended_at=now, **kw)
        room.holds[hold.hold_id] = ended
        self._emit(hold.room_id, kind.events[status], _hold_event(ended, now))
        return ended

    def _redeem(self, room: _RoomSales, coupon: Hold, order_id: str, now: int) -> CheckoutOutcome:
        decision = coupon_rules.redeem_decision(coupon, order_id, now)
        if decision == "duplicate":
            return CheckoutOutcome(hold=coupon, duplicate=True)
        if decision != "redeem":
            if rules.is_due(coupon, now):
                coupon = self._end_hold(room, coupon, rules.EXPIRED, now)
            return CheckoutOutcome(hold=coupon, error=decision)
        redeemed = self._end_hold(room, coupon, rules.REDEEMED, now, order_id=order_id)
        room.sales[coupon.sale_id].redeemed += 1
        return CheckoutOutcome(hold=redeemed)

    async def confirm(self, room_id: str, hold_id: str, order_id: str, now: int) -> CheckoutOutcome:
        room = self._room(room_id)
        hold = room.holds.get(hold_id)
        if hold is None:
            return CheckoutOutcome(error=rules.NO_SUCH_HOLD)
        if hold.kind == rules.COUPON:
            return self._redeem(room, hold, order_id, now)
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
        if hold is None or hold.kind != rules.PRODUCT:  # a coupon is never cancelled
            return CheckoutOutcome(error=rules.NO_SUCH_HOLD)
        decision = rules.cancel_decision(hold, now)
        if decision == "duplicate":
            return CheckoutOutcome(hold=hold, duplicate=True)
        if decision != "cancel":
            if rules.is_due(hold, now):
                hold = self._end_hold(room, hold, rules.EXPIRED, now)
            return CheckoutOutcome(hold=hold, error=decision)
        return CheckoutOutcome(hold=self._end_hold(room, hold, rules.CANCELLED, now))

    async def sweep(
        self, room_id: str, now: int, limit: int = 200, check_idle: bool = False
    ) -> SweepResult:
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
                    self._sale_moment(data.cfg, "started", now)
                    result.started.append(data.cfg.sale_id)
                else:
                    data.ended_at = data.cfg.ends_at
                    self._sale_moment(data.cfg, "ended", now)
                    result.ended.append(data.cfg.sale_id)
        if check_idle:
            result.untold = sorted(room.untold)
        if check_idle and len(result.expired) < limit:
            open_units = [h for h in room.holds.values() if h.status in rules.OPEN_UNITS]
            every_ended = all(d.ended_at for d in room.sales.values())
            result.idle = rules.room_idle(every_ended, len(open_units), len(room.untold))
        return result

    async def rooms_with_sales(self) -> list[str]:
        return [r for r, data in self._rooms.items() if data.sales and r not in self._forgotten]

    async def forget_room(self, room_id: str) -> None:
        self._forgotten.add(room_id)

    async def remember_room(self, room_id: str) -> None:
        self._forgotten.discard(room_id)

    async def told_end(self, room_id: str, sale_id: str) -> None:
        self._room(room_id).untold.discard(sale_id)

    async def takens(self, room_id: str, sale_id: str) -> dict[str, int]:
        data = self._room(room_id).sales.get(sale_id)
        return {u: n for u, n in data.takens.items() if n} if data else {}

    async def holds(self, room_id: str, sale_id: str) -> list[Hold]:
        return [h for h in self._room(room_id).holds.values() if h.sale_id == sale_id]
