"""Capacity benchmark: how many idle viewers one server process holds, and memory per viewer.

Viewers join one room in steps (each a signed token and a full welcome), then sit idle; after
each step the server's RSS is read. Memory per connection is the RSS growth over the idle
baseline divided by the sockets held, and the slope between steps (which leaves out one-time
costs such as the first allocations of the room). `--hold` keeps them all for a while and
checks none was dropped. `--baselines` runs the same against the plain Starlette endpoint and
python-socketio.

    .venv/bin/python scripts/bench_capacity.py --connections 19900 --steps 4 --hold 10

The container's hard RLIMIT_NOFILE (see `ulimit -Hn`) caps sockets per process; the script
says when that, not the server, is the limit.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

from bench_fanout import make_server, viewer_paths  # noqa: E402
from benchlib import servers  # noqa: E402
from benchlib.loadgen import Fleet  # noqa: E402
from benchlib.report import Verdict, save_json, table  # noqa: E402

TARGET_CONNECTIONS = 20_000
TARGET_KIB = 20.0


def run_one(kind: str, args: argparse.Namespace, port: int) -> dict[str, Any]:
    dialect = "liveroom" if kind == "liveroom" else kind
    secret = os.environ.get("LIVEROOM_SECRET", servers.DEV_SECRET)
    fleet = Fleet(args.workers)
    srv = make_server(kind, port, args).start()
    steps: list[dict[str, Any]] = []
    try:
        time.sleep(0.5)
        rss0 = srv.rss()
        held = 0
        failed_total: dict[str, int] = {}
        per_step = [args.connections // args.steps] * args.steps
        per_step[-1] += args.connections - sum(per_step)
        connecting_s = 0.0
        for n in per_step:
            calls = []
            offset = held
            for w in range(args.workers):
                share = n // args.workers + (1 if w < n % args.workers else 0)
                paths = viewer_paths(dialect, share, secret, offset=offset)
                offset += share
                calls.append(
                    (
                        w,
                        "connect",
                        {
                            "port": port,
                            "dialect": dialect,
                            "paths": paths,
                            "rate": args.connect_rate / args.workers,
                        },
                    )
                )
            t0 = time.monotonic()
            replies = fleet.gather(calls, timeout=max(120.0, n / 100))
            took = time.monotonic() - t0
            connecting_s += took
            ok = sum(r["ok"] for r in replies)
            for r in replies:
                for k, v in r["failed"].items():
                    failed_total[k] = failed_total.get(k, 0) + v
            held += ok
            time.sleep(1.0)
            rss = srv.rss()
            steps.append(
                {"held": held, "rss_mb": rss / 2**20, "connect_per_s": ok / took if took else 0}
            )
        srv.mark()
        time.sleep(args.hold)
        idle = srv.usage()
        stats = fleet.all("collect")
        still_open = sum(s["open"] for s in stats)
        closes: dict[str, int] = {}
        for s in stats:
            for k, v in s["closes"].items():
                closes[k] = closes.get(k, 0) + v
    finally:
        fleet.close()
        srv.stop()
    last = steps[-1]
    slope = None
    if len(steps) > 1 and steps[-1]["held"] > steps[0]["held"]:
        slope = (
            (steps[-1]["rss_mb"] - steps[0]["rss_mb"])
            * 1024
            / (steps[-1]["held"] - steps[0]["held"])
        )
    return {
        "server": srv.name,
        "asked": args.connections,
        "held": held,
        "open_after_hold": still_open,
        "failed": failed_total,
        "closes": closes,
        "rss_idle_mb": rss0 / 2**20,
        "rss_mb": last["rss_mb"],
        "kib_per_conn": (last["rss_mb"] - rss0 / 2**20) * 1024 / max(1, held),
        "kib_per_conn_slope": slope,
        "connect_per_s": held / connecting_s if connecting_s else None,
        "idle_cores": idle.cores,
        "steps": steps,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    fd_hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--connections", "-n", type=int, default=min(TARGET_CONNECTIONS, fd_hard - 100))
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--hold", type=float, default=5.0, help="seconds to hold them all idle")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--connect-rate", type=float, default=3000.0)
    p.add_argument("--redis", action="store_true")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    p.add_argument("--baselines", default="", help="comma list: plain,socketio (or all)")
    p.add_argument("--port", type=int, default=18560)
    p.add_argument("--json", default="")
    args = p.parse_args(argv)
    servers.exit_on_sigterm()
    kinds = ["liveroom"]
    if args.baselines:
        kinds += ["plain", "socketio"] if args.baselines == "all" else args.baselines.split(",")
    rows = []
    for i, kind in enumerate(kinds):
        print(
            f"# {kind}: {args.connections} idle viewers, load avg {os.getloadavg()[0]:.2f}",
            file=sys.stderr,
            flush=True,
        )
        rows.append(run_one(kind, args, args.port + i))
    cols = [
        "server",
        "asked",
        "held",
        "open_after_hold",
        "rss_idle_mb",
        "rss_mb",
        "kib_per_conn",
        "kib_per_conn_slope",
        "connect_per_s",
        "idle_cores",
    ]
    print(table(rows, cols))
    ours = rows[0]
    verdict = Verdict()
    limit_note = ""
    if args.connections < TARGET_CONNECTIONS:
        limit_note = f" (asked {args.connections}: hard RLIMIT_NOFILE here is {fd_hard})"
    verdict.check(
        f"{TARGET_CONNECTIONS:,} idle connections held by one process",
        ours["open_after_hold"] >= TARGET_CONNECTIONS,
        f"{ours['open_after_hold']:,} held{limit_note}",
    )
    verdict.check(
        f"<= {TARGET_KIB:g} KiB server memory per connection",
        ours["kib_per_conn"] <= TARGET_KIB,
        f"{ours['kib_per_conn']:.1f} KiB (slope {ours['kib_per_conn_slope'] or 0:.1f})",
    )
    print()
    print(verdict.render())
    result = {"args": vars(args), "rows": rows, "verdict": verdict.checks, "fd_hard": fd_hard}
    save_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
