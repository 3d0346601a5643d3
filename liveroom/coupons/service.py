"""Coupons in the room: templates, drops, claims (by frame or by pass phrase), the
hand-off and its redemption.

One CouponService per process, built after the sales feature, whose machinery it runs on:
a drop is a sale of kind `coupon` in the same sale store, a claim is a grab in the same
batched grab script (so a claim has every guarantee a grab has: one atomic step, the
per-user limit across processes, idempotent by request id, early access for members), a
coupon expires through the same sweeper, and a redemption is the store's confirm with the
coupon rules. What this layer adds:
- templates, and the reservation of a template's total when a drop is created;
- room events (`drop`, `drop_ended`; the remaining counts ride the sales' tick state
  `drops`), the welcome's `drops` and `coupons`;
- pass-phrase drops: each process keeps the room's open phrase drops (from its own
  creates, the `drop` events of every process, and the welcome's read), so a comment is
  matched without a Redis round trip; a match claims with a request id derived from the
  drop, so a viewer gets one whichever process and however often they comment it;
- the signed coupon ticket (ticket.py) and `redeem` for the merchant backend.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.routing import BaseRoute

from liveroom.coupons import ticket
from liveroom.coupons.routes import coupon_routes
from liveroom.coupons.store import Stored, TemplateStore
from liveroom.engine.base import Engine
from liveroom.errors import Refusal, Unavailable, internal_error
from liveroom.rules import coupon as rules
from liveroom.rules import draw as draw_rules
from liveroom.rules import sale as sale_rules
from liveroom.rules.sale import CheckoutOutcome, Hold, Sale, SaleConfig
from liveroom.sales.service import STOCK_SALES_MAX, SalesService, by_kind, room_event
from liveroom.sales.store import GrabRequest, SaleStore, new_id, now_ms
from liveroom.settings import Settings
from liveroom.tokens import Identity
from liveroom.types import Event, Feature, Frame, Join

if TYPE_CHECKING:
    from liveroom.hub import RoomChannel
    from liveroom.session import Session

log = logging.getLogger("liveroom.coupons")

DROPS_SHOWN = STOCK_SALES_MAX  # a welcome shows the room's most recent drops


@dataclass(frozen=True)
class Drop:
    """A coupon drop: a sale of kind `coupon` read at one instant."""

    sale: Sale

    @property
    def config(self) -> SaleConfig:
        return self.sale.config

    @property
    def drop_id(self) -> str:
        return self.sale.config.sale_id

    @property
    def remaining(self) -> int:
        return self.sale.available

    def public(self, now: int | None = None) -> dict[str, Any]:
        return self.sale.public(now_ms() if now is None else now)


@dataclass(frozen=True)
class Claim:
    """A claim's answer: the coupon, its hand-off, and whether the request id was seen."""

    coupon: dict[str, Any]
    ticket: dict[str, str]
    duplicate: bool

    def public(self) -> dict[str, Any]:
        return {"coupon": self.coupon, "ticket": self.ticket, "duplicate": self.duplicate}


@dataclass(frozen=True)
class Redemption:
    coupon: dict[str, Any]
    duplicate: bool
    discount_fen: int | None = None  # when the order's spend was given

    def public(self) -> dict[str, Any]:
        out: dict[str, Any] = {"coupon": self.coupon, "duplicate": self.duplicate}
        if self.discount_fen is not None:
            out["discount_fen"] = self.discount_fen
        return out


@dataclass(frozen=True)
class PhraseDrop:
    """What a process must know of an open phrase drop to take comments for it."""

    drop_id: str
    phrase: str
    ends_at: int  # ms; 0 = until stopped


