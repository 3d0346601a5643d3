"""The show report and the host's live figures, read off a room's figures.

Pure: a function of the figures (liveroom/rules/attribution.py), the room's share codes
and the moment. The report served over HTTP, the one a rebuild computes from the stream,
and the `figures` frame the host panel gets every second all come from here, so they
cannot disagree on what a number means.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from liveroom.rules.attribution import CODE, FIG, SEP, SERIES, Figures, ShareCode

SOURCE_METRICS = (
    "joins",
    "viewers",
    "watch_ms",
    "comments",
    "likes",
    "clicks",
    "holds",
    "paid",
    "paid_fen",
    "draw_entries",
    "coupons_issued",
    "coupons_redeemed",
)
PRODUCT_METRICS = ("clicks", "holds", "paid", "paid_fen", "paid_units", "expired", "cancelled")
TOTALS = (
    "joins",
    "unique",
    "watch_ms",
    "comments",
    "likes",
    "clicks",
    "holds",
    "paid",
    "paid_fen",
    "paid_units",
    "expired",
    "cancelled",
    "draw_entries",
    "coupons_issued",
    "coupons_redeemed",
)
SERIES_METRICS = ("joins", "comments", "likes", "holds", "paid_fen")
LEADERBOARD = 10  # sources in the live figures
_INVITER_METRICS = ("joins", "viewers", "watch_s", "holds", "paid", "paid_fen")


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _split(figs: Figures) -> tuple[dict[str, dict[str, int]], ...]:
    """The FIG table's `p|sku|metric`, `s|key|metric` and `d|draw|metric` fields."""
    products: dict[str, dict[str, int]] = {}
    sources: dict[str, dict[str, int]] = {}
    draws: dict[str, dict[str, int]] = {}
    groups = {"p": products, "s": sources, "d": draws}
    for fields in (figs.counts.get(FIG, {}), figs.marks.get(FIG, {})):
        for name, value in fields.items():
            kind, _, rest = name.partition(SEP)
            owner, _, metric = rest.rpartition(SEP)
            group = groups.get(kind)
            if group is not None and owner and metric:
                group.setdefault(owner, {})[metric] = value
    return products, sources, draws


def _source(key: str, metrics: dict[str, int], codes: dict[str, ShareCode]) -> dict[str, Any]:
    out: dict[str, Any] = {"key": key}
    code = codes.get(key)
    if CODE.match(key):
        out["kind"], out["ref"] = "code", key
        out["channel"] = code.channel if code else ""
        out["owner"] = code.owner.public() if code else None
        out["label"] = code.label if code else ""
    else:
        out.update(kind="channel", ref="", channel=key, owner=None, label="")
    for name in SOURCE_METRICS:
        if name == "watch_ms":
            out["watch_s"] = metrics.get(name, 0) // 1000
        else:
            out[name] = metrics.get(name, 0)
    return out


