"""Signed coupon tickets: what the mini-program's coupon page carries to the merchant.

Like the checkout ticket (liveroom/sales/ticket.py), and never mistaken for one: its own
signing context. It names a coupon (room, coupon id, owner) and its valid_until; the
coupon's state in the store decides what it is still good for, so redeeming twice, late or
early is answered from the store, not from the ticket. Format: base64url(JSON claims) "."
base64url(HMAC-SHA256(key, "coupon." + body)).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from liveroom import signed
from liveroom.rules.coupon import CouponError
from liveroom.rules.sale import Hold
from liveroom.sales.ticket import checkout_path

_CONTEXT = b"coupon."
BAD_TICKET = "bad_ticket"


@dataclass(frozen=True)
class CouponTicket:
    room_id: str
    coupon_id: str
    drop_id: str
    uid: str
    valid_until: int  # ms


def mint(key: str, coupon: Hold) -> str:
    claims = {
        "r": coupon.room_id,
        "c": coupon.hold_id,
        "d": coupon.sale_id,
        "u": coupon.uid,
        "e": coupon.expires_at,
    }
    return signed.seal(key, claims, _CONTEXT)


def verify(key: str, ticket: Any) -> CouponTicket:
    """The ticket's claims, or CouponError("bad_ticket"): not a string, not ours (a
    checkout ticket or a viewer token included), tampered with, or unreadable."""
    if not isinstance(ticket, str) or not 0 < len(ticket) <= 1000:
        raise CouponError(BAD_TICKET, "'ticket' must be a coupon ticket string")
    try:
        claims = signed.unseal(key, ticket, _CONTEXT)
        return CouponTicket(
            str(claims["r"]), str(claims["c"]), str(claims["d"]), str(claims["u"]), int(claims["e"])
        )
    except signed.Unsealed as err:
        if err.reason == "signature":
            raise CouponError(BAD_TICKET, "coupon ticket signature does not match") from None
        raise CouponError(BAD_TICKET, f"coupon ticket claims unreadable: {err.detail}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise CouponError(BAD_TICKET, f"coupon ticket claims unreadable: {exc}") from None


def hand_off(key: str, coupon: Hold, appid: str, page: str) -> dict[str, str]:
    """What the viewer's client opens: the mini-program and its coupon page with the
    ticket in the query."""
    text = mint(key, coupon)
    return {"appid": appid, "path": checkout_path(page, text), "ticket": text}
