"""Lucky-draw rules: commitment, who may enter, pass phrases, and how winners are drawn.

Fairness is commit-reveal. When a draw opens, the room sees `commitment(seed)`; when it
closes, the seed is revealed and the winners are `pick_winners(seed, entrants, k)`, a pure
function anyone can rerun offline (`liveroom verify-draw`). The algorithm, precisely enough
to reimplement in another language:

1. `commitment = hex(SHA-256(seed as UTF-8 bytes))`.
2. entrants: the unique user ids, sorted by their UTF-8 bytes (Python's str order).
3. a byte stream: block i (i = 0, 1, 2, ...) is HMAC-SHA256(key = seed as UTF-8 bytes,
   message = i as an 8-byte big-endian unsigned integer); the stream is the blocks joined.
4. a uniform integer below m: read the next 8 bytes of the stream as a big-endian unsigned
   x; if x >= 2**64 - (2**64 % m) discard it and read again (rejection, so no modulo bias);
   else the integer is x % m.
5. a partial Fisher-Yates shuffle: for i in 0 .. k-1: j = i + uniform(n - i); swap
   entrants[i] and entrants[j]. The winners are entrants[0:k], in that order.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from liveroom.errors import Refusal

# States a draw moves through; only OPEN accepts entries, and it leaves OPEN exactly once.
OPEN = "open"
CLOSED = "closed"
CANCELLED = "cancelled"

BUTTON = "button"
PHRASE = "phrase"
ENTRY_MODES = (BUTTON, PHRASE)

# Refusal codes a viewer may get back when entering; stable, documented in docs/protocol.md.
NOT_ELIGIBLE_MEMBER = "not_eligible_member"
NOT_ELIGIBLE_WATCH_TIME = "not_eligible_watch_time"
DRAW_CLOSED = "draw_closed"
DRAW_NOT_FOUND = "draw_not_found"
WRONG_ENTRY_MODE = "wrong_entry_mode"

_U64 = 1 << 64


class DrawRuleError(Refusal, ValueError):
    """A draw the host asked for that cannot run as given; `code` goes back to the host."""


def new_seed() -> str:
    """256 bits from the OS CSPRNG, as hex, so nobody can guess it before the reveal."""
    return secrets.token_hex(32)


def commitment(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


# eligibility ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Eligibility:
    """Who may enter. One entry per user always holds: entrants are a set."""

    members_only: bool = False
    # With members_only: the member tiers admitted; empty admits any tier (any non-empty tier).
    tiers: tuple[str, ...] = ()
    # Seconds the viewer must have been in the room (since first seen) before entering.
    min_watch_s: int = 0

    def public(self) -> dict[str, Any]:
        out = asdict(self)
        out["tiers"] = list(self.tiers)
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> Eligibility:
        """Parse what a host sent; raise DrawRuleError on anything malformed."""
        if raw is None:
            return cls()
        if not isinstance(raw, dict):
            raise DrawRuleError("bad_field", "eligibility must be a map")
        unknown = set(raw) - {"members_only", "tiers", "min_watch_s"}
        if unknown:
            raise DrawRuleError("bad_field", f"unknown eligibility fields: {sorted(unknown)}")
        members_only = raw.get("members_only", False)
        tiers = raw.get("tiers", [])
        min_watch = raw.get("min_watch_s", 0)
        if not isinstance(members_only, bool):
            raise DrawRuleError("bad_field", "eligibility.members_only must be a boolean")
        if (
            not isinstance(tiers, list)
            or len(tiers) > 20
            or not all(isinstance(t, str) and 0 < len(t) <= 32 for t in tiers)
        ):
            raise DrawRuleError("bad_field", "eligibility.tiers must be a list of tier names")
        if (
            not isinstance(min_watch, int)
            or isinstance(min_watch, bool)
            or not 0 <= min_watch <= 86400
        ):
            raise DrawRuleError("bad_field", "eligibility.min_watch_s must be 0..86400 seconds")
        return cls(members_only or bool(tiers), tuple(tiers), min_watch)


def refusal(
    elig: Eligibility, *, tier: str, first_seen_ms: int | None, now_ms: int
) -> tuple[str, str] | None:
    """Why this viewer may not enter, as (code, message); None when they may."""
    if elig.members_only:
        if not tier or (elig.tiers and tier not in elig.tiers):
            wanted = ", ".join(elig.tiers) if elig.tiers else "community members"
            return NOT_ELIGIBLE_MEMBER, f"this draw is for {wanted} only"
    if elig.min_watch_s:
        watched_s = 0.0 if first_seen_ms is None else (now_ms - first_seen_ms) / 1000
        if watched_s < elig.min_watch_s:
            left = int(elig.min_watch_s - watched_s + 0.999)
            return (
                NOT_ELIGIBLE_WATCH_TIME,
                f"watch {elig.min_watch_s}s before entering ({left}s to go)",
            )
    return None


def entry_refusal(state: str, ends_at_ms: int, now_ms: int) -> tuple[str, str] | None:
    """Whether a draw in this state still takes entries: the same test in both stores."""
    if state != OPEN or now_ms >= ends_at_ms:
        return DRAW_CLOSED, "this draw is no longer taking entries"
    return None


# pass phrases --------------------------------------------------------------------------


def normalize_phrase(text: str) -> str:
    """Fold width and case and drop spaces, so "ＬＩＶＥ 666" on a phone matches "live666"."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if not ch.isspace())


