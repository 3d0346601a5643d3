"""`liveroom verify-draw`: recompute a draw offline from its revealed seed and entrants.

Either point it at the public record (`--url http://host/api/draws/ROOM/DRAW`, or a saved
copy with `--record file.json`) and it checks the record against itself, or give the parts
by hand (`--seed`, `--entrants`, `--winners`, and optionally `--expect` and
`--commitment`). Exit status: 0 all checks pass, 1 a check failed, 2 nothing to check.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request
from pathlib import Path
from typing import Any

from liveroom.rules import draw as rules


def add_verify_parser(sub: Any) -> None:
    p = sub.add_parser(
        "verify-draw",
        help="recompute a lucky draw's winners from its revealed seed and entrants",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("--url", help="the draw's public record, /api/draws/{room}/{draw}")
    src.add_argument("--record", help="a saved copy of that record ('-' for stdin)")
    p.add_argument("--seed", help="the revealed seed")
    p.add_argument("--entrants", help="file of entrant ids: a JSON list or one per line")
    p.add_argument("--winners", type=int, help="number of winners drawn")
    p.add_argument("--expect", help="announced winner ids, comma separated, in order")
    p.add_argument("--commitment", help="the hash shown when the draw started")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def _read_entrants(path: str) -> list[str]:
    text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    stripped = text.strip()
    if stripped.startswith("["):
        data = json.loads(stripped)
        if isinstance(data, list):
            return [str(x) for x in data]
    return [line.strip() for line in text.splitlines() if line.strip()]


def _load_record(args: argparse.Namespace) -> dict[str, Any] | None:
    if args.url:
        with urllib.request.urlopen(args.url, timeout=20) as resp:
            return json.loads(resp.read())
    if args.record:
        text = sys.stdin.read() if args.record == "-" else Path(args.record).read_text("utf-8")
        return json.loads(text)
    return None


def check(args: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    """(exit status, report); split from `run` so tests call it without a subprocess."""
    record = _load_record(args)
    seed, k = args.seed, args.winners
    entrants = _read_entrants(args.entrants) if args.entrants else None
    expect = [w for w in args.expect.split(",") if w] if args.expect is not None else None
    claimed_commitment = args.commitment
    if record is not None:
        if record.get("state") == rules.OPEN or "seed" not in record:
            return 2, {"ok": False, "error": "the draw is still open: no seed revealed yet"}
        seed = seed or record["seed"]
        entrants = entrants if entrants is not None else record.get("entrants", [])
        k = k if k is not None else record.get("winners_count")
        claimed_commitment = claimed_commitment or record.get("commitment")
        if expect is None and record.get("state") == rules.CLOSED:
            expect = [w["uid"] for w in record.get("winners", [])]
    if seed is None or entrants is None or k is None:
        return 2, {"ok": False, "error": "need --url/--record, or --seed, --entrants, --winners"}
    if record is not None and record.get("state") == rules.CANCELLED:
        k, expect = 0, None  # nobody won a cancelled draw; only the commitment is checked
    report = rules.verify(
        seed, entrants, k, claimed_winners=expect, claimed_commitment=claimed_commitment
    )
    report["entrants_count"] = len(set(entrants))
    return (0 if report["ok"] else 1), report


def run(args: argparse.Namespace) -> None:
    try:
        status, report = check(args)
    except (OSError, ValueError, KeyError) as exc:
        status, report = 2, {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        _print_human(report)
    sys.exit(status)


def _print_human(report: dict[str, Any]) -> None:
    if "error" in report:
        print(f"cannot verify: {report['error']}", file=sys.stderr)
        return
    print(f"entrants:   {report['entrants_count']}")
    print(f"commitment: {report['commitment']}", end="")
    if "commitment_matches" in report:
        print("  (matches)" if report["commitment_matches"] else "  (DOES NOT MATCH)", end="")
    print()
    print("winners:    " + (", ".join(report["winners"]) or "(none)"))
    if "winners_match" in report:
        verdict = "match" if report["winners_match"] else "DO NOT MATCH"
        print(f"the announced winners {verdict} the recomputed ones")
    print("VERIFIED" if report["ok"] else "FAILED")
