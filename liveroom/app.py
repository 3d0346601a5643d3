"""The Starlette application: routes, and the engine and hub it runs on."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from liveroom import commands, gcpolicy
from liveroom.draws.http import draw_record
from liveroom.draws.service import DrawService
from liveroom.engine import create_engine
from liveroom.engine.base import Engine
from liveroom.hub import Hub
from liveroom.merchant.routes import merchant_routes
from liveroom.metrics import METRICS
from liveroom.sales.service import SalesService
from liveroom.settings import Settings
from liveroom.ws import ROOM_SOCKET_PATH, room_socket

log = logging.getLogger("liveroom")
STATIC = Path(__file__).parent / "static"

# Feature modules extend the welcome frame (room_id, identity) and react to accepted comments.
WelcomeHook = Callable[[dict[str, Any], str, Any], Awaitable[None]]
CommentHook = Callable[[Any, dict[str, Any]], Awaitable[None]]


@dataclass
class LiveroomApp:
    settings: Settings
    engine: Engine
    hub: Hub
    services: dict[str, Any] = field(default_factory=dict)
    welcome_hooks: list[WelcomeHook] = field(default_factory=list)
    comment_hooks: list[CommentHook] = field(default_factory=list)
    ready: bool = False


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok\n")


async def readyz(request: Request) -> Response:
    lr: LiveroomApp = request.app.state.liveroom
    if not lr.ready:
        return JSONResponse({"ready": False}, status_code=503)
    try:
        await lr.engine.room("__readyz__")
    except Exception as exc:
        return JSONResponse({"ready": False, "error": str(exc)}, status_code=503)
    return JSONResponse({"ready": True, "engine": lr.engine.name})


async def metrics(request: Request) -> Response:
    lr: LiveroomApp = request.app.state.liveroom
    return PlainTextResponse(
        METRICS.render({"rooms": len(lr.hub.rooms)}), media_type="text/plain; version=0.0.4"
    )


def _page(name: str) -> Callable[[Request], Awaitable[Response]]:
    async def serve(request: Request) -> Response:
        return FileResponse(STATIC / name)

    return serve


class LiveroomStarlette(Starlette):
    """Starlette with the room socket dispatched before the middleware stack.

    A viewer's socket lives for the whole show, and every layer it passes through
    (error middleware, exception middleware, router, route, session wrapper) keeps a
    suspended coroutine frame for all that time: about 2 KiB a viewer, 40 MiB for 20,000.
    The room socket handles its own errors, so it goes straight to its endpoint.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            match = ROOM_SOCKET_PATH.match(scope["path"])
            if match is not None:
                scope["app"] = self
                scope["path_params"] = {"room_id": match["room_id"]}
                await room_socket(WebSocket(scope, receive, send))
                return
        await super().__call__(scope, receive, send)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    commands.load_all()
    engine = create_engine(settings)
    lr = LiveroomApp(settings, engine, Hub(engine))
    draws = DrawService.install(lr)
    sales = SalesService.install(lr)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await engine.start()
        await lr.hub.start()
        await draws.start()
        await sales.start()
        collector = asyncio.get_running_loop().create_task(
            gcpolicy.manage(settings.gc_freeze_s, settings.gc_full_s), name="gc-policy"
        )
        lr.ready = True
        try:
            yield
        finally:
            lr.ready = False
            collector.cancel()
            await sales.stop()
            await draws.stop()
            await lr.hub.stop()
            await engine.close()

    routes: list[Any] = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
        Route("/api/draws/{room_id}/{draw_id}", draw_record),
    ]
    routes += merchant_routes()
    if (STATIC / "panel.html").exists():
        routes.append(Route("/panel", _page("panel.html")))
    if (STATIC / "watch.html").exists():
        routes.append(Route("/watch", _page("watch.html")))
    routes.append(Mount("/static", StaticFiles(directory=STATIC), name="static"))
    app = LiveroomStarlette(routes=routes, lifespan=lifespan)
    app.state.liveroom = lr
    return app
