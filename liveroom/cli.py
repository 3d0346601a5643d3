"""`liveroom` command line: serve, token, and the tools around them.

`serve`, `token` and `api` read one environment (LIVEROOM_HOST, LIVEROOM_PORT,
LIVEROOM_SECRET, LIVEROOM_MERCHANT_SECRET), so in a shell where the server was started,
`liveroom token` mints tokens it accepts and `liveroom api` reaches it with its key.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys

from liveroom import tokens
from liveroom.settings import Settings

ANY_ADDRESS = ("0.0.0.0", "::", "")


def lan_addresses() -> list[str]:
    """This machine's IPv4 addresses other machines on its networks can reach (what a phone
    on the same Wi-Fi opens), best first; empty when it has none."""
    found: list[str] = []
    # the address the default route leaves from (connect() on UDP sends nothing)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed anywhere real
            found.append(probe.getsockname()[0])
        except OSError:
            pass
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
        found += [str(info[4][0]) for info in infos]
    except OSError:
        pass
    out: list[str] = []
    for addr in found:
        if addr not in out and not addr.startswith(("127.", "0.", "169.254.")):
            out.append(addr)
    return out


def link_hosts(bind_host: str) -> list[str]:
    """Hosts to print in links for a server bound to `bind_host`: a wildcard bind is not
    an address anyone can open, so it becomes loopback and this machine's LAN addresses."""
    if bind_host in ANY_ADDRESS:
        return ["127.0.0.1", *lan_addresses()]
    return [bind_host]


def startup_banner(settings: Settings) -> str:
    """What `serve` prints before it starts: links to the panel and the viewer page, with
    addresses a phone on the same network can open when the server listens on all of them."""
    lines = []
    host_token = ""
    if settings.uses_dev_secret:
        lines.append(
            "liveroom: no LIVEROOM_SECRET set, using the development secret (never in production)"
        )
        host_token = tokens.mint_for(
            settings.secret, "host", room="demo", role="host", nick="Host", ttl_s=86400
        )
    hosts = link_hosts(settings.host)
    for i, host in enumerate(hosts):
        if i == 1:
            lines.append("  from a phone or another machine on this network:")
        base = f"http://{_url_host(host)}:{settings.port}"
        if host_token:
            lines.append(f"  host panel:  {base}/panel?room=demo&token={host_token}")
        lines.append(f"  viewer page: {base}/watch?room=demo")
    if not host_token:
        lines.append("  host panel: /panel?room=demo&token=<`liveroom token --host --room demo`>")
    return "\n".join(lines)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _serve(args: argparse.Namespace) -> None:
    from liveroom.server import serve

    settings = Settings.from_env(
        host=args.host, port=args.port, workers=args.workers, redis_url=args.redis_url
    )
    print(startup_banner(settings), file=sys.stderr, flush=True)
    serve(settings)


def _token(args: argparse.Namespace) -> None:
    settings = Settings.from_env()
    if not args.secret and settings.uses_dev_secret:
        print(
            "liveroom: signed with the development secret (no LIVEROOM_SECRET set): a server "
            "started with LIVEROOM_SECRET will refuse this token",
            file=sys.stderr,
        )
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


def default_api_url(settings: Settings) -> str:
    """The server `liveroom serve` would start in this environment."""
    host = "127.0.0.1" if settings.host in ANY_ADDRESS else settings.host
    return f"http://{_url_host(host)}:{settings.port}"


def _key_source(args: argparse.Namespace, settings: Settings) -> str:
    if args.secret:
        return "--secret"
    if settings.merchant_secret:
        return "LIVEROOM_MERCHANT_SECRET"
    if not settings.uses_dev_secret:
        return "LIVEROOM_SECRET"
    return "the development secret (neither LIVEROOM_MERCHANT_SECRET nor LIVEROOM_SECRET set)"


def _api(args: argparse.Namespace) -> None:
    """Call the merchant API signed, as a merchant backend would (curl with the signing done).
    Failures say what to fix, without a traceback."""
    import urllib.error
    import urllib.request

    from liveroom.merchant.auth import signed_headers

    settings = Settings.from_env()
    url = (args.url or default_api_url(settings)).rstrip("/")
    body = (args.json or "").encode()
    path = args.path if args.path.startswith("/") else f"/{args.path}"
    method = args.method.upper()
    headers = signed_headers(args.secret or settings.merchant_key, method, path, body)
    if body:
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url + path, data=body or None, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=args.timeout) as resp:
            print(resp.read().decode())
    except urllib.error.HTTPError as err:
        text = err.read().decode(errors="replace")
        print(text, file=sys.stderr)
        raise SystemExit(f"HTTP {err.code}{_hint(err.code, text, args, settings)}") from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise SystemExit(
            f"liveroom api: no liveroom server answers at {url} ({reason}).\n"
            "Start one with `liveroom serve`, or point at yours with --url or LIVEROOM_PORT "
            "(and LIVEROOM_HOST)."
        ) from None


def _hint(status: int, text: str, args: argparse.Namespace, settings: Settings) -> str:
    try:
        code = json.loads(text)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return ""
    if code == "bad_signature":
        return (
            f": the server refused the signature. This call was signed with "
            f"{_key_source(args, settings)}, which differs from the server's merchant secret: "
            "set LIVEROOM_MERCHANT_SECRET (or LIVEROOM_SECRET, which it defaults to) to the "
            "value the server runs with, or pass --secret."
        )
    if code == "stale_request":
        return ": this machine's clock is more than 5 minutes off the server's."
    return f" ({code})"


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
    api.add_argument(
        "--url",
        default="",
        help="server base URL (default http://LIVEROOM_HOST:LIVEROOM_PORT, 127.0.0.1:8000)",
    )
    api.add_argument(
        "--secret",
        default="",
        help="merchant secret (LIVEROOM_MERCHANT_SECRET, else LIVEROOM_SECRET)",
    )
    api.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the answer")
    api.set_defaults(func=_api)

    from liveroom.analytics.cli import add_analytics_parser
    from liveroom.draws.verify_cli import add_verify_parser

    add_verify_parser(sub)
    add_analytics_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.func(args)
