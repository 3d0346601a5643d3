"""Signed viewer and host tokens.

The merchant backend mints tokens with the shared secret, so liveroom never needs a user
database: everything it must know about a viewer travels in the token, and a forged or
tampered token fails the HMAC check.
Format: base64url(JSON claims) "." base64url(HMAC-SHA256(secret, first part)).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from liveroom import inputs, signed
from liveroom.errors import Refusal

ANY_ROOM = "*"
ROLES = ("viewer", "host")
# Claims that must be text. `src` and `ref` are checked where the viewer arrives
# (liveroom/rules/attribution.py): a signed ref that is no share code of the room is
# ignored there, with the reason in the welcome, and never refuses the join.
_TEXT_CLAIMS = ("uid", "nick", "tier", "src", "ref", "room", "role")


class TokenError(Refusal):
    """A token that must not be honoured; `code` is what the client sees."""


@dataclass(frozen=True, slots=True)
class Identity:
    uid: str
    nick: str = ""
    tier: str = ""  # member tier, e.g. "" (none), "member", "vip"
    src: str = ""  # source channel: wecom_group, moments, share, ...
    ref: str = ""  # share code the viewer came through (liveroom/rules/attribution.py)
    room: str = ANY_ROOM
    role: str = "viewer"
    exp: int = 0  # unix seconds; 0 never expires (only for anonymous identities)

    @property
    def is_host(self) -> bool:
        return self.role == "host"

    @property
    def is_anonymous(self) -> bool:
        return self.uid.startswith("anon:")

    def public(self) -> dict[str, str]:
        """What other viewers may see of this user."""
        return {"uid": self.uid, "nick": self.nick, "tier": self.tier}


def mint(secret: str, identity: Identity) -> str:
    return signed.seal(secret, asdict(identity))


def mint_for(
    secret: str,
    uid: str,
    *,
    room: str = ANY_ROOM,
    role: str = "viewer",
    nick: str = "",
    tier: str = "",
    src: str = "",
    ref: str = "",
    ttl_s: int = 3600,
    now: float | None = None,
) -> str:
    exp = int((time.time() if now is None else now) + ttl_s)
    ident = Identity(
        uid=uid, nick=nick or uid, tier=tier, src=src, ref=ref, room=room, role=role, exp=exp
    )
    return mint(secret, ident)


def verify(secret: str, token: str, room_id: str, *, now: float | None = None) -> Identity:
    """Check signature, expiry and room; raise TokenError with a client-facing code."""
    body, sep, sig = token.partition(".")
    if not sep or not body or not sig:
        raise TokenError("token_invalid", "token is not of the form <claims>.<signature>")
    try:
        claims = signed.unseal(secret, token)
    except signed.Unsealed as err:
        if err.reason == "signature":
            raise TokenError("token_invalid", "token signature does not match") from None
        raise TokenError("token_invalid", f"token claims unreadable: {err.detail}") from None
    why = inputs.problem(claims)
    if why is not None:  # a backend bug must not put text no frame can carry in every event
        raise TokenError("token_invalid", f"token claims unreadable: {why}")
    try:
        ident = Identity(**claims)
    except TypeError as exc:
        raise TokenError("token_invalid", f"token claims unreadable: {exc}") from None
    for name in _TEXT_CLAIMS:
        if not isinstance(getattr(ident, name), str):
            raise TokenError("token_invalid", f"token claim {name!r} must be a string")
    if not ident.uid or ident.role not in ROLES:
        raise TokenError("token_invalid", "token claims lack a user id or a known role")
    if not isinstance(ident.exp, int) or ident.exp <= 0:
        raise TokenError("token_invalid", "token has no expiry")
    if ident.exp < (time.time() if now is None else now):
        raise TokenError("token_expired", "token has expired; ask the backend for a new one")
    if ident.room not in (ANY_ROOM, room_id):
        raise TokenError("token_wrong_room", f"token is for room {ident.room!r}, not {room_id!r}")
    if ident.uid.startswith("anon:"):
        raise TokenError("token_invalid", "the anon: user id prefix is reserved")
    return ident