def check_phrase(phrase: str) -> str:
    """The host's phrase, refused when it could never or always match."""
    if not isinstance(phrase, str) or not normalize_phrase(phrase):
        raise DrawRuleError("bad_field", "a phrase draw needs a non-empty pass phrase")
    if len(phrase) > 50:
        raise DrawRuleError("bad_field", "pass phrase longer than 50 characters")
    return phrase.strip()


def phrase_matches(comment: str, phrase: str) -> bool:
    needle = normalize_phrase(phrase)
    return bool(needle) and needle in normalize_phrase(comment)


# winner selection ----------------------------------------------------------------------


def sorted_entrants(entrants: Iterable[str]) -> list[str]:
    return sorted(set(entrants))


def _stream(seed: str) -> Iterator[int]:
    """Unsigned 64-bit integers from the HMAC-SHA256(seed, counter) stream."""
    key = seed.encode()
    counter = 0
    while True:
        block = hmac.new(key, counter.to_bytes(8, "big"), hashlib.sha256).digest()
        counter += 1
        for off in range(0, 32, 8):
            yield int.from_bytes(block[off : off + 8], "big")


def _uniform(stream: Iterator[int], m: int) -> int:
    limit = _U64 - (_U64 % m)
    while True:
        x = next(stream)
        if x < limit:
            return x % m


def pick_winners(seed: str, entrants: Iterable[str], k: int) -> list[str]:
    """The winners, in draw order: min(k, entrants) distinct ids; see the module docstring."""
    pool = sorted_entrants(entrants)
    k = max(0, min(k, len(pool)))
    stream = _stream(seed)
    for i in range(k):
        j = i + _uniform(stream, len(pool) - i)
        pool[i], pool[j] = pool[j], pool[i]
    return pool[:k]


def verify(
    seed: str,
    entrants: Iterable[str],
    k: int,
    *,
    claimed_winners: list[str] | None = None,
    claimed_commitment: str | None = None,
) -> dict[str, Any]:
    """Recompute a draw and compare with what was announced; the CLI prints this."""
    winners = pick_winners(seed, entrants, k)
    out: dict[str, Any] = {"winners": winners, "commitment": commitment(seed)}
    ok = True
    if claimed_commitment is not None:
        out["commitment_matches"] = claimed_commitment.lower() == out["commitment"]
        ok = ok and out["commitment_matches"]
    if claimed_winners is not None:
        out["winners_match"] = list(claimed_winners) == winners
        ok = ok and out["winners_match"]
    out["ok"] = ok
    return out
