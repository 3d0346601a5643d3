"""Flash-sale rules: what a valid sale is, and what a grab, a confirm or a cancel may do.

Pure: no I/O, times are unix milliseconds passed in. The memory store calls these
functions directly; the Redis store runs the same decisions inside one Lua script per
operation (liveroom/redis/lua/sale_*.lua), and one contract suite runs both stores against these
rules, so the three cannot drift apart. Check order matters and is the same everywhere:
ended, then not started / members only, then over the limit, then sold out.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from liveroom import errors

# Refusal codes a viewer sees in the error frame of a grab.
NO_SUCH_SALE = "no_such_sale"
NOT_STARTED = "not_started"
MEMBERS_ONLY = "members_only"
SOLD_OUT = "sold_out"
OVER_LIMIT = "over_limit"
ENDED = "ended"
TIER_NOT_ALLOWED = "tier_not_allowed"
REFUSALS = (NO_SUCH_SALE, NOT_STARTED, MEMBERS_ONLY, SOLD_OUT, OVER_LIMIT, ENDED, TIER_NOT_ALLOWED)

# Hold states: a hold ends exactly once, in one of the three final states.
HELD = "held"
PAID = "paid"
CANCELLED = "cancelled"
EXPIRED = "expired"
FINAL = (PAID, CANCELLED, EXPIRED)
# Coupon states (a coupon is the unit of a `coupon` sale, a drop): issued at the claim,
# then redeemed once by an order, or expired at its valid_until; it never returns stock.
ISSUED = "issued"
REDEEMED = "redeemed"
# a unit in one of these is still to end (the sweep's `due` set holds exactly these)
OPEN_UNITS = (HELD, ISSUED)

# Kinds of sale (see KINDS below).
PRODUCT = "product"
COUPON = "coupon"

# Checkout outcomes besides the final states above.
HOLD_EXPIRED = "hold_expired"
HOLD_CANCELLED = "hold_cancelled"
ALREADY_PAID = "already_paid"
ORDER_CONFLICT = "order_conflict"
NO_SUCH_HOLD = "no_such_hold"

DEFAULT_MEMBER_TIERS = ("member", "vip")
MAX_STOCK = 1_000_000
MAX_PRICE_FEN = 100_000_000  # one million yuan
MAX_LIMIT = 1000
MAX_HOLD_S = 3600
MAX_EARLY_S = 86_400
MAX_TIERS = 10


class SaleError(errors.Refusal, ValueError):
    """A sale request (a product, a sale, a grab, a checkout) that cannot be honoured;
    `code` is what the caller sees, on the socket and over HTTP alike."""

    def __init__(self, code: str, message: str = "", **extra: Any) -> None:
        super().__init__(code, message or MESSAGES.get(code, code), **extra)


@dataclass(frozen=True)
class Product:
    """What the merchant sells; a sale copies what it needs so a grab reads one room only."""

    sku: str
    title: str
    price_fen: int
    image: str = ""
    appid: str = ""  # WeChat mini-program that takes the order
    page: str = ""  # its checkout page path, e.g. pages/checkout/index

    def public(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SaleConfig:
    sale_id: str
    room_id: str
    sku: str
    title: str
    price_fen: int
    stock: int
    limit_per_user: int
    starts_at: int  # ms
    hold_s: int
    ends_at: int = 0  # ms; 0 = until ended by hand
    early_access_s: int = 0  # members may grab this long before starts_at
    member_tiers: tuple[str, ...] = DEFAULT_MEMBER_TIERS
    image: str = ""
    appid: str = ""
    page: str = ""
    created_at: int = 0
    # what a unit of this sale is (KINDS): a product hold, or a coupon (a drop)
    kind: str = PRODUCT
    template_id: str = ""  # coupon: the template dropped
    coupon: str = ""  # coupon: JSON of the coupon's terms and validity (rules/coupon.py)
    phrase: str = ""  # claimed by commenting this pass phrase instead of a claim frame
    hidden: bool = False  # not announced to the room, taken only by the server (lucky bags)
    allowed_tiers: tuple[str, ...] = ()  # tiers that may take part at all; empty = everyone


@dataclass(frozen=True)
class Sale:
    """A sale's terms with its counters read at one instant."""

    config: SaleConfig
    available: int
    held: int
    sold: int
    started: bool = False  # the sale_started event has been emitted
    ended_at: int = 0  # ms when it ended (by hand or by its end time); 0 while open
    redeemed: int = 0  # a drop: its coupons redeemed so far

    def status(self, now: int) -> str:
        if is_ended(self.config, self.ended_at, now):
            return "ended"
        return "live" if now >= self.config.starts_at else "scheduled"

    def public(self, now: int) -> dict[str, Any]:
        """What the room sees of it, by its kind: a sale, or a coupon drop."""
        return KINDS[self.config.kind].public(self, now)

    def _sale_public(self, now: int) -> dict[str, Any]:
        c = self.config
        return {
            "sale_id": c.sale_id,
            "sku": c.sku,
            "title": c.title,
            "image": c.image,
            "price_fen": c.price_fen,
            "stock": c.stock,
            "available": self.available,
            "limit_per_user": c.limit_per_user,
            "starts_at": c.starts_at,
            "ends_at": self.ended_at or c.ends_at,
            "early_access_s": c.early_access_s,
            "member_tiers": list(c.member_tiers),
            "hold_s": c.hold_s,
            "status": self.status(now),
        }

    def _drop_public(self, now: int) -> dict[str, Any]:
        c = self.config
        terms = json.loads(c.coupon) if c.coupon else {}
        out = {
            "drop_id": c.sale_id,
            "template_id": c.template_id,
            "title": c.title,
            "coupon": terms,
            "count": c.stock,
            "remaining": self.available,
            "limit_per_user": c.limit_per_user,
            "starts_at": c.starts_at,
            "ends_at": self.ended_at or c.ends_at,
            "early_access_s": c.early_access_s,
            "member_tiers": list(c.member_tiers),
            "status": self.status(now),
        }
        if c.phrase:
            out["phrase"] = c.phrase
        if c.hidden:
            out["hidden"] = True
        return out

    def counters(self) -> dict[str, int]:
        return {
            "stock": self.config.stock,
            "available": self.available,
            "held": self.held,
            "sold": self.sold,
        }


