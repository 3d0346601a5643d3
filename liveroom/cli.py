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
            ttl_s=args.ttl,
        )
    )


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
    tok.add_argument("--ttl", type=int, default=3600, help="seconds until it expires")
    tok.add_argument("--secret", default="", help="signing secret (LIVEROOM_SECRET)")
    tok.set_defaults(func=_token)

    from liveroom.draws.verify_cli import add_verify_parser

    add_verify_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.func(args)
