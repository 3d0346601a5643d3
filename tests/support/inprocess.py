"""The app served by uvicorn inside the test's own event loop, with the production uvicorn
configuration: for tests that must reach into the running node (inject a fault into one
connection) while real clients talk to it over real sockets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from starlette.applications import Starlette

from liveroom.app import create_app
from liveroom.node import Node
from liveroom.server import uvicorn_config
from liveroom.settings import Settings
from tests.support.server import free_port


class Served:
    def __init__(self, app: Starlette, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    @property
    def node(self) -> Node:
        return self.app.state.node

    def ws_url(self, room: str, token: str) -> str:
        return f"ws://127.0.0.1:{self.settings.port}/ws/rooms/{room}?token={token}"


@asynccontextmanager
async def served(settings: Settings) -> AsyncIterator[Served]:
    settings = settings.with_(port=free_port())
    app = create_app(settings)
    config = uvicorn.Config(app, **uvicorn_config(settings, log_level="warning"))
    server = uvicorn.Server(config)
    task = asyncio.get_running_loop().create_task(server.serve())
    try:
        for _ in range(200):
            if server.started or task.done():
                break
            await asyncio.sleep(0.05)
        if not server.started:
            raise RuntimeError("in-process server did not start")
        yield Served(app, settings)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)
