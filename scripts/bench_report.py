"""Markdown tables for docs/benchmarks.md, straight from the suite's JSON (no hand copying).

.venv/bin/python scripts/bench_report.py out/bench
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_suite
from benchlib.report import markdown_table

FANOUT_COLS = [
    "step", "server", "viewers", "connected", "comment_from", "comments_per_s",
    "expected_deliveries_per_s", "deliveries_per_s", "frames_per_s", "p50_ms", "p99_ms",
    "p999_ms", "e2e_p99_ms", "server_cores", "loadgen_cores", "other_cores",
    "rss_per_viewer_kib", "dropped",
]  # fmt: skip


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def fanout(out: Path) -> str:
    rows = []
    for f in sorted(out.glob("*.json")):
        if f.name.endswith(".machine.json") or not f.name.startswith(("fanout", "baselines")):
            if not _is(f, "bench_fanout.py"):
                continue
        for r in load(f)["rows"]:
            rows.append({**r, "step": f.stem, "mbytes_per_s": r.get("mbytes_per_s")})
    return markdown_table(rows, FANOUT_COLS) if rows else "(no fan-out results)"


def ratios(out: Path) -> str:
    rows = []
    for f in sorted(out.glob("baselines-*.json")):
        if f.name.endswith(".machine.json"):
            continue
        data = load(f)["rows"]
        ours = next((r for r in data if r["server"] == "liveroom"), None)
        for r in data:
            if r["server"] != "liveroom" and ours:
                rows.append({
                    "viewers": r["viewers"], "baseline": r["server"],
                    "liveroom deliveries/s": ours["deliveries_per_s"],
                    "baseline deliveries/s": r["deliveries_per_s"],
                    "ratio": ours["deliveries_per_s"] / max(1.0, r["deliveries_per_s"]),
                    "liveroom p99 ms": ours["p99_ms"], "baseline p99 ms": r["p99_ms"],
                    "baseline server cores": r["server_cores"], "baseline dropped": r["dropped"],
                })  # fmt: skip
    cols = list(rows[0]) if rows else []
    return markdown_table(rows, cols) if rows else "(no baseline results)"


def flashsale(out: Path) -> str:
    rows = []
    for f in sorted(out.glob("*.json")):
        if f.name.endswith(".machine.json") or not (
            f.name.startswith("flashsale") or _is(f, "bench_flashsale.py")
        ):
            continue
        r = load(f)["row"]
        outcomes = " ".join(f"{k}:{v}" for k, v in sorted(r["outcomes"].items()))
        rows.append({**r, "step": f.stem, "outcomes": outcomes})
    cols = ["step", "server", "viewers", "connected", "stock", "held_units", "oversold",
            "server_available_after", "sellout_s", "p50_ms", "p99_ms", "p999_ms", "max_ms",
            "send_spread_ms", "retries", "unanswered", "outcomes"]  # fmt: skip
    return markdown_table(rows, cols) if rows else "(no flash-sale results)"


def storms(out: Path) -> str:
    rows = []
    for f in sorted(out.glob("*.json")):
        if f.name.endswith(".machine.json") or not _is(f, "bench_storm.py"):
            continue
        rows.append({**load(f)["row"], "step": f.stem})
    cols = ["step", "mode", "server", "viewers", "welcomed", "recovered", "inexact",
            "seam_broken", "p50_ms", "p99_ms", "max_ms"]  # fmt: skip
    return markdown_table(rows, cols) if rows else "(no storm results)"


def _is(f: Path, script: str) -> bool:
    """Whether the result in `f` came from `script` (the issue-13 steps are named i13-*)."""
    if not f.name.startswith("i13-"):
        return False
    plan = {**bench_suite.PLAN, **bench_suite.EXTRA}
    return plan.get(f.stem, [""])[0] == script


def capacity(out: Path) -> str:
    rows = []
    for f in sorted(out.glob("capacity*.json")):
        if f.name.endswith(".machine.json"):
            continue
        for r in load(f)["rows"]:
            rows.append({**r, "step": f.stem})
    cols = ["step", "server", "asked", "held", "open_after_hold", "rss_idle_mb", "rss_mb",
            "kib_per_conn", "kib_per_conn_slope", "connect_per_s", "idle_cores"]  # fmt: skip
    return markdown_table(rows, cols) if rows else "(no capacity results)"


def verdicts(out: Path) -> str:
    lines = []
    for f in sorted(out.glob("*.json")):
        if f.name.endswith(".machine.json"):
            continue
        for c in load(f).get("verdict", []):
            tag = {True: "met", False: "**MISSED**", None: "not judged"}[c["ok"]]
            lines.append(f"| {f.stem} | {c['target']} | {tag} | {c['detail']} |")
    head = "| step | target | verdict | measured |\n|---|---|---|---|"
    return head + "\n" + "\n".join(lines)


def machines(out: Path) -> str:
    lines = ["| step | started (UTC) | load avg 1/5/15 min |", "|---|---|---|"]
    for f in sorted(out.glob("*.machine.json")):
        m = load(f)
        la = "/".join(f"{x:.2f}" for x in m["loadavg"])
        lines.append(f"| {f.name.removesuffix('.machine.json')} | {m['when_utc']} | {la} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("out", nargs="?", default="out/bench")
    args = p.parse_args(argv)
    out = Path(args.out)
    for title, fn in (("fan-out", fanout), ("baselines", ratios), ("flash sale", flashsale),
                      ("storms", storms), ("capacity", capacity), ("targets", verdicts),
                      ("machine load per step", machines)):  # fmt: skip
        print(f"### {title}\n\n{fn(out)}\n")


if __name__ == "__main__":
    main()
