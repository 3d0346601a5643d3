"""Signed claim tickets: how a winner proves to the mini-program that the prize is theirs.

liveroom never talks to the merchant's order system: it hands the winner a ticket signed
with the merchant secret, the mini-program passes it to the merchant backend, and the
backend checks it with the same secret (`verify_claim` is the reference). A ticket names
the room, the draw and the winner, and expires.
Format: base64url(JSON claims) "." base64url(HMAC-SHA256(merchant secret, first part)).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

CLAIM_TTL_S = 7 * 86400


class ClaimError(Exception):
    pass


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _sign(secret: str, body: str) -> str:
    return _b64(hmac.new(secret.encode(), b"claim:" + body.encode(), hashlib.sha256).digest())


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
    body = _b64(json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode())
    return f"{body}.{_sign(secret, body)}", exp


def verify_claim(secret: str, ticket: str, *, now: float | None = None) -> dict[str, Any]:
    body, sep, sig = ticket.partition(".")
    if not sep or not hmac.compare_digest(sig, _sign(secret, body)):
        raise ClaimError("claim ticket signature does not match")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    if claims["exp"] < (time.time() if now is None else now):
        raise ClaimError("claim ticket has expired")
    return claims


def claim_path(path: str, ticket: str) -> str:
    """The mini-program page with the ticket in its query string."""
    return f"{path}{'&' if '?' in path else '?'}ticket={ticket}"
