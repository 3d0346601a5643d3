"""Coupon rules: what a valid template is, what a drop of it is, when a coupon is valid,
what it takes off an order, and what a redemption may do.

Pure: no I/O, times are unix milliseconds passed in. A drop is a sale of kind `coupon`
(rules.sale.KINDS): its terms are checked here and it is then stored, claimed and expired by
the flash-sale machinery (liveroom/sales), so a claim has every guarantee a grab has. The
memory sale store calls `validity` and `redeem_decision` directly; the sale scripts make the
same decisions in Lua (sale_grab.lua's coupon branch, sale_confirm.lua's redeem branch), and
one contract suite holds both stores to these rules.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from liveroom.errors import Refusal
from liveroom.rules import draw as draw_rules
from liveroom.rules import sale as sale_rules
from liveroom.rules.sale import SaleConfig

AMOUNT_OFF = "amount_off"
PERCENT_OFF = "percent_off"
THRESHOLD = "threshold"  # 满减: spend spend_fen, get amount_fen off
GIFT = "gift"  # 满赠: spend spend_fen, get gift_sku
# each kind's own terms (required, then optional)
KIND_TERMS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    AMOUNT_OFF: (("amount_fen",), ()),
    PERCENT_OFF: (("percent",), ("max_off_fen",)),
    THRESHOLD: (("spend_fen", "amount_fen"), ()),
    GIFT: (("spend_fen", "gift_sku"), ()),
}
ALL_KIND_TERMS = ("amount_fen", "percent", "max_off_fen", "spend_fen", "gift_sku")
COMMON_TERMS = (
    "title",
    "kind",
    "min_spend_fen",
    "valid_from",
    "valid_until",
    "valid_days",
    "skus",
    "total",
    "limit_per_user",
    "member_tiers",
)

MAX_TITLE = 60
MAX_TOTAL = 100_000_000
MAX_DAYS = 3650
MAX_SKUS = 200
MAX_COUNT = sale_rules.MAX_STOCK
DAY_MS = 86_400_000
MAX_MS = 9_999_999_999_999  # times past this (year 2286) do not print as integers in Lua

# Codes: a template's or a drop's bad terms, and what a redemption may answer.
BAD_COUPON = "bad_coupon"
BAD_DROP = "bad_drop"
NO_SUCH_TEMPLATE = "no_such_template"
TEMPLATE_EXHAUSTED = "template_exhausted"
NO_SUCH_DROP = "no_such_drop"
NO_SUCH_COUPON = "no_such_coupon"
PHRASE_ONLY = "phrase_only"
COUPON_REDEEMED = "coupon_redeemed"
COUPON_EXPIRED = "coupon_expired"
COUPON_NOT_VALID_YET = "coupon_not_valid_yet"
COUPON_NOT_APPLICABLE = "coupon_not_applicable"

MESSAGES = {
    NO_SUCH_TEMPLATE: "there is no such coupon template",
    TEMPLATE_EXHAUSTED: "the template has fewer coupons left than this drop's count",
    NO_SUCH_DROP: "there is no such coupon drop in this room",
    NO_SUCH_COUPON: "there is no such coupon",
    PHRASE_ONLY: "this drop is claimed by commenting its pass phrase",
    COUPON_REDEEMED: "the coupon was already redeemed by another order",
    COUPON_EXPIRED: "the coupon has expired",
    COUPON_NOT_VALID_YET: "the coupon is not valid yet",
    COUPON_NOT_APPLICABLE: "the coupon does not apply to this order",
}


class CouponError(Refusal, ValueError):
    """A template, drop, claim or redemption that cannot be honoured; `code` is what the
    caller sees, on the socket and over HTTP alike."""

    def __init__(self, code: str, message: str = "", **extra: Any) -> None:
        super().__init__(code, message or MESSAGES.get(code, code), **extra)


@dataclass(frozen=True)
class Template:
    """A merchant's coupon definition; drops copy its terms, so a template replaced later
    leaves the coupons already dropped as they were."""

    template_id: str
    title: str
    kind: str
    total: int
    amount_fen: int = 0
    percent: int = 0
    max_off_fen: int = 0  # percent_off: the most it takes off; 0 = no cap
    spend_fen: int = 0
    gift_sku: str = ""
    min_spend_fen: int = 0
    valid_from: int = 0  # ms; with valid_until: a fixed window
    valid_until: int = 0  # ms
    valid_days: int = 0  # or: valid this many days from the claim
    skus: tuple[str, ...] = ()  # applicable skus; empty = every sku
    limit_per_user: int = 1
    member_tiers: tuple[str, ...] = ()  # tiers that may claim; empty = everyone
    created_at: int = 0

    def public(self) -> dict[str, Any]:
        out = asdict(self)
        out["skus"] = list(self.skus)
        out["member_tiers"] = list(self.member_tiers)
        return out

    def terms(self) -> dict[str, Any]:
        """The coupon's public terms: what a viewer is shown and a coupon carries."""
        required, optional = KIND_TERMS[self.kind]
        out: dict[str, Any] = {"title": self.title, "kind": self.kind}
        for name in (*required, *optional):
            out[name] = getattr(self, name)
        out["min_spend_fen"] = self.min_spend_fen
        out["skus"] = list(self.skus)
        if self.valid_days:
            out["valid_days"] = self.valid_days
        else:
            out["valid_from"] = self.valid_from
            out["valid_until"] = self.valid_until
        return out