@dataclass(frozen=True)
class Hold:
    hold_id: str
    room_id: str
    sale_id: str
    uid: str
    qty: int
    price_fen: int
    sku: str
    created_at: int
    expires_at: int
    status: str = HELD
    order_id: str = ""
    request_id: str = ""
    ended_at: int = 0
    src: str = ""  # the buyer's source channel (token `src`): wecom_group, moments, ...
    ref: str = ""  # the share code the buyer came through (liveroom/rules/attribution.py)
    nick: str = ""  # the buyer's nick (token `nick`), for the room's social proof
    # a coupon (kind COUPON): `hold_id` is the coupon id, `expires_at` its valid_until,
    # `valid_from` when it may first be redeemed, `order_id` the order that redeemed it
    kind: str = PRODUCT
    valid_from: int = 0

    def public(self) -> dict[str, Any]:
        return asdict(self)


class Refusal(SaleError):
    """Why a grab was refused, as the rules (memory store) or the grab script (Redis store)
    decided it: the refusal the viewer gets, with the figures that say why."""

    def __init__(
        self,
        code: str,
        message: str = "",
        *,
        available: int | None = None,
        limit_left: int | None = None,
        starts_at: int | None = None,
    ) -> None:
        figures = {"available": available, "limit_left": limit_left, "starts_at": starts_at}
        super().__init__(code, message, **{k: v for k, v in figures.items() if v is not None})

    def public(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.extra}


MESSAGES = {
    NO_SUCH_SALE: "there is no such sale in this room",
    TIER_NOT_ALLOWED: "your member tier cannot take part in this",
    NOT_STARTED: "the sale has not started yet",
    MEMBERS_ONLY: "members only for now; the sale opens to everyone at starts_at",
    SOLD_OUT: "sold out",
    OVER_LIMIT: "over your per-user limit for this sale",
    ENDED: "the sale has ended",
    HOLD_EXPIRED: "the hold expired before payment; its stock went back on sale",
    HOLD_CANCELLED: "the hold was cancelled",
    ALREADY_PAID: "the hold is already paid",
    ORDER_CONFLICT: "that order id already confirmed a different hold",
    NO_SUCH_HOLD: "there is no such hold",
}


