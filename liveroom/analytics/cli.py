"""`liveroom analytics rebuild --room R`: fold a room's figures afresh from its commerce stream.

It asks the server (a signed merchant call, like `liveroom api`), so it works on either
engine: on memory the figures and the stream live in the server process. It prints what
differs between the live figures and the rebuilt ones; `--apply` puts the rebuilt ones in
place (after the show: while it runs, flushes in flight could be counted twice). Exit
status: 0 the two agree (or were applied), 1 they differ, 2 the call failed.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from typing import Any

from liveroom.settings import Settings


def add_analytics_parser(sub: Any) -> None:
    p = sub.add_parser("analytics", help="show figures: rebuild them from the commerce stream")
    verbs = p.add_subparsers(dest="verb", required=True)
    rebuild = verbs.add_parser(
        "rebuild",
        help="fold a room's figures afresh from its commerce stream and compare",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rebuild.add_argument("--room", required=True, help="the room (show) id")
    rebuild.add_argument("--apply", action="store_true", help="put the rebuilt figures in place")
    rebuild.add_argument("--url", default="http://127.0.0.1:8000", help="server base URL")
    rebuild.add_argument("--secret", default="", help="merchant secret (LIVEROOM_MERCHANT_SECRET)")
    rebuild.set_defaults(func=run_rebuild)


def run_rebuild(args: argparse.Namespace) -> None:
    from liveroom.merchant.auth import signed_headers

    path = f"/api/rooms/{args.room}/report/rebuild"
    body = json.dumps({"apply": args.apply}).encode()
    key = args.secret or Settings.from_env().merchant_key
    headers = {"Content-Type": "application/json", **signed_headers(key, "POST", path, body)}
    req = urllib.request.Request(args.url.rstrip("/") + path, body, headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            out = json.loads(resp.read())["rebuild"]
    except urllib.error.HTTPError as err:
        print(err.read().decode(), file=sys.stderr)
        raise SystemExit(2) from None
    except OSError as err:
        print(f"cannot reach {args.url}: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    report = out["report"]
    print(
        f"room {args.room}: {out['events']} events folded; viewers {report['viewers']['unique']},"
        f" comments {report['comments']}, paid {report['paid']} ({report['paid_fen']} fen)"
    )
    for d in out["differences"]:
        print(f"  {d['table']} {d['kind']} {d['field']}: live {d['live']}, rebuilt {d['rebuilt']}")
    if out["applied"]:
        print("applied: the rebuilt figures are now the room's")
    elif out["differences"]:
        raise SystemExit(1)
    else:
        print("the live figures agree with the stream")