def _int(raw: Mapping[str, Any], name: str, lo: int, hi: int, default: int | None = None) -> int:
    value = raw.get(name, default)
    if value is None:
        raise CouponError(BAD_COUPON, f"{name!r} is required", term=name)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise CouponError(BAD_COUPON, f"{name!r} must be an integer {lo}..{hi}", term=name)
    return value


def build_template(raw: Mapping[str, Any], template_id: str, now: int) -> Template:
    """A merchant's template body as terms, or CouponError("bad_coupon") naming the term.
    A term given as null is a term not given."""
    raw = {k: v for k, v in raw.items() if v is not None}
    if not isinstance(template_id, str) or not sale_rules.is_safe_id(template_id):
        raise CouponError(BAD_COUPON, "template id must be 1-64 of A-Z a-z 0-9 _ . -")
    if raw.get("template_id", template_id) != template_id:
        raise CouponError(BAD_COUPON, "the body's template_id differs from the path's")
    unknown = set(raw) - {*COMMON_TERMS, *ALL_KIND_TERMS, "template_id"}
    if unknown:
        name = sorted(unknown)[0]
        raise CouponError(BAD_COUPON, f"unknown term {name!r}", term=name)
    title = raw.get("title")
    if not isinstance(title, str) or not 0 < len(title.strip()) <= MAX_TITLE:
        raise CouponError(BAD_COUPON, f"'title' must be 1-{MAX_TITLE} characters", term="title")
    kind = raw.get("kind")
    if kind not in KIND_TERMS:
        raise CouponError(BAD_COUPON, f"'kind' must be one of {sorted(KIND_TERMS)}", term="kind")
    required, optional = KIND_TERMS[kind]
    for name in ALL_KIND_TERMS:
        if name in raw and name not in required + optional:
            raise CouponError(BAD_COUPON, f"{name!r} is not a term of {kind}", term=name)
    terms: dict[str, Any] = {}
    money = sale_rules.MAX_PRICE_FEN
    for name in (*required, *optional):
        if name == "gift_sku":
            sku = raw.get(name)
            if not isinstance(sku, str) or not sale_rules.is_safe_id(sku):
                raise CouponError(BAD_COUPON, "'gift_sku' must be a sku", term=name)
            terms[name] = sku
        elif name == "percent":
            terms[name] = _int(raw, name, 1, 99)
        elif name == "max_off_fen":
            terms[name] = _int(raw, name, 0, money, 0)
        else:
            terms[name] = _int(raw, name, 0 if name == "spend_fen" and kind == GIFT else 1, money)
    if kind == THRESHOLD and terms["amount_fen"] > terms["spend_fen"]:
        raise CouponError(BAD_COUPON, "'amount_fen' must not exceed 'spend_fen'", term="amount_fen")
    min_spend = _int(raw, "min_spend_fen", 0, money, 0)
    windowed = "valid_from" in raw or "valid_until" in raw
    if windowed == ("valid_days" in raw):
        raise CouponError(
            BAD_COUPON, "give valid_until (and valid_from) or valid_days", term="valid_until"
        )
    valid_from = valid_until = valid_days = 0
    if windowed:
        valid_from = _int(raw, "valid_from", 0, MAX_MS, 0)
        valid_until = _int(raw, "valid_until", 1, MAX_MS)
        if valid_until <= max(valid_from, now):
            raise CouponError(
                BAD_COUPON, "'valid_until' must be after valid_from and now", term="valid_until"
            )
    else:
        valid_days = _int(raw, "valid_days", 1, MAX_DAYS)
    skus = raw.get("skus", [])
    if (
        not isinstance(skus, list)
        or len(skus) > MAX_SKUS
        or not all(isinstance(s, str) and sale_rules.is_safe_id(s) for s in skus)
    ):
        raise CouponError(
            BAD_COUPON, f"'skus' must be a list of at most {MAX_SKUS} skus", term="skus"
        )
    tiers = raw.get("member_tiers", [])
    if not sale_rules.is_tier_list(tiers):
        raise CouponError(
            BAD_COUPON, "'member_tiers' must be a list of tier names", term="member_tiers"
        )
    return Template(
        template_id=template_id,
        title=title.strip(),
        kind=kind,
        total=_int(raw, "total", 1, MAX_TOTAL),
        min_spend_fen=min_spend,
        valid_from=valid_from,
        valid_until=valid_until,
        valid_days=valid_days,
        skus=tuple(dict.fromkeys(skus)),
        limit_per_user=_int(raw, "limit_per_user", 1, sale_rules.MAX_LIMIT, 1),
        member_tiers=tuple(tiers),
        created_at=now,
        **terms,
    )