# -- sale configuration --------------------------------------------------------------------


def _int(
    raw: Mapping[str, Any],
    name: str,
    default: int | None,
    lo: int,
    hi: int,
    code: str = "bad_sale",
) -> int:
    value = raw.get(name, default)
    if value is None:
        raise SaleError(code, f"{name!r} is required")
    if isinstance(value, bool) or not isinstance(value, int):
        raise SaleError(code, f"{name!r} must be an integer")
    if not lo <= value <= hi:
        raise SaleError(code, f"{name!r} must be between {lo} and {hi}")
    return value


@dataclass(frozen=True)
class Window:
    """When a sale (or a drop) opens and closes, and who may come early."""

    starts_at: int
    ends_at: int
    early_access_s: int
    member_tiers: tuple[str, ...]


def build_window(raw: Mapping[str, Any], now: int, code: str = "bad_sale") -> Window:
    """starts_at (ms) or starts_in_s (0 = now), duration_s or ends_at (ms), early_access_s,
    member_tiers: the same terms and answers for sales and coupon drops."""
    early = _int(raw, "early_access_s", 0, 0, MAX_EARLY_S, code)
    if "starts_at" in raw and "starts_in_s" in raw:
        raise SaleError(code, "give starts_at or starts_in_s, not both")
    if "starts_at" in raw:
        starts_at = _int(raw, "starts_at", None, 0, 2**53, code)
    else:
        starts_at = now + 1000 * _int(raw, "starts_in_s", 0, 0, 30 * 86_400, code)
    starts_at = max(starts_at, 0)
    if "ends_at" in raw and "duration_s" in raw:
        raise SaleError(code, "give ends_at or duration_s, not both")
    ends_at = 0
    if "ends_at" in raw:
        ends_at = _int(raw, "ends_at", None, 0, 2**53, code)
    elif "duration_s" in raw:
        ends_at = starts_at + 1000 * _int(raw, "duration_s", None, 1, 30 * 86_400, code)
    if ends_at and ends_at <= max(starts_at, now):
        raise SaleError(code, "it would end before it starts")
    tiers = raw.get("member_tiers", list(DEFAULT_MEMBER_TIERS))
    if not is_tier_list(tiers):
        raise SaleError(code, f"'member_tiers' must be a list of at most {MAX_TIERS} tier names")
    if early and not tiers:
        raise SaleError(code, "an early access window needs member_tiers")
    return Window(starts_at, ends_at, early, tuple(tiers))


def is_tier_list(tiers: Any) -> bool:
    return (
        isinstance(tiers, list | tuple)
        and len(tiers) <= MAX_TIERS
        and all(isinstance(t, str) and 0 < len(t) <= 32 for t in tiers)
    )


def build_sale(
    raw: Mapping[str, Any], product: Product, *, sale_id: str, room_id: str, now: int
) -> SaleConfig:
    """Turn a host frame or merchant request into sale terms, or raise SaleError.

    Accepted fields: stock, price_fen (defaults to the product price), limit_per_user,
    starts_at (ms) or starts_in_s (0 = now), duration_s or ends_at (ms), early_access_s,
    member_tiers, hold_s.
    """
    stock = _int(raw, "stock", None, 1, MAX_STOCK)
    price = _int(raw, "price_fen", product.price_fen, 0, MAX_PRICE_FEN)
    limit = _int(raw, "limit_per_user", 1, 1, MAX_LIMIT)
    hold_s = _int(raw, "hold_s", 300, 1, MAX_HOLD_S)
    window = build_window(raw, now)
    return SaleConfig(
        sale_id=sale_id,
        room_id=room_id,
        sku=product.sku,
        title=product.title,
        price_fen=price,
        stock=stock,
        limit_per_user=limit,
        starts_at=window.starts_at,
        hold_s=hold_s,
        ends_at=window.ends_at,
        early_access_s=window.early_access_s,
        member_tiers=window.member_tiers,
        image=product.image,
        appid=product.appid,
        page=product.page,
        created_at=now,
    )


