"""Signed blobs: base64url(JSON claims) "." base64url(HMAC-SHA256(key, context + first part)).

Viewer and host tokens, checkout tickets and prize-claim tickets all have this shape; the
`context` prefix keeps one kind from passing as another when they share a secret. Anything
a client sends is hostile input here: every failure is an `Unsealed` error, never a crash
(a non-ASCII signature, say, must not reach `hmac.compare_digest` as a str).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any


class Unsealed(ValueError):
    """`reason` is "signature" (not ours, or tampered with) or "claims" (ours, unreadable)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason
        self.detail = detail


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(key: str, context: bytes, body: str) -> bytes:
    digest = hmac.new(key.encode(), context + body.encode("utf-8", "replace"), hashlib.sha256)
    return b64(digest.digest()).encode("ascii")


def seal(key: str, claims: Mapping[str, Any], context: bytes = b"") -> str:
    body = b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{body}.{_signature(key, context, body).decode('ascii')}"


def unseal(key: str, blob: str, context: bytes = b"") -> Any:
    """The claims of a blob this key sealed; raise Unsealed otherwise."""
    body, sep, sig = blob.partition(".")
    if not sep or not body:
        raise Unsealed("signature", "not of the form <claims>.<signature>")
    if not hmac.compare_digest(sig.encode("utf-8", "replace"), _signature(key, context, body)):
        raise Unsealed("signature", "signature does not match")
    try:
        return json.loads(unb64(body))
    except ValueError as exc:  # bad base64, bad UTF-8 and bad JSON are all ValueErrors
        raise Unsealed("claims", str(exc)) from None
