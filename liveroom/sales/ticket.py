"""Signed checkout tickets: what the mini-program checkout page carries to the merchant.

The viewer's client opens the checkout page with the ticket in its query; the merchant
backend redeems it with liveroom (signed server-to-server call) or verifies it itself
with the shared merchant key. It names a hold and nothing else: the hold's state in the
store decides what the ticket is still good for, so a ticket never outlives its hold's
truth. Format: base64url(JSON claims) "." base64url(HMAC-SHA256(key, "checkout." + body)).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from liveroom import signed
from liveroom.rules.sale import Hold

# Domain separation: a viewer token signed with the same secret is never a ticket.
_CONTEXT = b"checkout."


class TicketError(ValueError):
    code = "bad_ticket"


@dataclass(frozen=True)
class Ticket:
    room_id: str
    hold_id: str
    sale_id: str
    uid: str
    expires_at: int  # ms, the hold's expiry (for the checkout page's countdown)


def mint(key: str, hold: Hold) -> str:
    claims = {
        "r": hold.room_id,
        "h": hold.hold_id,
        "s": hold.sale_id,
        "u": hold.uid,
        "e": hold.expires_at,
    }
    return signed.seal(key, claims, _CONTEXT)


def verify(key: str, ticket: str) -> Ticket:
    if not isinstance(ticket, str) or len(ticket) > 1000:
        raise TicketError("ticket must be a string")
    try:
        claims = signed.unseal(key, ticket, _CONTEXT)
    except signed.Unsealed as err:
        if err.reason == "signature":
            raise TicketError("ticket signature does not match") from None
        raise TicketError(f"ticket claims unreadable: {err.detail}") from None
    try:
        return Ticket(claims["r"], claims["h"], claims["s"], claims["u"], int(claims["e"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise TicketError(f"ticket claims unreadable: {exc}") from None


def checkout_path(page: str, ticket: str) -> str:
    """The mini-program page path with the ticket in its query."""
    joiner = "&" if "?" in page else "?"
    return f"{page}{joiner}ticket={quote(ticket, safe='')}"