def build_product(raw: Mapping[str, Any], sku: str | None = None) -> Product:
    """Validate a merchant's product definition, or raise SaleError("bad_product")."""
    sku = sku if sku is not None else raw.get("sku")
    if not isinstance(sku, str) or not is_safe_id(sku):
        raise SaleError("bad_product", "'sku' must be 1-64 of A-Z a-z 0-9 _ - .")
    title = raw.get("title")
    if not isinstance(title, str) or not 0 < len(title) <= 200:
        raise SaleError("bad_product", "'title' must be a string of 1-200 characters")
    price = raw.get("price_fen")
    if isinstance(price, bool) or not isinstance(price, int) or not 0 <= price <= MAX_PRICE_FEN:
        raise SaleError("bad_product", f"'price_fen' must be an integer 0..{MAX_PRICE_FEN}")
    texts = {}
    for name, max_len in (("image", 1000), ("appid", 64), ("page", 500)):
        value = raw.get(name, "")
        if not isinstance(value, str) or len(value) > max_len:
            raise SaleError("bad_product", f"{name!r} must be a string of at most {max_len}")
        texts[name] = value
    return Product(sku=sku, title=title, price_fen=price, **texts)


def is_safe_id(text: str) -> bool:
    """1-64 of A-Z a-z 0-9 _ - . (fits a Redis key and a URL path segment as is)."""
    return 0 < len(text) <= 64 and all(c.isascii() and (c.isalnum() or c in "_-.") for c in text)


# -- decisions -------------------------------------------------------------------------------


def is_ended(cfg: SaleConfig, ended_at: int, now: int) -> bool:
    return bool(ended_at and now >= ended_at) or bool(cfg.ends_at and now >= cfg.ends_at)


def open_to_room(sale: Sale, now: int) -> bool:
    """A sale (or drop) the room is shown and can still take part in. When a create sent
    again finds it, the room is told of it again: the first try may have stored it and
    lost the news, and the `sale` and `drop` events carry the whole sale (a client
    replaces the card it has)."""
    return not sale.config.hidden and not is_ended(sale.config, sale.ended_at, now)


def grab_refusal(
    cfg: SaleConfig, *, ended_at: int, available: int, taken: int, tier: str, qty: int, now: int
) -> Refusal | None:
    """Why this grab is refused, or None when it may reserve `qty` units.

    `taken` is what the user already holds or bought in this sale.
    """
    if is_ended(cfg, ended_at, now):
        return Refusal(ENDED)
    if now < cfg.starts_at:
        opens = cfg.starts_at - 1000 * cfg.early_access_s
        if now < opens:
            return Refusal(NOT_STARTED, starts_at=cfg.starts_at)
        if tier not in cfg.member_tiers:
            return Refusal(MEMBERS_ONLY, starts_at=cfg.starts_at)
    if cfg.allowed_tiers and tier not in cfg.allowed_tiers:
        return Refusal(TIER_NOT_ALLOWED)
    if taken + qty > cfg.limit_per_user:
        return Refusal(OVER_LIMIT, limit_left=max(cfg.limit_per_user - taken, 0))
    if available < qty:
        return Refusal(SOLD_OUT, available=available)
    return None


def hold_expires_at(cfg: SaleConfig, now: int) -> int:
    return now + 1000 * cfg.hold_s


def is_due(hold: Hold, now: int) -> bool:
    """An unpaid hold past its expiry (its stock must go back, once), or an unredeemed
    coupon past its valid_until (it expires, once; its stock stays given out)."""
    return hold.status == KINDS[hold.kind].unit_status and now >= hold.expires_at


def confirm_decision(hold: Hold, order_id: str, now: int) -> str:
    """ "pay", "duplicate" (this order already paid it), or an error code."""
    if hold.status == PAID:
        return "duplicate" if hold.order_id == order_id else ALREADY_PAID
    if hold.status == CANCELLED:
        return HOLD_CANCELLED
    if hold.status == EXPIRED or is_due(hold, now):
        return HOLD_EXPIRED
    return "pay"


