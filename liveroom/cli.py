"""`liveroom` command line: serve, token, and the tools around them."""

from __future__ import annotations

import argparse
import sys

from liveroom import tokens
from liveroom.settings import Settings


def _serve(args: argparse.Namespace) -> None:
    from liveroom.server import serve

    settings = Settings.from_env(
        host=args.host, port=args.port, workers=args.workers, redis_url=args.redis_url
    )
    if settings.uses_dev_secret:
        host_token = tokens.mint_for(
            settings.secret, "host", room="demo", role="host", nick="Host", ttl_s=86400
        )
        base = f"http://{settings.host}:{settings.port}"
        print(
            "liveroom: no LIVEROOM_SECRET set, using the development secret (never in production)\n"
            f"  host panel:  {base}/panel?room=demo&token={host_token}\n"
            f"  viewer page: {base}/watch?room=demo",
            file=sys.stderr,
            flush=True,
        )
    serve(settings)


def _token(args: argparse.Namespace) -> None:
    settings = Settings.from_env()
    print(
        tokens.mint_for(
            args.secret or settings.secret,
            args.user,
            room=args.room,
            role="host" if args.host else "viewer",
            nick=args.nick or args.user,
            tier=args.tier,
            src=args.source,
            ref=args.ref,
            ttl_s=args.ttl,
        )
    )


def _api(args: argparse.Namespace) -> None:
    """Call the merchant API signed, as a merchant backend would (curl with the signing done)."""
    import urllib.error
    import urllib.request

    from liveroom.merchant.auth import signed_headers

    settings = Settings.from_env()
    body = (args.json or "").encode()
    path = args.path if args.path.startswith("/") else f"/{args.path}"
    headers = signed_headers(args.secret or settings.merchant_key, args.method, path, body)
    if body:
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(
        args.url.rstrip("/") + path, data=body or None, headers=headers, method=args.method.upper()
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            print(resp.read().decode())
    except urllib.error.HTTPError as err:
        print(err.read().decode(), file=sys.stderr)
        raise SystemExit(f"HTTP {err.code}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="liveroom", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the server (memory engine unless a Redis URL is set)")
    serve.add_argument("--host", default=None, help="bind address (LIVEROOM_HOST, 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (LIVEROOM_PORT, 8000)")
    serve.add_argument("--workers", type=int, default=None, help="processes (needs Redis)")
    serve.add_argument("--redis-url", default=None, help="Redis URL (LIVEROOM_REDIS_URL)")
    serve.set_defaults(func=_serve)

    tok = sub.add_parser("token", help="mint a viewer or host token for development")
    tok.add_argument("--user", default="dev-user")
    tok.add_argument("--room", default=tokens.ANY_ROOM, help="room id, or * for any room")
    tok.add_argument("--host", action="store_true", help="a host token (host commands allowed)")
    tok.add_argument("--nick", default="")
    tok.add_argument("--tier", default="", help="member tier, e.g. member or vip")
    tok.add_argument("--source", default="", help="source channel, e.g. wecom_group")
    tok.add_argument("--ref", default="", help="share code the viewer came through")
    tok.add_argument("--ttl", type=int, default=3600, help="seconds until it expires")
    tok.add_argument("--secret", default="", help="signing secret (LIVEROOM_SECRET)")
    tok.set_defaults(func=_token)

    api = sub.add_parser("api", help="call the merchant API with a signed request")
    api.add_argument("method", help="GET, POST, PUT, DELETE")
    api.add_argument("path", help="e.g. /api/products")
    api.add_argument("json", nargs="?", default="", help="request body (JSON)")
    api.add_argument("--url", default="http://127.0.0.1:8000", help="server base URL")
    api.add_argument("--secret", default="", help="merchant secret (LIVEROOM_MERCHANT_SECRET)")
    api.set_defaults(func=_api)

    from liveroom.analytics.cli import add_analytics_parser
    from liveroom.draws.verify_cli import add_verify_parser

    add_verify_parser(sub)
    add_analytics_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.func(args)
