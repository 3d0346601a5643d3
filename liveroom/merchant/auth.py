"""Request signing for the merchant API.

Every call carries three headers: X-Liveroom-Timestamp (unix seconds), X-Liveroom-Nonce
(8-64 of A-Z a-z 0-9 _ -, new per request) and X-Liveroom-Signature, the hex
HMAC-SHA256 with the merchant key of

    METHOD "\n" PATH[?QUERY] "\n" TIMESTAMP "\n" NONCE "\n" hex(SHA256(BODY))

A request more than five minutes off our clock is stale; a nonce seen within the last
ten minutes is a replay. Both are refused, so a captured request cannot be sent again.
The nonce is checked only after the signature, so forged requests cannot burn nonces.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping

from liveroom.errors import Refusal

HEADER_TIMESTAMP = "X-Liveroom-Timestamp"
HEADER_NONCE = "X-Liveroom-Nonce"
HEADER_SIGNATURE = "X-Liveroom-Signature"
MAX_SKEW_S = 300
NONCE_TTL_S = 2 * MAX_SKEW_S  # a nonce must be remembered as long as its timestamp is fresh
_NONCE = re.compile(r"^[A-Za-z0-9_-]{8,64}\Z")


class AuthError(Refusal):
    pass


def string_to_sign(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join((method.upper(), path, timestamp, nonce, digest)).encode()


def sign(key: str, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    message = string_to_sign(method, path, timestamp, nonce, body)
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(
    key: str,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    now: float | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The three headers for one call (what a merchant backend does per request)."""
    ts = str(int(time.time() if now is None else now))
    nonce = nonce or secrets.token_hex(16)
    return {
        HEADER_TIMESTAMP: ts,
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: sign(key, method, path, ts, nonce, body),
    }


def verify(
    key: str,
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
) -> str:
    """Check timestamp and signature; return the nonce, which the caller must claim."""
    ts = headers.get(HEADER_TIMESTAMP)
    nonce = headers.get(HEADER_NONCE)
    sig = headers.get(HEADER_SIGNATURE)
    if not ts or not nonce or not sig:
        raise AuthError(
            "missing_signature",
            f"sign the request: {HEADER_TIMESTAMP}, {HEADER_NONCE}, {HEADER_SIGNATURE}",
        )
    if not ts.isdigit():
        raise AuthError("bad_timestamp", f"{HEADER_TIMESTAMP} must be unix seconds")
    if not _NONCE.match(nonce):
        raise AuthError("bad_nonce", f"{HEADER_NONCE} must be 8-64 of A-Z a-z 0-9 _ -")
    expected = sign(key, method, path, ts, nonce, body)
    if not hmac.compare_digest(expected, sig.lower()):
        raise AuthError("bad_signature", "signature does not match the request")
    skew = abs((time.time() if now is None else now) - int(ts))
    if skew > MAX_SKEW_S:
        raise AuthError("stale_request", f"timestamp is {int(skew)} s off; at most {MAX_SKEW_S}")
    return nonce