def _inviters(sources: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Codes grouped by their owner: the inviters' leaderboard, best sellers first."""
    by_owner: dict[tuple[str, str], dict[str, Any]] = {}
    for s in sources:
        owner = s.get("owner")
        if not owner:
            continue
        row = by_owner.setdefault(
            (owner["kind"], owner["id"]),
            {"owner": owner, "codes": [], **dict.fromkeys(_INVITER_METRICS, 0)},
        )
        row["codes"].append(s["ref"])
        for m in _INVITER_METRICS:
            row[m] += s[m]
    return sorted(by_owner.values(), key=lambda r: (-r["paid_fen"], -r["viewers"]))


def _draws(draws: dict[str, dict[str, int]]) -> dict[str, Any]:
    listed = []
    for draw_id, m in draws.items():
        state = "cancelled" if "cancelled" in m else "closed" if "closed" in m else "open"
        entries = m.get("entries", 0)
        entrants = entries if state == "open" else m.get("entrants", entries)
        winners = m.get("winners", 0)
        listed.append(
            {
                "draw_id": draw_id,
                "state": state,
                "started_at": m.get("started", 0),
                "entrants": entrants,
                "winners": winners,
            }
        )
    listed.sort(key=lambda d: (d["started_at"], d["draw_id"]))
    return {
        "count": len(listed),
        "entrants": sum(d["entrants"] for d in listed),
        "winners": sum(d["winners"] for d in listed),
        "list": listed,
    }


def _series(figs: Figures, bucket_ms: int) -> dict[str, Any]:
    points: dict[int, dict[str, int]] = {}
    for fields, is_mark in (
        (figs.counts.get(SERIES, {}), False),
        (figs.marks.get(SERIES, {}), True),
    ):
        for name, value in fields.items():
            bucket, _, metric = name.partition(SEP)
            if bucket.isdigit() and (metric in SERIES_METRICS or (is_mark and metric == "viewers")):
                points.setdefault(int(bucket), {})[metric] = value
    out = []
    viewers = 0
    for t in sorted(points):
        p = points[t]
        viewers = p.get("viewers", viewers)  # a bucket with no sample keeps the last count
        out.append({"t": t, "viewers": viewers, **{m: p.get(m, 0) for m in SERIES_METRICS}})
    return {"bucket_s": bucket_ms // 1000, "points": out}


def report(
    room_id: str,
    figs: Figures,
    *,
    status: str,
    now: int,
    viewers_now: int | None,
    codes: Iterable[ShareCode],
    bucket_ms: int,
) -> dict[str, Any]:
    """The show report (docs/merchant-api.md, *The show report*). `viewers_now` is None
    where nobody counts them (a rebuild)."""
    t = {name: figs.count(name) for name in TOTALS}
    start, last = figs.mark("start") or 0, figs.mark("last") or 0
    final = status == "ended"
    end = last if final else max(now, last)
    duration_ms = max(0, end - start) if start else 0
    products, sources, draws = _split(figs)
    by_code = {c.code: c for c in codes}
    listed = {key: _source(key, m, by_code) for key, m in sources.items()}
    for code in by_code:  # a code nobody came through yet is still on the board
        listed.setdefault(code, _source(code, {}, by_code))
    unique = t["unique"]
    return {
        "room_id": room_id,
        "status": status,
        "final": final,
        "generated_at": now,
        "started_at": start,
        "last_activity_at": last,
        "duration_s": duration_ms // 1000,
        "viewers": {
            "unique": unique,
            "peak": figs.mark("peak") or 0,
            "now": viewers_now,
            "avg_concurrent": round(t["watch_ms"] / duration_ms, 2) if duration_ms else 0.0,
            "avg_watch_s": round(t["watch_ms"] / 1000 / unique, 1) if unique else 0.0,
            "watch_s": t["watch_ms"] // 1000,
        },
        "joins": t["joins"],
        "comments": t["comments"],
        "likes": t["likes"],
        "clicks": t["clicks"],
        "holds": t["holds"],
        "paid": t["paid"],
        "paid_fen": t["paid_fen"],
        "paid_units": t["paid_units"],
        "expired": t["expired"],
        "cancelled": t["cancelled"],
        "conversion": {
            "viewer_to_order": _ratio(t["paid"], unique),
            "click_to_hold": _ratio(t["holds"], t["clicks"]),
            "hold_to_paid": _ratio(t["paid"], t["holds"]),
        },
        "draws": {**_draws(draws), "entries": t["draw_entries"]},
        # coupons of the room's drops claimed by (issued) and used on an order by (redeemed)
        # its viewers, by where each viewer came from in `sources`
        "coupons": {
            "issued": t["coupons_issued"],
            "redeemed": t["coupons_redeemed"],
            "redeem_rate": _ratio(t["coupons_redeemed"], t["coupons_issued"]),
        },
        "products": {
            sku: {name: m.get(name, 0) for name in PRODUCT_METRICS}
            for sku, m in sorted(products.items())
        },
        "sources": dict(sorted(listed.items())),
        "inviters": _inviters(listed.values()),
        "series": _series(figs, bucket_ms),
    }


def live_figures(
    figs: Figures,
    *,
    now: int,
    viewers_now: int,
    codes: Iterable[ShareCode],
    rates: tuple[float, float],
) -> dict[str, Any]:
    """The host panel's `figures` frame (docs/protocol.md, *Live figures for the host*)."""
    t = {name: figs.count(name) for name in TOTALS}
    products, sources, _ = _split(figs)
    by_code = {c.code: c for c in codes}
    board = [_source(key, m, by_code) for key, m in sources.items()]
    board.sort(key=lambda s: (-s["paid_fen"], -s["viewers"], -s["joins"], s["key"]))
    product_rows = [
        {"sku": sku, **{name: m.get(name, 0) for name in PRODUCT_METRICS}}
        for sku, m in products.items()
    ]
    product_rows.sort(key=lambda p: (-p["paid_fen"], -p["clicks"], p["sku"]))
    return {
        "t": "figures",
        "ts": now,
        "viewers": viewers_now,
        "peak": max(figs.mark("peak") or 0, viewers_now),
        "unique": t["unique"],
        "joins": t["joins"],
        "comments": t["comments"],
        "likes": t["likes"],
        "comments_per_s": round(rates[0], 1),
        "likes_per_s": round(rates[1], 1),
        "clicks": t["clicks"],
        "holds": t["holds"],
        "paid": t["paid"],
        "paid_fen": t["paid_fen"],
        "conversion": _ratio(t["paid"], t["unique"]),
        "products": product_rows,
        "sources": board[:LEADERBOARD],
    }
