"""Merchant webhooks' settings, checked before a process serves (liveroom serve): pure."""

from __future__ import annotations

from urllib.parse import urlsplit

from liveroom.stream.events import EVENT_TYPES


def url_problem(url: str) -> str | None:
    """Why `url` cannot be the merchant's webhook, or None (checked before serving)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "LIVEROOM_WEBHOOK_URL must be an http(s) URL with a host"
    return None


def types_problem(types: str) -> str | None:
    """Why LIVEROOM_WEBHOOK_TYPES is not a list of event types, or None."""
    unknown = sorted(wanted_types(types) - set(EVENT_TYPES))
    if unknown:
        return f"LIVEROOM_WEBHOOK_TYPES: unknown event types {unknown}"
    return None


def wanted_types(types: str) -> frozenset[str]:
    """The event types of LIVEROOM_WEBHOOK_TYPES; empty: every type."""
    return frozenset(t.strip() for t in types.split(",") if t.strip())
