"""The Starlette application: the node's routes, the room socket and the pages."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
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
from liveroom.merchant.routes import merchant_routes
from liveroom.metrics import METRICS
from liveroom.node import Node, build
from liveroom.rawws import NODE_KEY
from liveroom.settings import Settings
from liveroom.ws import ROOM_SOCKET_PATH, room_socket

log = logging.getLogger("liveroom")
STATIC = Path(__file__).parent / "static"


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok\n")


async def readyz(request: Request) -> Response:
    node: Node = request.app.state.node
    if not node.ready:
        return JSONResponse({"ready": False}, status_code=503)
    try:
        await node.engine.room("__readyz__")
    except Exception as exc:
        return JSONResponse({"ready": False, "error": str(exc)}, status_code=503)
    return JSONResponse({"ready": True, "engine": node.engine.name})


async def metrics(request: Request) -> Response:
    node: Node = request.app.state.node
    return PlainTextResponse(
        METRICS.render({"rooms": len(node.hub.rooms)}), media_type="text/plain; version=0.0.4"
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
    node = build(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        await node.start()
        collector = asyncio.get_running_loop().create_task(
            gcpolicy.manage(settings.gc_freeze_s, settings.gc_full_s), name="gc-policy"
        )
        try:
            # the lifespan state is what uvicorn hands its protocols (admission.py, rawws.py)
            yield {NODE_KEY: node}
        finally:
            collector.cancel()
            await node.stop()

    routes: list[Any] = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
    ]
    routes += node.routes()
    routes += merchant_routes()
    if (STATIC / "panel.html").exists():
        routes.append(Route("/panel", _page("panel.html")))
    if (STATIC / "watch.html").exists():
        routes.append(Route("/watch", _page("watch.html")))
    routes.append(Mount("/static", StaticFiles(directory=STATIC), name="static"))
    app = LiveroomStarlette(routes=routes, lifespan=lifespan)
    app.state.node = node
    return app
