"""Delivery lanes: which events may be thinned under load and which never are."""

from __future__ import annotations

HIGH = "high"
NORMAL = "normal"

# Only plain viewer comments are ever sampled. Everything else (host messages, pins,
# moderation, sales, stock, draws) is high lane and always delivered.
_NORMAL_TYPES = frozenset({"comment"})


def lane_of(event: dict) -> str:
    if event.get("type") in _NORMAL_TYPES and not event.get("host") and not event.get("pinned"):
        return NORMAL
    return HIGH
