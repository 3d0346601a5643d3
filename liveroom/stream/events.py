"""The event types of the room's commerce stream and how their fields are written and read.

A stream entry is flat strings (a Redis stream's fields); `encode` writes an event as such
and `decode` reads it back with numbers as ints and structures as objects, on both
backends alike. Each event type declares its fields and their kinds in one line of
EVENT_TYPES, so an append that would not read back as written (a number where text goes,
a field nobody declared) is refused when it is made, not found later by a consumer.

Adding an event type is one entry in EVENT_TYPES (and its row in docs/merchant-api.md);
then append it with `await stream.append(room_id, "<type>", {...})`. Reading stays one dict
lookup per field, on both backends.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from liveroom.engine.base import now_ms

TEXT, INT, JSON = "text", "int", "json"

# Every entry has these, set by the stream (ts: now, unless the event carries its own).
COMMON = {"type": TEXT, "room_id": TEXT, "ts": INT}

_SALE = {"sale_id": TEXT, "sku": TEXT, "stock": INT, "price_fen": INT, "starts_at": INT}
_HOLD = {
    "sale_id": TEXT,
    "hold_id": TEXT,
    "uid": TEXT,
    "sku": TEXT,
    "qty": INT,
    "price_fen": INT,
    "order_id": TEXT,
    "src": TEXT,
    "ref": TEXT,
}
_DROP = {
    "drop_id": TEXT,
    "template_id": TEXT,
    "count": INT,
    "starts_at": INT,
    "ends_at": INT,
    "phrase": TEXT,
}
_COUPON = {
    "drop_id": TEXT,
    "coupon_id": TEXT,
    "uid": TEXT,
    "order_id": TEXT,
    "valid_until": INT,
    "src": TEXT,
    "ref": TEXT,
}
_DRAW_RESULT = {
    "draw_id": TEXT,
    "by": TEXT,
    "prize": JSON,
    "commitment": TEXT,
    "seed": TEXT,
    "entrants_count": INT,
    "seq": INT,
}

# type -> {field: kind} besides COMMON. Sale and hold events are written by the sale Lua
# scripts (liveroom/redis/lua/lib_sale.lua) and MemorySaleStore with exactly these fields.
EVENT_TYPES: dict[str, dict[str, str]] = {
    "sale_created": _SALE,
    "sale_started": _SALE,
    "sale_ended": _SALE,
    "hold_created": _HOLD,
    "hold_paid": _HOLD,
    "hold_cancelled": _HOLD,
    "hold_expired": _HOLD,
    # coupon drops are sales of kind coupon: the same scripts write these (rules.sale.KINDS)
    "drop_created": _DROP,
    "drop_ended": _DROP,
    "coupon_issued": _COUPON,
    "coupon_redeemed": _COUPON,
    "coupon_expired": _COUPON,
    "draw_started": {
        "draw_id": TEXT,
        "by": TEXT,
        "prize": JSON,
        "winners_count": INT,
        "ends_at": INT,
        "commitment": TEXT,
        "mode": TEXT,
        "phrase": TEXT,
        "eligibility": JSON,
        "state": TEXT,
        "seq": INT,
    },
    "draw_closed": {**_DRAW_RESULT, "winners": JSON, "winners_count": INT},
    "draw_cancelled": _DRAW_RESULT,
    # shows (liveroom/shows): the lifecycle, "remind me", and each group message's outcome
    "show_scheduled": {"starts_at": INT, "series_id": TEXT, "by": TEXT, "seq": INT},
    "show_rescheduled": {
        "starts_at": INT,
        "previous_starts_at": INT,
        "series_id": TEXT,
        "by": TEXT,
        "seq": INT,
    },
    "show_live": {"started_at": INT, "by": TEXT, "seq": INT},
    "show_ended": {"started_at": INT, "ended_at": INT, "by": TEXT, "seq": INT},
    "show_cancelled": {"ended_at": INT, "by": TEXT, "seq": INT},
    "show_subscribed": {"uid": TEXT, "nick": TEXT, "tier": TEXT, "src": TEXT},
    "show_notice": {
        "notice": TEXT,
        "job_id": TEXT,
        "robot": TEXT,
        "status": TEXT,
        "attempts": INT,
        "error": TEXT,
        "retry_at": INT,
    },
    "viewer_joined": {"uid": TEXT, "tier": TEXT, "src": TEXT, "ref": TEXT, "first": INT},
    # written by the draw_enter script (and MemoryDrawStore) in the same step as the entry
    "draw_entered": {"draw_id": TEXT, "uid": TEXT, "src": TEXT, "ref": TEXT},
    # one process's aggregate of a room's comments, likes, clicks, watch time and anonymous
    # joins since its last one (liveroom/rules/attribution.py Activity), with the room's
    # viewer count it saw at `ts`
    "activity": {
        "t0": INT,
        "viewers": INT,
        "node": TEXT,
        "sources": JSON,
        "clicks": JSON,
    },
}


def encode(room_id: str, event_type: str, fields: Mapping[str, Any]) -> dict[str, str]:
    """The entry for an event: strings only, `type` and `room_id` first, `ts` now unless
    given. Raises ValueError for an unknown type, a field the type does not declare, a
    field it sets itself, or a value of the wrong kind (bools are not numbers)."""
    kinds = EVENT_TYPES.get(event_type) if isinstance(event_type, str) else None
    if kinds is None:
        raise ValueError(f"unknown commerce event type {event_type!r} (see stream.EVENT_TYPES)")
    out = {"type": event_type, "room_id": room_id}
    for name, value in fields.items():
        kind = kinds.get(name) or (INT if name == "ts" else None)
        if kind is None:
            raise ValueError(f"{event_type} has no field {name!r}")
        if kind == JSON:
            try:
                out[name] = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
            except (TypeError, ValueError):
                raise ValueError(f"{event_type} field {name!r} is not JSON") from None
        elif kind == INT and isinstance(value, int) and not isinstance(value, bool):
            out[name] = str(value)
        elif kind == TEXT and isinstance(value, str):
            out[name] = value
        else:
            raise ValueError(f"{event_type} field {name!r} cannot hold {type(value).__name__}")
    out.setdefault("ts", str(now_ms()))
    return out


def decode(event_id: str, entry: Mapping[str, str]) -> dict[str, Any]:
    """An entry as consumers get it: its `id`, numbers as ints and structures as objects.
    Fields of a type this version does not know are handed out as text."""
    kinds = EVENT_TYPES.get(entry.get("type", ""), COMMON)
    out: dict[str, Any] = {"id": event_id}
    for name, raw in entry.items():
        kind = kinds.get(name) or COMMON.get(name, TEXT)
        if kind == INT and raw != "":
            out[name] = int(raw)
        elif kind == JSON and raw != "":
            out[name] = json.loads(raw)
        else:
            out[name] = raw
    return out
