"""The load test and the benchmarks, run tiny (seconds, a handful of clients) so they cannot rot.

These check that each tool still speaks the protocol and reports sane results, not speed:
the measured runs are documented commands (docs/benchmarks.md), not part of the suite.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.marks import crowd
from tests.support.server import LiveServer, free_port

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"
LOCUST = Path(sys.executable).parent / "locust"


def run_script(name: str, *args: str, timeout: float = 60) -> dict:
    out = Path(f"/tmp/liveroom-smoke-{name}-{args[1] if len(args) > 1 else ''}.json")
    out.unlink(missing_ok=True)
    cmd = [sys.executable, str(SCRIPTS / name), *args, "--json", str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return json.loads(out.read_text())


def stats_rows(prefix: Path) -> dict[tuple[str, str], dict[str, str]]:
    with open(f"{prefix}_stats.csv", newline="") as f:
        return {(r["Type"], r["Name"]): r for r in csv.DictReader(f)}


@crowd
def test_locust_headless_run_joins_receives_and_fails_nothing(tmp_path: Path) -> None:
    """The README's command against a fresh server: the locustfile creates the products
    its flash sales need through the signed merchant API, so sales run."""
    with LiveServer() as srv:
        prefix = tmp_path / "locust"
        cmd = [str(LOCUST), "-f", "loadtest/locustfile.py", "--headless", "-u", "6", "-r", "6",
               "-t", "5s", "--host", srv.url, "--room", "smoke", "--csv", str(prefix),
               "--only-summary"]  # fmt: skip
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr[-4000:]
    rows = stats_rows(prefix)
    assert int(rows[("WS", "join")]["Request Count"]) == 6
    assert int(rows[("RECV", "welcome")]["Request Count"]) == 6
    assert int(rows[("RECV", "tick")]["Request Count"]) > 0
    assert int(rows[("WS", "start_sale")]["Request Count"]) >= 1
    assert int(rows[("SALE", "sale started")]["Request Count"]) >= 1
    assert int(rows[("", "Aggregated")]["Failure Count"]) == 0, Path(
        f"{prefix}_failures.csv"
    ).read_text()


@crowd
def test_fanout_bench_delivers_to_every_viewer_on_all_three_servers() -> None:
    # --port 0: each of the three servers on a port the OS picks, free at that moment
    result = run_script(
        "bench_fanout.py", "--port", "0", "--viewers", "30", "--comments", "20",
        "--likes", "200", "-d", "2", "--warmup", "0.5", "--senders", "2",
        "--probes", "10", "--baselines", "all", "--lazy-read-ms", "20",
    )  # fmt: skip
    rows = {r["server"]: r for r in result["rows"]}
    assert set(rows) == {"liveroom", "plain", "socketio"}
    for row in rows.values():
        assert row["connected"] == 30
        assert row["dropped"] == 0
        assert row["deliveries_per_s"] > 0
        assert row["latency_samples"] > 0
    # every host comment reaches every viewer: about 30 x 20 deliveries a second
    assert rows["liveroom"]["deliveries_per_s"] > 0.5 * 30 * 20
    assert any(c["ok"] is not None for c in result["verdict"])


@pytest.mark.parametrize("engine", ["memory", "redis"])
def test_flashsale_bench_holds_exactly_the_stock(engine: str) -> None:
    args = ["--port", str(free_port()), "--viewers", "40", "--stock", "10", "--webhook"]
    if engine == "redis":
        args.append("--redis")
    row = run_script("bench_flashsale.py", *args)["row"]
    # and the merchant's endpoint got every hold, signed
    assert (row["webhook_holds"], row["webhook_unsigned"]) == (10, 0)
    assert row["connected"] == 40
    assert row["held_units"] == 10
    assert not row["oversold"]
    assert row["outcomes"].get("ack") == 10
    assert row["outcomes"].get("sold_out") == 30
    assert row["server_available_after"] == 0
    assert row["unanswered"] == 0


def test_capacity_bench_holds_every_idle_viewer() -> None:
    port = free_port()
    result = run_script(
        "bench_capacity.py", "--port", str(port), "-n", "60", "--steps", "2", "--hold", "0.5"
    )
    row = result["rows"][0]
    assert row["held"] == 60
    assert row["open_after_hold"] == 60
    assert row["kib_per_conn"] > 0


def test_delivery_count_read_off_the_frame_header_matches_the_decoded_frame() -> None:
    """The load generator counts deliveries without decoding; it must agree with a decode."""
    import msgpack

    sys.path.insert(0, str(SCRIPTS))
    from benchlib.loadgen import events_in

    event = {"type": "comment", "ts": 1, "text": "hi", "seq": 1}
    for n in (0, 1, 15, 16, 300, 70_000):
        frame = msgpack.packb({"t": "tick", "seq": 9, "events": [event] * n, "likes": 3})
        assert events_in(frame) == n
    assert events_in(msgpack.packb({"t": "welcome", "seq": 0})) == 0


def test_percentiles_of_a_latency_histogram() -> None:
    sys.path.insert(0, str(SCRIPTS))
    from collections import Counter

    from benchlib.report import percentiles

    hist = Counter({10 * ms: 1 for ms in range(1, 1001)})  # 1..1000 ms, 0.1 ms buckets
    pct = percentiles(hist)
    assert pct["p50"] == 500.0
    assert pct["p99"] == 990.0
    assert pct["p999"] == 999.0
    assert pct["max"] == 1000.0
    assert percentiles(Counter())["p99"] is None