def template_from_json(text: str) -> Template:
    data = json.loads(text)
    data["skus"] = tuple(data.get("skus", ()))
    data["member_tiers"] = tuple(data.get("member_tiers", ()))
    return Template(**data)


def template_json(template: Template) -> str:
    return json.dumps(template.public(), separators=(",", ":"), ensure_ascii=False)


# -- drops -----------------------------------------------------------------------------------


DROP_TERMS = (
    "template_id",
    "drop_id",
    "count",
    "starts_at",
    "starts_in_s",
    "duration_s",
    "ends_at",
    "early_access_s",
    "member_tiers",
    "phrase",
)


def build_drop(
    raw: Mapping[str, Any],
    template: Template,
    *,
    drop_id: str,
    room_id: str,
    now: int,
    hidden: bool = False,
) -> SaleConfig:
    """A host's or merchant's drop as the terms of a `coupon` sale, or CouponError("bad_drop").

    Accepted: count (1..1,000,000), starts_at or starts_in_s, duration_s or ends_at,
    early_access_s and member_tiers (members may claim early), phrase (claimed by
    commenting it). The template gives the rest: title, terms, validity, per-user limit,
    the tiers that may claim.
    """
    unknown = set(raw) - set(DROP_TERMS)
    if unknown:
        raise CouponError(BAD_DROP, f"unknown drop terms: {sorted(unknown)}")
    count = raw.get("count")
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise CouponError(BAD_DROP, f"'count' must be an integer 1..{MAX_COUNT}")
    try:
        window = sale_rules.build_window(raw, now, BAD_DROP)
    except sale_rules.SaleError as err:
        raise CouponError(err.code, err.message) from None
    phrase = ""
    if raw.get("phrase") not in (None, ""):
        try:
            phrase = draw_rules.check_phrase(raw["phrase"])
        except draw_rules.DrawRuleError as err:
            raise CouponError(BAD_DROP, err.message.replace("phrase draw", "phrase drop")) from None
    if template.valid_until and window.ends_at > template.valid_until:
        raise CouponError(BAD_DROP, "the drop would end after its coupons stop being valid")
    if template.valid_until and now >= template.valid_until:
        raise CouponError(BAD_DROP, "the template's coupons are no longer valid")
    return SaleConfig(
        sale_id=drop_id,
        room_id=room_id,
        sku="",
        title=template.title,
        price_fen=0,
        stock=count,
        limit_per_user=template.limit_per_user,
        starts_at=window.starts_at,
        hold_s=0,
        ends_at=window.ends_at,
        early_access_s=window.early_access_s,
        member_tiers=window.member_tiers,
        created_at=now,
        kind=sale_rules.COUPON,
        template_id=template.template_id,
        coupon=json.dumps(template.terms(), separators=(",", ":"), ensure_ascii=False),
        phrase=phrase,
        hidden=hidden,
        # a hidden drop's coupons go to whom its caller decides (a lucky bag's winners,
        # chosen under the draw's own eligibility), so the template's tiers are not asked
        allowed_tiers=() if hidden else template.member_tiers,
    )