def cancel_decision(hold: Hold, now: int) -> str:
    """ "cancel", "duplicate" (already cancelled), or an error code."""
    if hold.status == CANCELLED:
        return "duplicate"
    if hold.status == PAID:
        return ALREADY_PAID
    if hold.status == EXPIRED or is_due(hold, now):
        return HOLD_EXPIRED
    return "cancel"


def sale_transitions(cfg: SaleConfig, *, started: bool, ended_at: int, now: int) -> list[str]:
    """Which lifecycle events are due now: "started" and/or "ended" (each emitted once)."""
    due = []
    if not started and now >= cfg.starts_at:
        due.append("started")
    if not ended_at and cfg.ends_at and now >= cfg.ends_at:
        due.append("ended")
    return due


def next_timer(cfg: SaleConfig, *, started: bool, ended_at: int) -> int:
    """When the sweeper should look at this sale next (ms), or 0 for never."""
    if not started:
        return cfg.starts_at
    if not ended_at and cfg.ends_at:
        return cfg.ends_at
    return 0


# -- invariants ------------------------------------------------------------------------------


def invariant_violations(
    sale: Sale, takens: Mapping[str, int], holds: list[Hold] | None = None
) -> list[str]:
    """Every way the stored state breaks DESIGN.md's flash-sale invariants (empty = sound).

    `takens` is units held or sold per user; `holds` (when given) every unit of the sale
    (holds, or the coupons of a drop: issued, redeemed and expired coupons all count as
    given out, so `available + held + sold == stock` holds for drops too).
    """
    out = []
    c = sale.config
    kind = KINDS[c.kind]
    if sale.available + sale.held + sale.sold != c.stock:
        out.append(
            f"available {sale.available} + held {sale.held} + sold {sale.sold} != stock {c.stock}"
        )
    if min(sale.available, sale.held, sale.sold) < 0:
        out.append(f"negative counter: {sale.counters()}")
    for uid, n in takens.items():
        if n > c.limit_per_user or n < 0:
            out.append(f"user {uid} has {n} units, limit {c.limit_per_user}")
    if sum(takens.values()) != sale.held + sale.sold:
        out.append(f"per-user units {sum(takens.values())} != held + sold {sale.held + sale.sold}")
    if holds is not None:
        held = sum(h.qty for h in holds if h.status in kind.held)
        sold = sum(h.qty for h in holds if h.status in kind.sold)
        if (held, sold) != (sale.held, sale.sold):
            out.append(f"holds say held {held} sold {sold}; counters {sale.held} {sale.sold}")
        per_user: dict[str, int] = {}
        for h in holds:
            if h.status in kind.held + kind.sold:
                per_user[h.uid] = per_user.get(h.uid, 0) + h.qty
        if {u: n for u, n in takens.items() if n} != per_user:
            out.append("per-user counters disagree with the holds")
    return out


# -- kinds -----------------------------------------------------------------------------------


def _hold_fields(hold: Hold) -> dict[str, Any]:
    return {
        "sale_id": hold.sale_id,
        "hold_id": hold.hold_id,
        "uid": hold.uid,
        "sku": hold.sku,
        "qty": hold.qty,
        "price_fen": hold.price_fen,
        "order_id": hold.order_id,
        "src": hold.src,
        "ref": hold.ref,
    }


def _coupon_fields(coupon: Hold) -> dict[str, Any]:
    return {
        "drop_id": coupon.sale_id,
        "coupon_id": coupon.hold_id,
        "uid": coupon.uid,
        "order_id": coupon.order_id,
        "valid_until": coupon.expires_at,
        "src": coupon.src,
        "ref": coupon.ref,
    }


