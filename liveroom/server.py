"""Run the app under uvicorn on uvloop, with the raw-write WebSocket protocol."""

from __future__ import annotations

import logging
import math
import os
import re

import uvicorn
from starlette.applications import Starlette

from liveroom.rules.webhooks import types_problem, url_problem
from liveroom.settings import Settings

log = logging.getLogger("liveroom")
_SECRET_QUERY = re.compile(r"(token=)[^&\s\"]+")


class RedactTokens(logging.Filter):
    """Uvicorn logs each WebSocket's path with its query string: keep tokens out of the logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(
                _SECRET_QUERY.sub(r"\1<redacted>", a) if isinstance(a, str) else a
                for a in (record.args if isinstance(record.args, tuple) else (record.args,))
            )
        return True


def app_factory() -> Starlette:
    """Built per worker process, from the environment the parent set."""
    logging.getLogger("uvicorn.error").addFilter(RedactTokens())
    from liveroom.app import create_app

    return create_app(Settings.from_env())


def uvicorn_config(settings: Settings, **extra: object) -> dict[str, object]:
    try:
        import uvloop  # noqa: F401

        loop = "uvloop"
    except ImportError:  # pragma: no cover - Windows
        loop = "asyncio"
    return {
        "host": settings.host,
        "port": settings.port,
        "loop": loop,
        "http": "liveroom.admission:GuardedHTTPProtocol",
        "ws": "liveroom.rawws:LiveroomWSProtocol",
        "ws_per_message_deflate": False,
        "ws_max_size": settings.ws_max_bytes,
        "ws_ping_interval": settings.ws_ping_interval_s,
        "ws_ping_timeout": settings.ws_ping_timeout_s,
        # the drain (drain.py) closes room sockets within drain_timeout_s + close_grace_s;
        # past this, uvicorn cancels whatever is still running and exits anyway
        "timeout_graceful_shutdown": math.ceil(
            settings.drain_timeout_s + settings.close_grace_s + 10
        ),
        # a reconnect storm brings thousands of connections within a quarter second while
        # one turn of the loop may take longer than that: the kernel's accept queue holds
        # them (the kernel caps this at net.core.somaxconn; docs/operations.md) instead of
        # dropping them into the clients' SYN retries of 1, 3, 7 s
        "backlog": 65535,
        # the app never looks at client addresses (admission.py reads them, X-Forwarded-For
        # included, in the HTTP protocol); the proxy-header middleware would only keep one
        # more suspended frame alive per viewer
        "proxy_headers": False,
        "log_level": os.environ.get("LIVEROOM_LOG_LEVEL", "info"),
        **extra,
    }


def serve(settings: Settings) -> None:
    # Workers are separate processes: they read their settings from the environment.
    for key, value in (
        ("LIVEROOM_REDIS_URL", settings.redis_url),
        ("LIVEROOM_SECRET", settings.secret),
        ("LIVEROOM_KEY_PREFIX", settings.key_prefix),
        ("LIVEROOM_TICK_MS", str(settings.tick_ms)),
    ):
        os.environ[key] = value
    if settings.webhook_url and (why := url_problem(settings.webhook_url)):
        raise SystemExit(why)
    if why := types_problem(settings.webhook_types):
        raise SystemExit(why)
    if settings.workers > 1 and not settings.redis_url:
        raise SystemExit(
            "--workers > 1 needs LIVEROOM_REDIS_URL: the memory engine lives in one process"
        )
    uvicorn.run(
        "liveroom.server:app_factory",
        factory=True,
        workers=settings.workers if settings.workers > 1 else None,
        access_log=False,
        **uvicorn_config(settings),
    )
