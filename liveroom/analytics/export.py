"""Exports, streamed: a room's commerce stream as NDJSON or CSV, a segment as CSV.

Each is an async generator of text chunks for a Starlette StreamingResponse: it reads a
page at a time (the stream 1,000 events, a segment 500 viewers) and yields that page, so
an export of a whole show never sits in memory. A store outage in the middle ends the
response early (the client sees a broken transfer, not a shorter file that looks whole).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from typing import Any

from liveroom.analytics.store import AnalyticsStore
from liveroom.rules.segments import Thresholds
from liveroom.stream.base import CommerceStream
from liveroom.stream.events import COMMON, EVENT_TYPES

STREAM_PAGE = 1000
SEGMENT_PAGE = 500


def _columns() -> list[str]:
    """id, the common fields, then every field of every event type, in declaration order."""
    cols = ["id", *COMMON]
    for fields in EVENT_TYPES.values():
        cols += [name for name in fields if name not in cols]
    return cols


EVENT_COLUMNS = _columns()
PROFILE_COLUMNS = [
    "uid",
    "segments",
    "tags",
    "shows",
    "watch_s",
    "comments",
    "holds",
    "paid",
    "spend_fen",
    "first_seen",
    "last_seen",
    "last_room",
]


def _cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value  # a spreadsheet would run it as a formula (a prize title, a uid)
    return value


def _csv(rows: list[list[Any]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


async def _pages(stream: CommerceStream, room_id: str) -> AsyncIterator[list[dict[str, Any]]]:
    after = "0-0"
    while events := await stream.read(room_id, after, STREAM_PAGE):
        yield events
        after = events[-1]["id"]


async def events_ndjson(stream: CommerceStream, room_id: str) -> AsyncIterator[str]:
    async for events in _pages(stream, room_id):
        yield "".join(
            json.dumps(e, ensure_ascii=False, separators=(",", ":")) + "\n" for e in events
        )


async def events_csv(stream: CommerceStream, room_id: str) -> AsyncIterator[str]:
    yield _csv([EVENT_COLUMNS])
    async for events in _pages(stream, room_id):
        yield _csv([[_cell(e.get(c, "")) for c in EVENT_COLUMNS] for e in events])


async def segment_csv(
    store: AnalyticsStore, segment: str, th: Thresholds, now: int
) -> AsyncIterator[str]:
    """Every member of a segment as of `now`, one row each; `segments` and `tags` are
    separated by spaces (tags such as clicked_not_bought:<sku> become WeCom tags)."""
    yield _csv([PROFILE_COLUMNS])
    offset: int | None = 0
    while offset is not None:
        found, offset = await store.segment_page(segment, th, now, offset, SEGMENT_PAGE)
        rows = []
        for profile in found:
            p = profile.public(now, th)
            p["segments"], p["tags"] = " ".join(p["segments"]), " ".join(p["tags"])
            rows.append([_cell(p[c]) for c in PROFILE_COLUMNS])
        if rows:
            yield _csv(rows)