@dataclass
class CouponService(Feature):
    settings: Settings
    engine: Engine
    sales: SalesService
    templates: TemplateStore
    # room -> drop id -> the open phrase drops this process knows of
    _phrases: dict[str, dict[str, PhraseDrop]] = field(default_factory=dict)
    _gone: set[str] = field(default_factory=set)  # drop ids known ended

    @property
    def store(self) -> SaleStore:
        """The sale store: drops and coupons are its sales and units."""
        return self.sales.store

    async def stop(self) -> None:
        await self.templates.close()

    def routes(self) -> list[BaseRoute]:
        return coupon_routes()

    # templates -------------------------------------------------------------------------
    async def put_template(self, raw: dict[str, Any], template_id: str) -> Stored:
        template = rules.build_template(raw, template_id, now_ms())
        stored = await self.templates.put(template)
        if stored is None:
            held = await self.templates.get(template_id)
            reserved = held.reserved if held else 0
            raise rules.CouponError(
                rules.BAD_COUPON,
                f"'total' is below the {reserved} coupons drops took of it already",
                term="total",
            )
        return stored

    async def template(self, template_id: str) -> Stored:
        stored = await self.templates.get(template_id)
        if stored is None:
            raise rules.CouponError(rules.NO_SUCH_TEMPLATE)
        return stored

    async def template_view(self, stored: Stored) -> dict[str, Any]:
        """The template with what its drops reserved, issued and had redeemed."""
        issued = redeemed = 0
        for room_id, drop_id in await self.templates.drops(stored.template.template_id):
            sale = await self.store.get_sale(room_id, drop_id)
            if sale is not None:
                issued += sale.sold
                redeemed += sale.redeemed
        return {
            **stored.template.public(),
            "reserved": stored.reserved,
            "left": stored.left,
            "issued": issued,
            "redeemed": redeemed,
        }

    # drops -----------------------------------------------------------------------------
    async def create_drop(
        self, room_id: str, raw: dict[str, Any], by: str, *, hidden: bool = False
    ) -> Drop:
        """Drop `raw["count"]` coupons of `raw["template_id"]` in the room. The count is
        reserved from the template's total first (refused with `template_exhausted` when
        it has fewer left). `drop_id` in `raw` is optional: a caller that names its drop
        (a lucky bag) can retry the create safely; the second answers `drop_exists` with
        the drop as it is. `hidden`: not announced to the room and not claimable by claim
        frames (a lucky bag's prizes, claimed by the server for each winner)."""
        template_id = raw.get("template_id")
        if not isinstance(template_id, str) or not sale_rules.is_safe_id(template_id):
            raise rules.CouponError(rules.BAD_DROP, "'template_id' is required")
        drop_id = raw.get("drop_id")
        if drop_id is None:
            drop_id = new_id("d")
        elif not isinstance(drop_id, str) or not sale_rules.is_safe_id(drop_id):
            raise rules.CouponError(rules.BAD_DROP, "'drop_id' must be 1-64 of A-Z a-z 0-9 _ - .")
        stored = await self.template(template_id)
        now = now_ms()
        cfg = rules.build_drop(
            raw, stored.template, drop_id=drop_id, room_id=room_id, now=now, hidden=hidden
        )
        # at most once per drop: the reservation of a first try that an outage cut short
        # (the drop may or may not exist) is the one a create sent again uses
        once = f"{room_id}/{drop_id}"
        reservation = await self.templates.reserve(template_id, cfg.stock, drop=once)
        if not reservation.found:
            raise rules.CouponError(rules.NO_SUCH_TEMPLATE)
        if not reservation.ok:
            raise rules.CouponError(rules.TEMPLATE_EXHAUSTED, left=reservation.left)
        self.sales.touch(room_id)
        try:
            sale = await self.store.create_sale(cfg)
        except sale_rules.SaleError as err:
            # refused: this try's reservation goes back. One made before (`again`) is the
            # existing drop's, made by the first try of this create
            if not reservation.again:
                await self.templates.unreserve(template_id, cfg.stock, drop=once)
            if err.code != "sale_exists":
                raise
            existing = await self.store.get_sale(room_id, drop_id)
            extra = {"drop": existing.public(now)} if existing else {}
            # sent again: the first try may have stored the drop and lost the room's news
            if existing is not None and existing.config.kind == sale_rules.COUPON:
                if existing.config.template_id == template_id:
                    retell = sale_rules.open_to_room(existing, now_ms())
                    await self._created(existing, by, announce=retell)
            raise rules.CouponError(
                "drop_exists", f"drop {drop_id} already exists", **extra
            ) from None
        await self._created(sale, by, announce=not hidden)
        return Drop(sale)

    async def _created(self, sale: Sale, by: str, *, announce: bool) -> None:
        cfg = sale.config
        await self.templates.add_drop(cfg.template_id, cfg.room_id, cfg.sale_id)
        if announce:
            await self.engine.publish(cfg.room_id, room_event(sale, "created", now_ms(), by))
            self._remember(cfg.room_id, cfg)
        self.sales.mark_dirty(cfg.room_id)

    async def drop(self, room_id: str, drop_id: str) -> Drop:
        sale = await self.store.get_sale(room_id, drop_id)
        if sale is None or sale.config.kind != sale_rules.COUPON:
            raise rules.CouponError(rules.NO_SUCH_DROP, drop_id=drop_id)
        return Drop(sale)

    async def drops(self, room_id: str) -> list[Drop]:
        sales = await self.store.list_sales(room_id)
        return [Drop(s) for s in by_kind(sales).get(sale_rules.COUPON, [])]

    async def stop_drop(self, room_id: str, drop_id: str, by: str) -> Drop:
        """No more claims; the coupons claimed stay valid. `drop_ended` reaches the room
        once, from the call that ended it."""
        try:
            sale = await self.sales.end_sale(room_id, drop_id, by, kind=sale_rules.COUPON)
        except sale_rules.SaleError:
            raise rules.CouponError(rules.NO_SUCH_DROP, drop_id=drop_id) from None
        self._forget(room_id, drop_id)
        return Drop(sale)

    async def on_sale_ended(self, sale: Sale) -> None:
        """A drop ended (the host's stop, or its end time): the coupons it did not give out
        go back to the template's total, once per drop, so the next drop can have them."""
        cfg = sale.config
        if cfg.kind != sale_rules.COUPON or sale.available <= 0:
            return
        once = f"{cfg.room_id}/{cfg.sale_id}"
        if await self.templates.release(cfg.template_id, sale.available, once=once):
            log.info("drop %s ended: %d coupons back to %s", once, sale.available, cfg.template_id)

    async def claims(self, room_id: str, drop_id: str) -> list[dict[str, Any]]:
        """Who claimed: every coupon of the drop, oldest first."""
        drop = await self.drop(room_id, drop_id)
        units = await self.store.holds(room_id, drop_id)
        units.sort(key=lambda c: (c.created_at, c.hold_id))
        now = now_ms()
        return [rules.view(u, drop.config).public(now) for u in units]

    # claims ----------------------------------------------------------------------------
    async def _drop_config(self, room_id: str, drop_id: str) -> SaleConfig:
        cfg = await self.sales.config(room_id, drop_id)
        if cfg is None or cfg.kind != sale_rules.COUPON:
            raise rules.CouponError(rules.NO_SUCH_DROP, drop_id=drop_id)
        return cfg

    async def claim(self, room_id: str, drop_id: str, ident: Identity, request_id: str) -> Claim:
        """Claim one coupon of the drop for `ident`, as a grab: refusals are the grab's
        (ended, not_started, members_only, tier_not_allowed, over_limit, sold_out) or
        no_such_drop / login_required; the same request id gets the same answer."""
        if ident.is_anonymous:
            raise Refusal("login_required", "anonymous viewers cannot claim coupons")
        cfg = await self._drop_config(room_id, drop_id)
        self.sales.touch(room_id)
        request = GrabRequest(
            sale_id=drop_id,
            uid=ident.uid,
            tier=ident.tier,
            qty=1,
            request_id=request_id,
            src=ident.src,
            ref=ident.ref,
        )
        outcome = await self.sales.batcher.grab(room_id, request)
        if outcome.refusal is not None:
            refusal = outcome.refusal
            if refusal.code == sale_rules.NO_SUCH_SALE:
                raise rules.CouponError(rules.NO_SUCH_DROP, drop_id=drop_id)
            raise refusal.with_extra(drop_id=drop_id)
        unit = outcome.hold
        assert unit is not None
        self.sales.mark_dirty(room_id)
        if not outcome.duplicate:
            self.sales.recorded(unit, unit.created_at)
        public = rules.view(unit, cfg).public(now_ms())
        return Claim(public, self._hand_off(unit), outcome.duplicate)

    async def claim_by_frame(
        self, room_id: str, drop_id: str, ident: Identity, request_id: str
    ) -> Claim:
        """A viewer's `claim` frame: a hidden drop is no drop to it, and a phrase drop is
        claimed by commenting its phrase."""
        if ident.is_anonymous:
            raise Refusal("login_required", "anonymous viewers cannot claim coupons")
        cfg = await self._drop_config(room_id, drop_id)
        if cfg.hidden:
            raise rules.CouponError(rules.NO_SUCH_DROP, drop_id=drop_id)
        if cfg.phrase:
            raise rules.CouponError(rules.PHRASE_ONLY, drop_id=drop_id, phrase=cfg.phrase)
        return await self.claim(room_id, drop_id, ident, request_id)

    def _hand_off(self, unit: Hold) -> dict[str, str]:
        s = self.settings
        return ticket.hand_off(s.merchant_key, unit, s.coupon_appid, s.coupon_page)

    async def coupons_of(self, room_id: str, uid: str) -> list[dict[str, Any]]:
        """The viewer's coupons in this room, each {coupon, ticket}, oldest first."""
        return await self._coupons_shown(room_id, await self.sales.units(room_id, uid))

    async def _coupons_shown(self, room_id: str, units: list[Hold]) -> list[dict[str, Any]]:
        out, now = [], now_ms()
        for unit in units:
            if unit.kind != sale_rules.COUPON:
                continue
            cfg = await self.sales.config(room_id, unit.sale_id)
            if cfg is not None:
                out.append(
                    {"coupon": rules.view(unit, cfg).public(now), "ticket": self._hand_off(unit)}
                )
        return out

    # the hand-off ----------------------------------------------------------------------
    async def redeem(
        self,
        ticket_text: Any,
        order_id: str,
        room_id: str | None = None,
        spend_fen: int | None = None,
        skus: list[str] | None = None,
    ) -> Redemption:
        """Redeem the ticket's coupon by an order: idempotent by order id (the same order
        again is a duplicate), at most once (another order: coupon_redeemed), within its
        validity (coupon_expired, coupon_not_valid_yet). With the order's spend (and
        skus), a coupon that does not apply is refused (coupon_not_applicable) and the
        answer says what it takes off."""
        t = ticket.verify(self.settings.merchant_key, ticket_text)
        if room_id is not None and room_id != t.room_id:
            raise rules.CouponError("wrong_room", "the ticket is of a coupon of another room")
        unit = await self.store.get_hold(t.room_id, t.coupon_id)
        if unit is None or unit.kind != sale_rules.COUPON:
            raise rules.CouponError(rules.NO_SUCH_COUPON)
        cfg = await self._drop_config(t.room_id, unit.sale_id)
        discount = None
        if spend_fen is not None:
            discount = rules.discount_fen(rules.terms_of(cfg), spend_fen, skus)
        self.sales.touch(t.room_id)
        now = now_ms()
        outcome: CheckoutOutcome = await self.store.confirm(t.room_id, t.coupon_id, order_id, now)
        self.sales.checkout_recorded(outcome, now)
        unit = outcome.hold or unit
        public = rules.view(unit, cfg).public(now)
        if outcome.error:
            raise rules.CouponError(outcome.error, coupon=public)
        return Redemption(public, outcome.duplicate, discount)

    # the room --------------------------------------------------------------------------
    async def on_join(self, join: Join, welcome: Frame) -> None:
        """The room's recent drops, and a logged-in viewer's coupons in this room."""
        room_id, ident = join.room_id, join.ident
        try:
            _, sales = await self.sales.shop(room_id)  # the sales' shared read: no cost
            every = by_kind(sales).get(sale_rules.COUPON, [])
            drops = [s for s in every if not s.config.hidden]
            now = now_ms()
            welcome["drops"] = [s.public(now) for s in drops[-DROPS_SHOWN:]]
            for s in drops:
                if s.config.phrase and not sale_rules.is_ended(s.config, s.ended_at, now):
                    self._remember(room_id, s.config)
            if not ident.is_anonymous and not ident.is_host:
                # a room that never had a drop holds no coupons: no read for its joins
                units = await self.sales.units_at_join(join) if every else []
                welcome["coupons"] = await self._coupons_shown(room_id, units)
        except Unavailable:
            return  # the room still works; drops fill in with the next events

    def on_room_event(self, channel: RoomChannel, event: Event) -> None:
        etype = event.get("type")
        if etype == "drop":
            drop = event.get("drop") or {}
            if drop.get("status") == "ended":
                self._forget(channel.id, drop.get("drop_id", ""))
            elif drop.get("phrase"):
                listing = PhraseDrop(drop["drop_id"], drop["phrase"], drop.get("ends_at") or 0)
                self._remember_listing(channel.id, listing)
        elif etype == "drop_ended":
            self._forget(channel.id, event.get("drop_id", ""))

    def _remember(self, room_id: str, cfg: SaleConfig) -> None:
        if cfg.phrase and not cfg.hidden:
            self._remember_listing(room_id, PhraseDrop(cfg.sale_id, cfg.phrase, cfg.ends_at))

    def _remember_listing(self, room_id: str, listing: PhraseDrop) -> None:
        if listing.drop_id not in self._gone:
            self._phrases.setdefault(room_id, {})[listing.drop_id] = listing

    def _forget(self, room_id: str, drop_id: str) -> None:
        self._gone.add(drop_id)
        if len(self._gone) > 10_000:
            self._gone = {drop_id}
        listings = self._phrases.get(room_id)
        if listings is not None:
            listings.pop(drop_id, None)
            if not listings:
                del self._phrases[room_id]

    async def on_comment(self, session: Session, event: Event) -> None:
        """A comment carrying an open phrase drop's phrase claims one coupon for its
        author: the `coupon` frame reaches every connection they have in the room, on
        every process; a refusal other than already having one comes back to the
        commenting connection as `coupon_refused`."""
        listings = self._phrases.get(session.room_id)
        if not listings or event.get("host"):
            return
        now = now_ms()
        text = event.get("text", "")
        for listing in list(listings.values()):
            if listing.ends_at and listing.ends_at <= now:
                self._forget(session.room_id, listing.drop_id)
                continue
            if not draw_rules.phrase_matches(text, listing.phrase):
                continue
            await self._phrase_claim(session, listing)

    async def _phrase_claim(self, session: Session, listing: PhraseDrop) -> None:
        room_id, ident = session.room_id, session.ident
        refused: Refusal | None = None
        try:
            # one request id per (drop, viewer): a viewer gets one, whichever process
            claim = await self.claim(room_id, listing.drop_id, ident, f"phrase.{listing.drop_id}")
        except Refusal as err:
            refused = err
        except Unavailable:
            log.warning("phrase claim in %s: store unavailable", room_id)
            refused = Refusal("unavailable", "comment it again in a moment")
        except Exception:
            refused = internal_error(log, "phrase claim failed in %s", room_id)
        if refused is not None:
            if refused.code == sale_rules.OVER_LIMIT:
                return  # they have theirs already
            if refused.code == sale_rules.ENDED:
                self._forget(room_id, listing.drop_id)
            session.conn.send(
                {
                    "t": "coupon_refused",
                    "drop_id": listing.drop_id,
                    "code": refused.code,
                    "message": refused.message,
                }
            )
            return
        if claim.duplicate:
            return  # said already, when it was claimed
        frame = {"t": "coupon", "drop_id": listing.drop_id, **claim.public()}
        del frame["duplicate"]
        # every connection the viewer has in the room, on every process, once
        await self.engine.send_personal(room_id, ident.uid, frame)
