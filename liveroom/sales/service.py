"""Flash sales in the room: the shopping bag, sales, grabs, checkout, and the sweeper.

One SalesService per process; the room socket's handlers and the merchant API both go
through it. What must happen once (a hold, a payment, an expiry, a sale's start or end)
is decided by the store; this layer turns outcomes into room events and stock updates:
- pins, new sales, and sale starts/ends are high-lane room events (engine.publish);
- stock is latest-value state: any change marks the room dirty, and at most once per
  tick the process re-reads the room's counters and publishes them all (re-reading,
  rather than sending the value an operation returned, means that whichever process
  publishes last publishes a fresh value);
- a sweeper on every process expires due holds and starts/ends scheduled sales; the Lua
  scripts make sure each happens once, so the room events follow exactly once too;
- each hold event the store recorded in the commerce stream is told to the stream's
  listeners (the analytics folds) by the process whose call made it (`recorded`).
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from dataclasses import dataclass, field, replace
from typing import Any

from liveroom.background import cancel_and_wait, every
from liveroom.batching import RoomBatcher, SharedRead
from liveroom.engine.base import Engine, new_event
from liveroom.errors import Unavailable
from liveroom.rules import sale as rules
from liveroom.rules.sale import CheckoutOutcome, Hold, Product, Sale, SaleConfig, SweepResult
from liveroom.sales import ticket
from liveroom.sales.batcher import GrabBatcher
from liveroom.sales.store import GrabRequest, SaleStore, new_id, now_ms
from liveroom.settings import Settings
from liveroom.tokens import Identity
from liveroom.types import Event, Feature, Frame, Join, PaymentListener, SaleEndListener

log = logging.getLogger("liveroom.sales")

SWEEP_INTERVAL_S = 0.5
# Rooms this process served lately are swept every SWEEP_INTERVAL_S; every room with a sale
# (holds of a crashed process, scheduled starts, ends whose listeners it never told) every
# FULL_SWEEP_S, until its selling is over (rules.sale.room_idle).
FULL_SWEEP_S = 5.0
HOT_S = rules.MAX_HOLD_S + 60
MAX_BAG = 50
STOCK_SALES_MAX = 20  # stock state carries the room's most recent sales only
HOLDS_SHOWN = 10  # a viewer's holds and orders in the welcome: the newest
COUPON_ID_PREFIX = "c_"  # rules.coupon.coupon_id_for


@dataclass
class GrabReply:
    hold: Hold
    config: SaleConfig
    duplicate: bool
    ticket: str = ""

    def public(self) -> dict[str, Any]:
        h = self.hold
        return {
            "hold": {
                "hold_id": h.hold_id,
                "sale_id": h.sale_id,
                "sku": h.sku,
                "qty": h.qty,
                "price_fen": h.price_fen,
                "expires_at": h.expires_at,
            },
            "checkout": {
                "appid": self.config.appid,
                "path": ticket.checkout_path(self.config.page, self.ticket),
                "ticket": self.ticket,
            },
            "duplicate": self.duplicate,
        }


@dataclass
class SalesService(Feature):
    settings: Settings
    engine: Engine
    store: SaleStore
    # told of each payment confirmed here (liveroom/orders: the buyer's frame, social proof)
    payments: PaymentListener | None = None
    # told of each sale or drop this process ends (liveroom/coupons: a drop's coupons not
    # given out go back to its template)
    _end_listeners: tuple[SaleEndListener, ...] = ()
    _configs: dict[tuple[str, str], SaleConfig] = field(default_factory=dict)
    _dirty: set[str] = field(default_factory=set)
    _tasks: list[asyncio.Task] = field(default_factory=list)
    _hot: dict[str, float] = field(default_factory=dict)  # room -> last activity (monotonic)
    _last_full: float = float("-inf")
    batcher: GrabBatcher = field(init=False)
    # each joining viewer's own holds and coupons, read for the viewers joining together
    _units: RoomBatcher[str, list[Hold]] = field(init=False)
    # the bag and sales every joining viewer's welcome shows, read once for those joining
    # together (a join storm)
    _shops: SharedRead[tuple[list[Product], list[Sale]]] = field(init=False)

    # the joining viewer's units, read once for every feature whose part of the welcome
    # shows them (the sales' holds, the coupons' coupons), and gone with the join
    _join_units: weakref.WeakKeyDictionary[Join, asyncio.Future[list[Hold]]] = field(init=False)

    def __post_init__(self) -> None:
        self.batcher = GrabBatcher(self.store)
        self._shops = SharedRead(self.store.shop)
        self._units = RoomBatcher(self.store.units_of, immediate=self.store.in_process)
        self._join_units = weakref.WeakKeyDictionary()

    # lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        await self.store.start()
        loop = asyncio.get_running_loop()
        tick_s = self.settings.tick_ms / 1000
        self._tasks = [
            loop.create_task(every(SWEEP_INTERVAL_S, self.sweep), name="sale-sweeper"),
            loop.create_task(every(tick_s, self.flush_stock), name="sale-stock"),
        ]

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)
        await self.batcher.close()
        await self._shops.close()
        await self._units.close()
        await self.store.close()

    async def put_product(self, raw: dict[str, Any], sku: str | None = None) -> Product:
        product = rules.build_product(raw, sku)
        await self.store.put_product(product)
        return product

    async def product(self, sku: str) -> Product:
        product = await self.store.get_product(sku)
        if product is None:
            raise rules.SaleError("no_such_product", f"no product with sku {sku!r}")
        return product

    async def pin(self, room_id: str, sku: str, by: str) -> dict[str, Any]:
        product = await self.product(sku)
        bag = await self.store.bag(room_id)
        if sku not in bag and len(bag) >= MAX_BAG:
            raise rules.SaleError("bag_full", f"at most {MAX_BAG} products in the bag")
        bag = await self.store.pin(room_id, sku)
        event = new_event("product_pinned", by=by, product=product.public(), bag=bag)
        stored = await self.engine.publish(room_id, event)
        return {"seq": stored["seq"], "bag": bag}

    async def unpin(self, room_id: str, sku: str, by: str) -> dict[str, Any]:
        bag = await self.store.unpin(room_id, sku)
        stored = await self.engine.publish(
            room_id, new_event("product_unpinned", by=by, sku=sku, bag=bag)
        )
        return {"seq": stored["seq"], "bag": bag}

    async def click(self, room_id: str, sku: str) -> int:
        return await self.store.count_click(room_id, sku)

    # sales ---------------------------------------------------------------------------------
    def touch(self, room_id: str) -> None:
        """The room is active here (a claim of one of its drops too): its holds, coupons
        and timers are swept often."""
        self._touch(room_id)

    def mark_dirty(self, room_id: str) -> None:
        """The room's live counts (stock, drops) changed: publish them with the next tick."""
        self._dirty.add(room_id)

    def on_resubscribed(self, room_id: str) -> None:
        self.mark_dirty(room_id)  # counts published during the gap never reached this process

    async def create_sale(
        self, room_id: str, raw: dict[str, Any], by: str, *, hidden: bool = False
    ) -> Sale:
        """`sale_id` in `raw` is optional: a caller that names its sale can retry the create
        safely (the second create answers sale_exists with the sale as it is). `hidden`: a
        lucky bag's product prizes, never announced nor shown to the room nor grabbed by a
        viewer's frame; only `grab_prize` takes from it."""
        sku = raw.get("sku")
        if not isinstance(sku, str):
            raise rules.SaleError("bad_sale", "'sku' is required")
        sale_id = raw.get("sale_id", None)
        if sale_id is None:
            sale_id = new_id("s")
        elif not isinstance(sale_id, str) or not rules.is_safe_id(sale_id):
            raise rules.SaleError("bad_sale", "'sale_id' must be 1-64 of A-Z a-z 0-9 _ - .")
        product = await self.product(sku)
        terms = {k: v for k, v in raw.items() if k not in ("sku", "sale_id")}
        cfg = rules.build_sale(terms, product, sale_id=sale_id, room_id=room_id, now=now_ms())
        if hidden:
            cfg = replace(cfg, hidden=True)
        self._touch(room_id)
        try:
            sale = await self.store.create_sale(cfg)
        except rules.SaleError as err:
            existing = await self.store.get_sale(room_id, sale_id)
            if existing is None:
                raise
            # sent again: the first try may have stored the sale and lost the room's news
            if existing.config.kind == rules.PRODUCT and rules.open_to_room(existing, now_ms()):
                await self._created(existing, by)
            raise err.with_extra(sale=existing.public(now_ms())) from None
        await self._created(sale, by)
        return sale

    async def _created(self, sale: Sale, by: str) -> None:
        cfg = sale.config
        self._configs[(cfg.room_id, cfg.sale_id)] = cfg
        if not cfg.hidden:
            await self.engine.publish(cfg.room_id, room_event(sale, "created", now_ms(), by))
            self._dirty.add(cfg.room_id)

    async def sale(self, room_id: str, sale_id: str, kind: str = rules.PRODUCT) -> Sale:
        """The sale of this kind (a drop is no sale to the sale routes, nor a sale a drop)."""
        sale = await self.store.get_sale(room_id, sale_id)
        if sale is None or sale.config.kind != kind:
            raise rules.SaleError(rules.NO_SUCH_SALE)
        return sale

    async def end_sale(
        self, room_id: str, sale_id: str, by: str, kind: str = rules.PRODUCT
    ) -> Sale:
        await self.sale(room_id, sale_id, kind)
        now = now_ms()
        sale = await self.store.end_sale(room_id, sale_id, now)
        if sale is None:
            raise rules.SaleError(rules.NO_SUCH_SALE)
        if sale.ended_at == now and not sale.config.hidden:
            # this call ended it (an earlier end keeps its own time)
            await self.engine.publish(room_id, room_event(sale, "ended", now, by))
        await self._tell_ended(sale)  # a stop sent again finishes what a crash left undone
        return sale

    async def end_room(self, room_id: str, by: str) -> None:
        """The show is over: every sale and drop of the room still open ends now, as if the
        host had stopped it (a drop gives back the coupons it did not give out; holds stay
        payable). A lucky bag's hidden sale is left to its draw."""
        now = now_ms()
        for sale in await self.store.list_sales(room_id):
            cfg = sale.config
            if not cfg.hidden and not rules.is_ended(cfg, sale.ended_at, now):
                await self.end_sale(room_id, cfg.sale_id, by, kind=cfg.kind)

    def listen_ends(self, listener: SaleEndListener) -> None:
        self._end_listeners = (*self._end_listeners, listener)

    async def _tell_ended(self, sale: Sale) -> None:
        """Every end listener handles the end, then the store forgets it; if one fails (or
        this process dies first), the sweep tells them again (each listener does its part
        once however often it is told: a drop gives back once)."""
        told = True
        for listener in self._end_listeners:
            try:
                await listener.on_sale_ended(sale)
            except Unavailable:
                told = False
                log.warning("end of %s: store unavailable", sale.config.sale_id)
            except Exception:
                told = False
                log.exception("end listener failed on %s", sale.config.sale_id)
        if told:
            try:
                await self.store.told_end(sale.config.room_id, sale.config.sale_id)
            except Unavailable:  # told again by a sweep: harmless
                log.warning("end of %s: store unavailable", sale.config.sale_id)

    async def config(self, room_id: str, sale_id: str) -> SaleConfig | None:
        """A sale's terms (of any kind), read once per process: terms never change."""
        cfg = self._configs.get((room_id, sale_id))
        if cfg is None:
            sale = await self.store.get_sale(room_id, sale_id)
            if sale is None:
                return None
            cfg = self._configs[(room_id, sale_id)] = sale.config
        return cfg

    async def _config(self, room_id: str, sale_id: str) -> SaleConfig:
        cfg = await self.config(room_id, sale_id)
        if cfg is None:
            raise rules.SaleError(rules.NO_SUCH_SALE)
        return cfg

    async def grab(
        self, room_id: str, ident: Identity, sale_id: str, qty: int, request_id: str
    ) -> GrabReply:
        """A viewer's grab: a drop is claimed, not grabbed, and a hidden sale (a lucky
        bag's) is no sale to a viewer."""
        cfg = await self.config(room_id, sale_id)
        if cfg is not None and (cfg.kind != rules.PRODUCT or cfg.hidden):
            raise rules.Refusal(rules.NO_SUCH_SALE).with_extra(sale_id=sale_id)
        return await self._grab(room_id, ident, sale_id, qty, request_id)

    async def grab_prize(
        self, room_id: str, ident: Identity, sale_id: str, request_id: str
    ) -> GrabReply:
        """One unit of a hidden sale for a lucky bag's winner, taken by the server: a grab
        like any other (same script, same answer for the same request id)."""
        cfg = await self._config(room_id, sale_id)
        if cfg.kind != rules.PRODUCT or not cfg.hidden:
            raise rules.Refusal(rules.NO_SUCH_SALE).with_extra(sale_id=sale_id)
        return await self._grab(room_id, ident, sale_id, 1, request_id)

    async def _grab(
        self, room_id: str, ident: Identity, sale_id: str, qty: int, request_id: str
    ) -> GrabReply:
        self._touch(room_id)
        request = GrabRequest(
            sale_id, ident.uid, ident.tier, qty, request_id, ident.src, ident.ref, ident.nick
        )
        outcome = await self.batcher.grab(room_id, request)
        if outcome.refusal is not None:
            raise outcome.refusal.with_extra(sale_id=sale_id)
        assert outcome.hold is not None
        # a duplicate too: after a failed batch is retried grab by grab (GrabBatcher), the
        # grab that took the units may be answered as a duplicate
        self._dirty.add(room_id)
        if not outcome.duplicate:
            self.recorded(outcome.hold, outcome.hold.created_at)
        cfg = await self._config(room_id, sale_id)
        reply = GrabReply(outcome.hold, cfg, outcome.duplicate)
        reply.ticket = ticket.mint(self.settings.merchant_key, outcome.hold)
        return reply

    # checkout --------------------------------------------------------------------------------
    def read_ticket(self, text: Any) -> ticket.Ticket:
        try:
            return ticket.verify(self.settings.merchant_key, text)
        except ticket.TicketError as err:
            raise rules.SaleError("bad_ticket", str(err)) from None

    async def hold(self, room_id: str, hold_id: str) -> Hold:
        hold = await self.store.get_hold(room_id, hold_id)
        if hold is None:
            raise rules.SaleError(rules.NO_SUCH_HOLD)
        return hold

    async def confirm(self, room_id: str, hold_id: str, order_id: str) -> CheckoutOutcome:
        """Pay a hold. (The store's confirm also redeems coupons: that is CouponService's
        redeem, and a coupon id is no hold here.)"""
        if hold_id.startswith(COUPON_ID_PREFIX):
            return CheckoutOutcome(error=rules.NO_SUCH_HOLD)
        self._touch(room_id)
        now = now_ms()
        outcome = await self.store.confirm(room_id, hold_id, order_id, now)
        self._dirty.add(room_id)  # a payment or an on-the-spot expiry changes counters
        self.checkout_recorded(outcome, now)
        if outcome.hold is not None and not outcome.error and not outcome.duplicate:
            await self._tell_paid(outcome.hold)
        return outcome

    async def _tell_paid(self, hold: Hold) -> None:
        """The payment stands and its answer goes to the merchant whatever happens here: a
        failure to tell the buyer and the room is logged, not raised."""
        if self.payments is None:
            return
        try:
            cfg = await self._config(hold.room_id, hold.sale_id)
            await self.payments.on_paid(hold, cfg.title, prize=cfg.hidden)
        except Exception:
            log.warning(
                "hold %s/%s paid; telling the buyer and the room failed",
                hold.room_id,
                hold.hold_id,
                exc_info=True,
            )

    async def cancel(self, room_id: str, hold_id: str) -> CheckoutOutcome:
        self._touch(room_id)
        now = now_ms()
        outcome = await self.store.cancel(room_id, hold_id, now)
        self._dirty.add(room_id)
        self.checkout_recorded(outcome, now)
        return outcome

    def checkout_recorded(self, outcome: CheckoutOutcome, now: int) -> None:
        """The event a confirm, cancel or redeem recorded, if any: the unit's new state when
        it succeeded, or an expiry found on the spot (it ended at this call's own time)."""
        hold = outcome.hold
        if hold is None or outcome.duplicate:
            return
        if not outcome.error or (hold.status == rules.EXPIRED and hold.ended_at == now):
            self.recorded(hold, now)

    def recorded(self, unit: Hold, ts: int) -> None:
        """Tell the stream's listeners of the event the store wrote for a hold's or a
        coupon's new state (see stream.recorded): the fields the sale scripts write."""
        kind = rules.KINDS[unit.kind]
        self.store.stream.recorded(
            unit.room_id, kind.events[unit.status], {**kind.unit_fields(unit), "ts": ts}
        )

    # background ----------------------------------------------------------------------------
    def _touch(self, room_id: str) -> None:
        self._hot[room_id] = time.monotonic()

    async def sweep(self, full: bool | None = None) -> None:
        now = time.monotonic()
        if full is None:
            full = now - self._last_full >= FULL_SWEEP_S
        if full:
            self._last_full = now
            rooms = await self.store.rooms_with_sales()
        else:
            self._hot = {r: t for r, t in self._hot.items() if now - t < HOT_S}
            rooms = list(self._hot)
        for room_id in rooms:
            try:
                await self._sweep_room(room_id, full)
            except Unavailable:
                raise  # every room would fail alike: wait for the next round
            except Exception:
                log.exception("sweeping room %s failed", room_id)  # the other rooms go on

    async def _sweep_room(self, room_id: str, full: bool = False) -> None:
        while True:
            now = now_ms()
            result = await self.store.sweep(room_id, now, check_idle=full)
            await self._swept(room_id, result, now)
            if len(result.expired) < 200:
                break
        # ends whose listeners a process that died never told, or told while a store was
        # down (the ones this sweep ended were told just now)
        for sale_id in [s for s in result.untold if s not in result.ended]:
            sale = await self.store.get_sale(room_id, sale_id)
            if sale is None:
                await self.store.told_end(room_id, sale_id)
            else:
                await self._tell_ended(sale)
        if result.idle:
            await self._forget_if_idle(room_id)

    async def _swept(self, room_id: str, result: SweepResult, now: int) -> None:
        if result.expired:
            self._dirty.add(room_id)
        for hold in result.expired:
            self.recorded(hold, now)
        for moment, ids in (("started", result.started), ("ended", result.ended)):
            for sale_id in ids:
                sale = await self.store.get_sale(room_id, sale_id)
                if sale is not None and not sale.config.hidden:
                    await self.engine.publish(room_id, room_event(sale, moment, now))
                if sale is not None and moment == "ended":
                    await self._tell_ended(sale)
                self._dirty.add(room_id)

    async def _forget_if_idle(self, room_id: str) -> None:
        """An idle room (its show over, every hold settled) leaves the full sweep's list, or
        every process would sweep every room that ever sold anything, every 5 s, for ever.
        A sale created meanwhile puts it back: the store adds the room after creating the
        sale, and the room is checked again after it is left out, so whichever of the two
        comes last sees the other."""
        await self.store.forget_room(room_id)
        now = now_ms()
        again = await self.store.sweep(room_id, now, check_idle=True)
        await self._swept(room_id, again, now)
        if not again.idle:
            await self.store.remember_room(room_id)

    async def stock(self, room_id: str) -> dict[str, int]:
        return (await self.live_counts(room_id))["stock"]

    async def live_counts(self, room_id: str) -> dict[str, dict[str, int]]:
        """The tick state of the room's most recent sales, by kind: `stock` {sale id:
        available}, and `drops` {drop id: remaining} when the room has drops."""
        out: dict[str, dict[str, int]] = {"stock": {}}
        for kind, sales in by_kind(await self.store.list_sales(room_id)).items():
            shown = [s for s in sales if not s.config.hidden][-STOCK_SALES_MAX:]
            if shown or kind == rules.PRODUCT:
                out[rules.KINDS[kind].state] = {s.config.sale_id: s.available for s in shown}
        return out

    async def flush_stock(self) -> None:
        rooms, self._dirty = list(self._dirty), set()
        for i, room_id in enumerate(rooms):
            try:
                await self.engine.publish_state(room_id, await self.live_counts(room_id))
            except Exception:
                self._dirty.update(rooms[i:])  # try these again next tick
                raise

    async def shop(self, room_id: str) -> tuple[list[Product], list[Sale]]:
        """The bag and every sale of the room (drops too), read once for the viewers
        joining together."""
        return await self._shops.get(room_id)

    async def units(self, room_id: str, uid: str) -> list[Hold]:
        """Every hold and coupon uid took in the room, oldest first."""
        return await self._units.submit(room_id, uid)

    async def units_at_join(self, join: Join) -> list[Hold]:
        """`units` of the joining viewer, read once however many features ask while it is
        welcomed."""
        read = self._join_units.get(join)
        if read is None:
            read = asyncio.ensure_future(self.units(join.room_id, join.ident.uid))
            self._join_units[join] = read
        return await read

    async def _holds_shown(self, room_id: str, units: list[Hold]) -> list[dict[str, Any]]:
        """Of a viewer's units, their holds still to pay (with their checkout, as the grab's
        answer gave it) and their paid orders in this room, newest first: a viewer who went
        to the mini-program to pay and comes back, or whose socket dropped after the answer,
        finds them again."""
        now, out = now_ms(), []
        for hold in reversed(units):
            if hold.kind != rules.PRODUCT or not _yours_to_see(hold, now):
                continue
            cfg = await self.config(room_id, hold.sale_id)
            if cfg is None:
                continue
            mint = hold.status == rules.HELD
            reply = GrabReply(hold, cfg, duplicate=False)
            if mint:
                reply.ticket = ticket.mint(self.settings.merchant_key, hold)
            view = reply.public()
            del view["duplicate"]
            view["hold"].update(status=hold.status, order_id=hold.order_id)
            if not mint:
                del view["checkout"]
            out.append(view)
            if len(out) == HOLDS_SHOWN:
                break
        return out

    async def on_join(self, join: Join, welcome: Frame) -> None:
        """A joining client gets the bag, the sales and their stock with its welcome, and
        a logged-in viewer their holds and orders in the room."""
        room_id, ident = join.room_id, join.ident
        self._touch(room_id)
        try:
            products, sales = await self._shops.get(room_id)
        except Unavailable:
            return  # the room still works; the shop fills in with the next events
        now = now_ms()
        welcome["bag"] = [p.public() for p in products]
        every = by_kind(sales).get(rules.PRODUCT, [])
        sales = [s for s in every if not s.config.hidden]
        welcome["sales"] = [s.public(now) for s in sales[-STOCK_SALES_MAX:]]
        if not ident.is_anonymous and not ident.is_host:
            # a room that never had a sale holds nobody's holds: no read for its joins
            try:
                units = await self.units_at_join(join) if every else []
                welcome["holds"] = await self._holds_shown(room_id, units)
            except Unavailable:
                pass  # the answer of each grab still carries its checkout


def _yours_to_see(hold: Hold, now: int) -> bool:
    """A hold still to pay, or an order paid: what the viewer can act on or wants to see.
    An expired or cancelled hold, or one whose time ran out before the sweep, is not."""
    if hold.status == rules.HELD:
        return hold.expires_at > now
    return hold.status == rules.PAID


def by_kind(sales: list[Sale]) -> dict[str, list[Sale]]:
    """The sales of each kind, in their order."""
    out: dict[str, list[Sale]] = {}
    for sale in sales:
        out.setdefault(sale.config.kind, []).append(sale)
    return out


def room_event(sale: Sale, moment: str, now: int, by: str = "") -> Event:
    """The room event of a sale's moment (created, started, ended), named by its kind
    (rules.sale.KINDS): `sale` / `sale_started` / `sale_ended`, or `drop` / `drop` /
    `drop_ended`."""
    kind = rules.KINDS[sale.config.kind]
    name = kind.room[moment]
    fields: dict[str, Any]
    if name == kind.room["created"]:
        fields = {kind.view_key: sale.public(now)}
    else:
        fields = {kind.id_field: sale.config.sale_id}
    if by:
        fields["by"] = by
    return new_event(name, **fields)