# -- coupons ---------------------------------------------------------------------------------


def coupon_id_for(unit_id: str) -> str:
    """A coupon's id from the unit id a grab is given ("h_<hex>" -> "c_<hex>"), the same in
    both stores (sale_grab.lua does this too)."""
    return "c" + unit_id[1:]


def validity(terms: Mapping[str, Any], issued_at: int) -> tuple[int, int]:
    """(valid_from, valid_until) of a coupon claimed at `issued_at` under these terms."""
    days = int(terms.get("valid_days") or 0)
    if days:
        return issued_at, issued_at + days * DAY_MS
    return int(terms.get("valid_from") or 0), int(terms["valid_until"])


def status_at(coupon: sale_rules.Hold, now: int) -> str:
    """A coupon is expired from the moment its validity ends, for redeeming it and for
    every view of it alike, not only once the sweep has marked it so (the sweep may run
    seconds later, or, for a room no process serves any more, at its next full pass)."""
    if coupon.status == sale_rules.ISSUED and now >= coupon.expires_at:
        return sale_rules.EXPIRED
    return coupon.status


def redeem_decision(coupon: sale_rules.Hold, order_id: str, now: int) -> str:
    """ "redeem", "duplicate" (this order redeemed it already), or an error code."""
    status = status_at(coupon, now)
    if status == sale_rules.REDEEMED:
        return "duplicate" if coupon.order_id == order_id else COUPON_REDEEMED
    if status == sale_rules.EXPIRED:
        return COUPON_EXPIRED
    if now < coupon.valid_from:
        return COUPON_NOT_VALID_YET
    return "redeem"


def discount_fen(terms: Mapping[str, Any], spend_fen: int, skus: list[str] | None = None) -> int:
    """What the coupon takes off an order of `spend_fen` over these skus (gift: 0), or
    raise CouponError("coupon_not_applicable") saying why it does not apply."""
    allowed = terms.get("skus") or []
    if allowed and skus is not None and not set(skus) & set(allowed):
        raise CouponError(COUPON_NOT_APPLICABLE, "none of the order's skus is covered")
    least = max(int(terms.get("min_spend_fen", 0)), int(terms.get("spend_fen", 0)))
    if spend_fen < least:
        raise CouponError(COUPON_NOT_APPLICABLE, f"the order must spend at least {least} fen")
    kind = terms["kind"]
    if kind in (AMOUNT_OFF, THRESHOLD):
        return min(int(terms["amount_fen"]), spend_fen)
    if kind == PERCENT_OFF:
        off = spend_fen * int(terms["percent"]) // 100
        cap = int(terms.get("max_off_fen") or 0)
        return min(off, cap) if cap else off
    return 0


@dataclass(frozen=True)
class CouponView:
    """A coupon as its owner and the merchant see it: the unit with its drop's terms."""

    unit: sale_rules.Hold
    template_id: str
    terms: dict[str, Any] = field(default_factory=dict)

    def public(self, now: int) -> dict[str, Any]:
        c = self.unit
        terms = {k: v for k, v in self.terms.items() if k not in ("valid_days",)}
        return {
            "coupon_id": c.hold_id,
            "template_id": self.template_id,
            "drop_id": c.sale_id,
            "room_id": c.room_id,
            "uid": c.uid,
            **terms,
            "valid_from": c.valid_from,
            "valid_until": c.expires_at,
            "status": status_at(c, now),
            "order_id": c.order_id,
            "issued_at": c.created_at,
        }


def terms_of(cfg: SaleConfig) -> dict[str, Any]:
    """The coupon terms a drop carries (as its template had them when it was dropped)."""
    return json.loads(cfg.coupon) if cfg.coupon else {}


def view(unit: sale_rules.Hold, cfg: SaleConfig) -> CouponView:
    return CouponView(unit, cfg.template_id, terms_of(cfg))
