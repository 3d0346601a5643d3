"""Plots for docs/benchmarks.md from the JSON the benchmarks write (`--json`).

    .venv/bin/python scripts/bench_plots.py out/fanout-*.json --out docs/img

Writes fanout_latency.png (delivery latency percentiles against room size),
fanout_throughput.png (deliveries and frames per second, server cores) and, when baseline
rows are present, fanout_baselines.png (deliveries/s and p99 per server at each size).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

TARGET_P99_MS = 200.0


def load_rows(paths: list[str]) -> list[dict[str, Any]]:
    rows = []
    for p in paths:
        data = json.loads(Path(p).read_text())
        for row in data.get("rows", []):
            row["_source"] = p
            rows.append(row)
    return rows


def series(rows: list[dict[str, Any]], server: str) -> list[dict[str, Any]]:
    """One row per room size for this server at the highest comment rate measured (so a
    baseline comparison at a lighter load does not join the sweep), the last run winning."""
    mine = [r for r in rows if r["server"] == server and r.get("comment_from", "host") == "host"]
    if not mine:
        return []
    rate = max(r["comments_per_s"] for r in mine)
    by_size: dict[int, dict[str, Any]] = {}
    for r in mine:
        if r["comments_per_s"] == rate:
            by_size[r["viewers"]] = r
    return [by_size[k] for k in sorted(by_size)]


def plot_latency(rows: list[dict[str, Any]], out: Path) -> Path | None:
    ours = series(rows, "liveroom")
    if not ours:
        return None
    fig, ax = plt.subplots(figsize=(7, 4.2))
    x = [r["viewers"] for r in ours]
    for key, style in (("p50_ms", "o-"), ("p99_ms", "s-"), ("p999_ms", "^-")):
        ax.plot(x, [r[key] for r in ours], style, label=key.replace("_ms", ""))
    ax.axhline(TARGET_P99_MS, color="red", linestyle="--", linewidth=1, label="p99 target")
    rate = ours[-1]["comments_per_s"]
    ax.set(
        xlabel="viewers in one room",
        ylabel="delivery latency, ms (log)",
        yscale="log",
        xscale="log",
        title=f"liveroom fan-out: {rate:g} host comments/s + likes, 50 ms tick",
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    path = out / "fanout_latency.png"
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_throughput(rows: list[dict[str, Any]], out: Path) -> Path | None:
    ours = series(rows, "liveroom")
    if not ours:
        return None
    fig, ax = plt.subplots(figsize=(7, 4.2))
    x = [r["viewers"] for r in ours]
    ax.plot(x, [r["deliveries_per_s"] for r in ours], "o-", label="event deliveries/s")
    exp = [r.get("expected_deliveries_per_s") for r in ours]
    if all(exp):
        ax.plot(x, exp, "k:", label="offered (viewers x comments/s)")
    ax.plot(x, [r["frames_per_s"] for r in ours], "s-", label="frames/s")
    ax.set(xlabel="viewers in one room", ylabel="per second", yscale="log", xscale="log")
    ax.grid(True, which="both", alpha=0.3)
    ax2 = ax.twinx()
    ax2.plot(x, [r["server_cores"] for r in ours], "r^--", label="server cores")
    ax2.plot(x, [r["loadgen_cores"] for r in ours], "mv--", label="load generator cores")
    ax2.set_ylabel("CPU cores")
    ax2.set_ylim(0, 2.2)
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="upper left", fontsize=8)
    ax.set_title("fan-out throughput and CPU (2 shared cores)")
    path = out / "fanout_throughput.png"
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def e2e_p99(row: dict[str, Any]) -> float:
    """Send to receipt; a baseline that falls behind queues comments before stamping them."""
    return row.get("e2e_p99_ms") or row.get("p99_ms") or 0.0


def plot_baselines(rows: list[dict[str, Any]], out: Path) -> Path | None:
    servers = ["liveroom", "plain", "socketio"]
    # only runs that measured several servers side by side (same file, same workload)
    by_source: dict[str, dict[str, dict]] = defaultdict(dict)
    for r in rows:
        if r["server"] in servers:
            by_source[r["_source"]][r["server"]] = r
    grouped: dict[int, dict[str, dict]] = {}
    for group in by_source.values():
        if len(group) > 1:
            grouped[next(iter(group.values()))["viewers"]] = group
    sizes = sorted(grouped)
    if not sizes:
        return None
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    width = 0.8 / len(servers)
    for i, name in enumerate(servers):
        xs = [j + i * width for j in range(len(sizes))]
        a1.bar(xs, [grouped[k].get(name, {}).get("deliveries_per_s", 0) for k in sizes],
               width, label=name)  # fmt: skip
        a2.bar(xs, [e2e_p99(grouped[k].get(name, {})) for k in sizes], width, label=name)
    for ax, label in ((a1, "event deliveries/s"), (a2, "end-to-end p99 latency, ms (log)")):
        ax.set_xticks([j + width for j in range(len(sizes))], [f"{k} viewers" for k in sizes])
        ax.set_ylabel(label)
        ax.grid(True, axis="y", alpha=0.3)
    a2.set_yscale("log")
    a1.legend()
    fig.suptitle("same comment broadcast against the baselines")
    path = out / "fanout_baselines.png"
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> list[Path]:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("results", nargs="+", help="JSON files from bench_fanout.py --json")
    p.add_argument("--out", default="docs/img")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = load_rows(args.results)
    made = [f(rows, out) for f in (plot_latency, plot_throughput, plot_baselines)]
    done = [m for m in made if m is not None]
    for m in done:
        print(m)
    return done


if __name__ == "__main__":
    main()