@dataclass(frozen=True)
class Kind:
    """What a sale of one kind hands out, how its units live, and what its changes are
    called in the room and in the commerce stream: the one place a kind's behaviour is
    decided. The sale scripts mirror the unit rules (lib_sale.lua: `is_due`, `end_hold`,
    sale_grab.lua's coupon branch); the contract suite holds both stores to one answer."""

    unit_status: str  # a new unit's status
    held: tuple[str, ...]  # unit statuses counted in `held`
    sold: tuple[str, ...]  # unit statuses counted in `sold` (given out for good)
    returns_stock: bool  # an expired or cancelled unit's stock goes back on sale
    # commerce stream event per moment of the sale (created, started, ended; "" = none)
    # and per status a unit reaches
    events: Mapping[str, str]
    unit_fields: Callable[[Hold], dict[str, Any]]  # a unit event's fields besides ts
    # room event per moment (created, started, ended): an event named as `created` is
    # carries the whole view under `view_key`, any other the id under `id_field`
    room: Mapping[str, str]
    view_key: str
    id_field: str
    state: str  # the tick state that carries its live count (latest value per tick)
    public: Callable[[Sale, int], dict[str, Any]]


KINDS: dict[str, Kind] = {
    PRODUCT: Kind(
        unit_status=HELD,
        held=(HELD,),
        sold=(PAID,),
        returns_stock=True,
        events={
            "created": "sale_created",
            "started": "sale_started",
            "ended": "sale_ended",
            HELD: "hold_created",
            PAID: "hold_paid",
            CANCELLED: "hold_cancelled",
            EXPIRED: "hold_expired",
        },
        unit_fields=_hold_fields,
        room={"created": "sale", "started": "sale_started", "ended": "sale_ended"},
        view_key="sale",
        id_field="sale_id",
        state="stock",
        public=Sale._sale_public,
    ),
    COUPON: Kind(
        unit_status=ISSUED,
        held=(),
        sold=(ISSUED, REDEEMED, EXPIRED),
        returns_stock=False,
        events={
            "created": "drop_created",
            "started": "",
            "ended": "drop_ended",
            ISSUED: "coupon_issued",
            REDEEMED: "coupon_redeemed",
            EXPIRED: "coupon_expired",
        },
        unit_fields=_coupon_fields,
        room={"created": "drop", "started": "drop", "ended": "drop_ended"},
        view_key="drop",
        id_field="drop_id",
        state="drops",
        public=Sale._drop_public,
    ),
}


def sale_fields(cfg: SaleConfig) -> dict[str, Any]:
    """A sale event's fields besides ts (stream.EVENT_TYPES sale_* and drop_*)."""
    if cfg.kind == COUPON:
        return {
            "drop_id": cfg.sale_id,
            "template_id": cfg.template_id,
            "count": cfg.stock,
            "starts_at": cfg.starts_at,
            "ends_at": cfg.ends_at,
            "phrase": cfg.phrase,
        }
    return {
        "sale_id": cfg.sale_id,
        "sku": cfg.sku,
        "stock": cfg.stock,
        "price_fen": cfg.price_fen,
        "starts_at": cfg.starts_at,
    }


@dataclass
class GrabOutcome:
    """What a grab answered: a hold or a refusal; `duplicate` for a retried request id."""

    hold: Hold | None = None
    refusal: Refusal | None = None
    duplicate: bool = False


@dataclass
class CheckoutOutcome:
    """A confirm or cancel: the hold after it, or an error code (and the hold as it is)."""

    hold: Hold | None = None
    error: str = ""
    duplicate: bool = False


@dataclass
class SweepResult:
    expired: list[Hold] = field(default_factory=list)
    started: list[str] = field(default_factory=list)  # sale ids
    ended: list[str] = field(default_factory=list)
    # asked for (check_idle, a full sweep): the ends whose listeners have not all been told
    # (SaleStore.told_end), what a process that died right after ending a sale left undone
    untold: list[str] = field(default_factory=list)
    # and whether nothing is left for any sweep to do in the room (room_idle)
    idle: bool = False


def room_idle(every_sale_ended: bool, open_units: int, untold_ends: int) -> bool:
    """A room no sweep has anything left to do in: every sale ended (no grab can make a
    hold, no start or end is due), no hold or coupon still open (nothing to expire), and
    every end told to its listeners. The stores decide it in the same step as a sweep
    (the Redis store in sale_sweep.lua, by the same three counts)."""
    return every_sale_ended and open_units == 0 and untold_ends == 0
