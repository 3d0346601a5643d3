"""The measured runs behind docs/benchmarks.md, one bounded step at a time.

    .venv/bin/python scripts/bench_suite.py --out out/bench            # everything
    .venv/bin/python scripts/bench_suite.py --only fanout-10000,capacity
    .venv/bin/python scripts/bench_suite.py --list

Each step is one benchmark command (printed before it runs) with a hard time limit; its
JSON lands in `--out`, with a machine description (CPU, RAM, load) taken before each step,
and the plots are redrawn from all fan-out results at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib.machine import describe

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable

# the same batched reads on non-probe sockets for every fan-out run, baselines included
LAZY = ["--lazy-read-ms", "50"]
# baselines only broadcast comments: the same workload for all three, no likes
BASE = ["bench_fanout.py", *LAZY, "--comments", "200", "--likes", "0", "-d", "10", "--warmup", "2",
        "--baselines", "all"]  # fmt: skip
FANOUT = ["bench_fanout.py", "--comments", "1000", "--likes", "10000", *LAZY]

# name -> script and arguments; ports differ so a lingering socket never collides
PLAN: dict[str, list[str]] = {
    "fanout-10000": [*FANOUT, "--viewers", "10000", "-d", "20", "--port", "18520",
                     "--profile", "{out}/profiles"],
    "fanout-1000": [*FANOUT, "--viewers", "1000", "-d", "10", "--port", "18521"],
    "fanout-2500": [*FANOUT, "--viewers", "2500", "-d", "10", "--port", "18522"],
    "fanout-5000": [*FANOUT, "--viewers", "5000", "-d", "10", "--port", "18523",
                    "--profile", "{out}/profiles"],
    "fanout-10000-viewers": [*FANOUT, "--viewers", "10000", "-d", "15",
                             "--comment-from", "viewers", "--port", "18524"],
    "fanout-10000-readable100": [*FANOUT, "--viewers", "10000", "-d", "15",
                                 "--comment-from", "viewers", "--readable", "100",
                                 "--port", "18526"],
    "fanout-5000-redis": [*FANOUT, "--viewers", "5000", "-d", "10", "--redis", "--port", "18525"],
    "baselines-1000": [*BASE, "--viewers", "1000", "--port", "18530"],
    "baselines-3000": [*BASE, "--viewers", "3000", "--port", "18533"],
    "flashsale": ["bench_flashsale.py", "--viewers", "10000", "--stock", "1000", "--port", "18540"],
    "flashsale-redis": ["bench_flashsale.py", "--viewers", "10000", "--stock", "1000", "--redis",
                        "--port", "18541"],
    "capacity": ["bench_capacity.py", "--connections", "19900", "--steps", "4", "--hold", "10",
                 "--port", "18550"],
    "capacity-baselines": ["bench_capacity.py", "--connections", "5000", "--steps", "2",
                           "--hold", "5", "--baselines", "all", "--port", "18555"],
}  # fmt: skip
# Issue 13: the production path at full speed. Viewer comments come from 100 sockets (10 a
# second each, still ten times a person): the Redis engine needs a round trip per comment per
# socket, so 21 sockets at 48/s would measure one socket's round trips, not the engine.
VIEWERS = [*FANOUT, "--comment-from", "viewers", "--readable", "150", "--senders", "100"]
ISSUE13: dict[str, list[str]] = {
    **{f"i13-memory-10000-{i}": [*VIEWERS, "--viewers", "10000", "-d", "20",
                                 "--port", str(18600 + i), "--profile", "{out}/profiles"]
       for i in (1, 2, 3)},
    "i13-redis-10000": [*VIEWERS, "--viewers", "10000", "-d", "15", "--redis", "--port", "18604",
                        "--profile", "{out}/profiles"],
    "i13-redis-10000-2proc": [*VIEWERS, "--viewers", "10000", "-d", "15", "--redis",
                              "--server-workers", "2", "--port", "18605"],
    # host comments (never sampled): every comment to every viewer, 40 host sockets
    "i13-redis-flood-5000": [*FANOUT, "--viewers", "5000", "-d", "10", "--redis",
                             "--compare-memory", "--senders", "40", "--port", "18606"],
    "i13-flashsale": ["bench_flashsale.py", "--viewers", "10000", "--stock", "1000",
                      "--port", "18610", "--profile", "{out}/profiles"],
    "i13-flashsale-redis": ["bench_flashsale.py", "--viewers", "10000", "--stock", "1000",
                            "--redis", "--port", "18611", "--profile", "{out}/profiles"],
    "flashsale-webhook": ["bench_flashsale.py", "--viewers", "10000", "--stock", "1000",
                          "--webhook", "--port", "18612"],
    "flashsale-webhook-redis": ["bench_flashsale.py", "--viewers", "10000", "--stock", "1000",
                                "--webhook", "--redis", "--port", "18613"],
    "i13-joinstorm": ["bench_storm.py", "--mode", "join", "--viewers", "10000", "--within", "10"],
    "i13-joinstorm-redis": ["bench_storm.py", "--mode", "join", "--viewers", "10000",
                            "--within", "10", "--redis"],
    "i13-reconnect": ["bench_storm.py", "--mode", "reconnect", "--viewers", "5000"],
}  # fmt: skip
PLAN.update(ISSUE13)
# not part of the full run: a few seconds, to check the suite itself works
EXTRA = {"smoke": ["bench_fanout.py", "--viewers", "20", "--comments", "10", "--likes", "50",
                   "-d", "1", "--warmup", "0.5", "--port", "18539"]}  # fmt: skip


def stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM the step's process group (its cleanup runs), SIGKILL what is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--out", default="out/bench")
    p.add_argument("--only", default="", help="comma list of step names")
    p.add_argument("--timeout", type=float, default=90.0, help="hard limit per step, seconds")
    p.add_argument("--list", action="store_true")
    args = p.parse_args(argv)
    if args.list:
        for name, cmd in PLAN.items():
            print(f"{name:22} {' '.join(cmd)}")
        return
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    names = [n for n in args.only.split(",") if n] or list(PLAN)
    steps = {**PLAN, **EXTRA}
    for name in names:
        cmd = [PY, str(ROOT / "scripts" / steps[name][0])]
        cmd += [a.replace("{out}", str(out)) for a in steps[name][1:]]
        cmd += ["--json", str(out / f"{name}.json")]
        machine = describe()
        (out / f"{name}.machine.json").write_text(json.dumps(machine, indent=2))
        print(f"\n=== {name}  (load avg {machine['loadavg']})\n$ {' '.join(cmd[1:])}", flush=True)
        log = (out / f"{name}.log").open("w")
        t0 = time.monotonic()
        # its own process group, so a step over its limit goes with its server and workers
        proc = subprocess.Popen(
            cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True
        )
        try:
            stdout, _ = proc.communicate(timeout=args.timeout)
            print(stdout, flush=True)
            (out / f"{name}.txt").write_text(stdout)
            if proc.returncode:
                print(f"!!! {name} exited {proc.returncode}; see {out / name}.log", flush=True)
        except subprocess.TimeoutExpired:
            stop_group(proc)
            print(f"!!! {name} hit the {args.timeout:g} s limit and was stopped", flush=True)
        finally:
            log.close()
        print(f"({time.monotonic() - t0:.0f} s)", flush=True)
    fanouts = sorted(str(f) for f in out.glob("*.json") if f.name.startswith(("fanout", "base")))
    fanouts = [f for f in fanouts if not f.endswith(".machine.json")]
    if fanouts:
        from bench_plots import main as plots

        plots([*fanouts, "--out", str(ROOT / "docs" / "img")])


if __name__ == "__main__":
    main()
