"""Signed claim tickets: how a winner proves to the mini-program that the prize is theirs.

liveroom never talks to the merchant's order system: it hands the winner a ticket signed
with the merchant secret, the mini-program passes it to the merchant backend, and the
backend checks it with the same secret (`verify_claim` is the reference). A ticket names
the room, the draw and the winner, and expires.
Format: base64url(JSON claims) "." base64url(HMAC-SHA256(merchant secret, first part)).
"""

from __future__ import annotations

import time
from typing import Any

from liveroom import signed

CLAIM_TTL_S = 7 * 86400
_CONTEXT = b"claim:"  # a viewer token or checkout ticket with the same secret is no claim


class ClaimError(Exception):
    pass


def mint_claim(
    secret: str,
    *,
    room_id: str,
    draw_id: str,
    uid: str,
    ttl_s: int = CLAIM_TTL_S,
    now: float | None = None,
) -> tuple[str, int]:
    """The ticket and its expiry (unix seconds)."""
    exp = int((time.time() if now is None else now) + ttl_s)
    claims = {"room": room_id, "draw": draw_id, "uid": uid, "exp": exp}
    return signed.seal(secret, claims, _CONTEXT), exp


def verify_claim(secret: str, ticket: str, *, now: float | None = None) -> dict[str, Any]:
    try:
        claims = signed.unseal(secret, ticket, _CONTEXT)
    except signed.Unsealed as err:
        if err.reason == "signature":
            raise ClaimError("claim ticket signature does not match") from None
        raise ClaimError(f"claim ticket unreadable: {err.detail}") from None
    if claims["exp"] < (time.time() if now is None else now):
        raise ClaimError("claim ticket has expired")
    return claims


def claim_path(path: str, ticket: str) -> str:
    """The mini-program page with the ticket in its query string."""
    return f"{path}{'&' if '?' in path else '?'}ticket={ticket}"
