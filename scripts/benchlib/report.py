"""Merging worker results, percentiles, tables, and the verdict against the issue's targets."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def merge_hist(hists: Iterable[dict]) -> Counter:
    total: Counter = Counter()
    for h in hists:
        for k, v in h.items():
            total[int(k)] += v
    return total


def percentiles(hist: Counter, qs: Iterable[float] = (0.5, 0.99, 0.999)) -> dict[str, float | None]:
    """Percentiles (ms) of a histogram kept in 0.1 ms buckets; None when it is empty."""
    n = sum(hist.values())
    out: dict[str, float | None] = {}
    keys = sorted(hist)
    for q in qs:
        label = "p" + f"{q * 100:g}".replace(".", "")
        if not n:
            out[label] = None
            continue
        rank = q * (n - 1)
        seen = 0
        for k in keys:
            seen += hist[k]
            if seen > rank:
                out[label] = k / 10
                break
    out["max"] = keys[-1] / 10 if keys else None
    out["samples"] = n
    return out


def fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "YES" if value else "no"
    if isinstance(value, float) and abs(value) < 1:
        return f"{value:.3f}"
    if isinstance(value, float):
        if abs(value) >= 10_000:
            return f"{value:,.0f}"
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    cells = [[fmt(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    line = "  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(out)


def markdown_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    out += ["| " + " | ".join(fmt(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(out)


class Verdict:
    """Collects target checks; prints `TARGET MISSED` lines a reader cannot overlook."""

    def __init__(self) -> None:
        self.checks: list[dict[str, Any]] = []

    def check(self, name: str, ok: bool | None, detail: str) -> None:
        self.checks.append({"target": name, "ok": ok, "detail": detail})

    def render(self) -> str:
        lines = []
        for c in self.checks:
            if c["ok"] is None:
                tag = "NOT MEASURED "
            else:
                tag = "target met   " if c["ok"] else "TARGET MISSED"
            lines.append(f"{tag}  {c['target']}: {c['detail']}")
        return "\n".join(lines)


def save_json(path: str | None, data: Any) -> None:
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(data, indent=2, default=str))
