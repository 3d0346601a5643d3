"""Storm benchmarks: the two heaviest minutes of a real show.

`--mode join`: a WeCom reminder says "we are live" and N viewers join one room within T
seconds. The room has a snapshot to send (recent comments, a pinned message); each viewer is
timed from its scheduled connect to its welcome. Targets: every viewer welcomed, p99 join
under 1 s.

`--mode reconnect` (Redis engine: two server processes on one Redis): N viewers watch on
process A while a host comments on process B; A is killed (SIGKILL, no goodbye) and every
viewer reconnects to B with `since=<last seq it got>`, after the wait the shipped client
(liveroom.js) takes after a dropped socket: 500 ms plus up to 250 ms at random. Each
checks its own welcome:
`recovered`, exactly the events after its `since` (the room's events are host comments,
never sampled, so its seqs are contiguous), and its first tick after the welcome going on
without a gap or repeat. Recovery time runs from the kill to the new welcome. Targets: all
recovered with exactly the missed events, p99 recovery under 2 s.

    .venv/bin/python scripts/bench_storm.py --mode join --viewers 10000 --within 10
    .venv/bin/python scripts/bench_storm.py --mode join --viewers 10000 --within 10 --redis
    .venv/bin/python scripts/bench_storm.py --mode reconnect --viewers 5000
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

from bench_fanout import sender_paths, viewer_paths  # noqa: E402
from benchlib import profile, servers  # noqa: E402
from benchlib.loadgen import Fleet  # noqa: E402
from benchlib.report import Verdict, merge_hist, percentiles, save_json, table  # noqa: E402
from benchlib.storm import StormWorker  # noqa: E402

TARGET_JOIN_P99_MS = 1000.0
TARGET_RECOVERY_P99_MS = 2000.0


def _split(n: int, parts: int) -> list[int]:
    return [n // parts + (1 if i < n % parts else 0) for i in range(parts)]


def _server(args: argparse.Namespace, prefix: str = "") -> servers.ServerProc:
    url = args.redis_url if args.redis else ""
    env = dict(kv.split("=", 1) for kv in args.server_env or [])
    return servers.liveroom(servers.free_port(), redis_url=url, prefix=prefix, **env)


def _fill_room(fleet: Fleet, host: int, port: int, secret: str, comments: int) -> None:
    """A room with something to send in every welcome: recent comments and a pin."""
    fleet.call(host, "connect", port=port, dialect="liveroom", senders=True,
               paths=sender_paths("liveroom", 1, secret, "host"))  # fmt: skip
    for i in range(comments):
        fleet.call(host, "send", frame={"t": "comment", "text": f"welcome, everyone ({i})"})
    ack = fleet.call(host, "send", frame={"t": "pin", "text": "Tea set at 9.9 tonight"}, rid="pin")
    if ack.get("t") != "ack":
        raise RuntimeError(f"pin refused: {ack}")


def join_storm(args: argparse.Namespace) -> dict[str, Any]:
    secret = os.environ.get("LIVEROOM_SECRET", servers.DEV_SECRET)
    fleet = Fleet(args.workers + 1, StormWorker)
    host = args.workers
    srv = _server(args).start()
    try:
        _fill_room(fleet, host, srv.port, secret, args.snapshot_comments)
        time.sleep(0.5)
        at = time.time() + 1.0
        calls, offset = [], 0
        for i, n in enumerate(_split(args.viewers, args.workers)):
            paths = viewer_paths("liveroom", n, secret, offset)
            offset += n
            rate = n / args.within
            calls.append((i, "storm", {"port": srv.port, "paths": paths, "at": at, "rate": rate}))
        srv.mark()
        spy = None
        if args.profile:
            out = Path(args.profile) / f"{srv.name}-join-{args.viewers}.raw.txt"
            spy = profile.start(srv.proc.pid, args.within + 1, out, rate=250)
        replies = fleet.gather(calls, timeout=args.within + 60)
        usage = srv.usage()
        rss = srv.rss()
        if spy is not None:
            spy.wait(30)
            if out.exists():
                print(f"## profile of {srv.name} over the join storm\n"
                      f"{profile.render(profile.summarize(out))}", file=sys.stderr)  # fmt: skip
    finally:
        fleet.close()
        srv.stop()
    pct = percentiles(merge_hist(r["join_ms"] for r in replies))
    failed: dict[str, int] = {}
    for r in replies:
        for k, v in r["failed"].items():
            failed[k] = failed.get(k, 0) + v
    return {
        "mode": "join",
        "server": srv.name,
        "viewers": args.viewers,
        "within_s": args.within,
        "welcomed": sum(r["ok"] for r in replies),
        "failed": failed,
        "snapshot_comments": sorted({c for r in replies for c in r["snapshot_comments"]}),
        "p50_ms": pct["p50"],
        "p99_ms": pct["p99"],
        "p999_ms": pct["p999"],
        "max_ms": pct["max"],
        "server_cores": usage.cores,
        "rss_mb": rss / 2**20,
    }


def reconnect_storm(args: argparse.Namespace) -> dict[str, Any]:
    secret = os.environ.get("LIVEROOM_SECRET", servers.DEV_SECRET)
    prefix = f"lrstorm-{os.getpid()}"
    fleet = Fleet(args.workers + 1, StormWorker)
    host = args.workers
    a = _server(args, prefix)
    b = _server(args, prefix)
    a.redis = None  # killed mid-run: B wipes the run's keys when it stops
    a.start()
    b.start()
    try:
        _fill_room(fleet, host, b.port, secret, args.snapshot_comments)
        calls, offset = [], 0
        for i, n in enumerate(_split(args.viewers, args.workers)):
            paths = viewer_paths("liveroom", n, secret, offset)
            offset += n
            rate = args.connect_rate / args.workers
            calls.append((i, "storm", {"port": a.port, "paths": paths, "at": 0, "rate": rate}))
        joined = fleet.gather(calls, timeout=args.viewers / args.connect_rate + 60)
        fleet.all_but(host, "arm", port=b.port, delay_ms=args.delay_ms, jitter_ms=args.jitter_ms)
        # the host comments on B all along: events keep coming while A dies and after
        lasting = args.before_kill + args.timeout + 5
        fleet.pipes[host].send({"cmd": "inject", "args": {
            "comments_per_s": args.comments, "likes_per_s": 0, "duration": lasting}})  # fmt: skip
        time.sleep(args.before_kill)
        b.mark()
        gen0, wall0 = servers.processes_cpu(fleet.pids), time.monotonic()
        spy = None
        if args.profile:
            out = Path(args.profile) / f"{b.name}-reconnect-{args.viewers}.raw.txt"
            spy = profile.start(b.proc.pid, 8, out, rate=250)
        killed_at = time.time()
        assert a.proc is not None
        a.proc.kill()
        a.proc.wait(10)
        replies = fleet.all_but(
            host, "recovery", args.timeout + 30, killed_at=killed_at, wait_s=args.timeout
        )
        usage = b.usage()
        loadgen_cores = (servers.processes_cpu(fleet.pids) - gen0) / (time.monotonic() - wall0)
        if spy is not None:
            spy.wait(30)
            if out.exists():
                print(f"## profile of {b.name} over the reconnect storm\n"
                      f"{profile.render(profile.summarize(out))}", file=sys.stderr)  # fmt: skip
    finally:
        fleet.close()
        a.stop()
        b.stop()
    pct = percentiles(merge_hist(r["recovery_ms"] for r in replies))

    def stage(name: str) -> dict[str, Any]:
        return percentiles(merge_hist(r["stages_ms"].get(name, {}) for r in replies))

    total = {
        k: sum(r[k] for r in replies)
        for k in ("viewers", "dropped", "back", "recovered", "not_recovered", "inexact",
                  "seam_broken", "seam_unseen", "missed_events")
    }  # fmt: skip
    return {
        "mode": "reconnect",
        "server": b.name,
        "viewers": args.viewers,
        "joined_a": sum(r["ok"] for r in joined),
        **total,
        "missed_per_viewer": total["missed_events"] / max(1, total["back"]),
        "failed": {k: v for r in replies for k, v in r["failed"].items()},
        "p50_ms": pct["p50"],
        "p99_ms": pct["p99"],
        "p999_ms": pct["p999"],
        "max_ms": pct["max"],
        "server_b_cores": usage.cores,
        "loadgen_cores": loadgen_cores,
        # from the kill: when the viewers saw their socket drop, when B's handshake answered
        "drop_p50_ms": stage("drop")["p50"],
        "drop_p99_ms": stage("drop")["p99"],
        "open_p50_ms": stage("open")["p50"],
        "open_p99_ms": stage("open")["p99"],
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--mode", choices=("join", "reconnect"), default="join")
    p.add_argument("--viewers", "-n", type=int, default=10_000)
    p.add_argument("--within", type=float, default=10.0, help="join: seconds the joins spread over")
    p.add_argument("--workers", type=int, default=2, help="load generator processes (viewers)")
    p.add_argument("--snapshot-comments", type=int, default=30, help="comments in the room first")
    p.add_argument("--redis", action="store_true", help="the Redis engine (reconnect: always)")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    p.add_argument("--server-env", action="append", help="KEY=VALUE for the liveroom servers")
    p.add_argument("--connect-rate", type=float, default=2500.0, help="reconnect: joins/s to A")
    p.add_argument("--comments", type=float, default=20.0, help="reconnect: host comments/s")
    p.add_argument("--before-kill", type=float, default=3.0, help="reconnect: seconds on A")
    # what liveroom.js does after a dropped socket: 500 ms plus up to 250 ms at random
    p.add_argument("--delay-ms", type=float, default=500.0, help="reconnect: wait after a drop")
    p.add_argument("--jitter-ms", type=float, default=250.0, help="reconnect: plus up to this")
    p.add_argument("--timeout", type=float, default=20.0, help="reconnect: wait for them all")
    p.add_argument("--profile", default="", help="directory: py-spy the (second) server")
    p.add_argument("--json", default="")
    args = p.parse_args(argv)
    servers.exit_on_sigterm()
    if args.mode == "reconnect":
        args.redis = True
    print(f"# {args.mode} storm: {args.viewers} viewers, {'Redis' if args.redis else 'memory'}, "
          f"load avg {os.getloadavg()[0]:.2f}", file=sys.stderr, flush=True)  # fmt: skip
    v = Verdict()
    if args.mode == "join":
        row = join_storm(args)
        cols = ["server", "viewers", "within_s", "welcomed", "p50_ms", "p99_ms", "p999_ms",
                "max_ms", "server_cores", "rss_mb"]  # fmt: skip
        print(table([row], cols))
        print("failed:", row["failed"], " comments in each welcome:", row["snapshot_comments"])
        v.check(
            f"all {args.viewers} viewers welcomed",
            row["welcomed"] == args.viewers,
            f"{row['welcomed']} welcomed",
        )
        v.check(
            f"p99 join < {TARGET_JOIN_P99_MS:g} ms ({args.viewers} within {args.within:g} s)",
            row["p99_ms"] is not None and row["p99_ms"] < TARGET_JOIN_P99_MS,
            f"p99 {row['p99_ms']} ms",
        )
    else:
        row = reconnect_storm(args)
        cols = ["server", "viewers", "joined_a", "dropped", "back", "recovered", "inexact",
                "seam_broken", "missed_per_viewer", "p50_ms", "p99_ms", "max_ms",
                "server_b_cores", "loadgen_cores"]  # fmt: skip
        print(table([row], cols))
        print("failed:", row["failed"], " seam not seen (no tick yet):", row["seam_unseen"])
        print(f"from the kill: drop seen p50/p99 {row['drop_p50_ms']}/{row['drop_p99_ms']} ms, "
              f"B's handshake p50/p99 {row['open_p50_ms']}/{row['open_p99_ms']} ms")  # fmt: skip
        v.check(
            f"all {args.viewers} viewers back with `since`, recovered",
            row["joined_a"] == args.viewers and row["recovered"] == args.viewers,
            f"{row['recovered']} recovered of {row['joined_a']} on A, {row['back']} back",
        )
        v.check(
            "exactly the missed events, no gap or repeat after the welcome",
            row["back"] > 0 and row["inexact"] == 0 and row["seam_broken"] == 0,
            f"{row['inexact']} inexact welcomes, {row['seam_broken']} broken seams, "
            f"{row['missed_per_viewer']:.1f} events missed a viewer",
        )
        v.check(
            f"p99 recovery < {TARGET_RECOVERY_P99_MS:g} ms",
            row["p99_ms"] is not None and row["p99_ms"] < TARGET_RECOVERY_P99_MS,
            f"p99 {row['p99_ms']} ms from the kill to the new welcome",
        )
    print()
    print(v.render())
    result = {"args": vars(args), "row": row, "verdict": v.checks, "when": time.time()}
    save_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
