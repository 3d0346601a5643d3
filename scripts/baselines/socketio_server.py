"""Baseline: python-socketio on ASGI with its Redis manager, the usual off-the-shelf choice.

A comment becomes `emit("comment", event, room=...)`; with AsyncRedisManager every emit goes
through Redis pub/sub and each process then sends it to its own sockets of the room.
Run: `python scripts/baselines/socketio_server.py --port 18602 --redis-url redis://127.0.0.1:6379/0`.
"""

from __future__ import annotations

import argparse
import time
from typing import Any
from urllib.parse import parse_qs

import socketio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route


async def healthz(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok\n")


def build(redis_url: str, channel: str) -> socketio.ASGIApp:
    manager = socketio.AsyncRedisManager(redis_url, channel=channel)
    sio = socketio.AsyncServer(async_mode="asgi", client_manager=manager)
    rooms: dict[str, str] = {}
    seqs: dict[str, int] = {}

    @sio.event
    async def connect(sid: str, environ: dict, auth: Any = None) -> None:
        room = parse_qs(environ.get("QUERY_STRING", "")).get("room", ["bench"])[0]
        rooms[sid] = room
        await sio.enter_room(sid, room)

    @sio.event
    async def disconnect(sid: str, *args: Any) -> None:
        rooms.pop(sid, None)

    @sio.on("comment")
    async def comment(sid: str, data: Any) -> None:
        room = rooms.get(sid, "bench")
        seqs[room] = seqs.get(room, 0) + 1
        text = str(data.get("text", ""))[:200] if isinstance(data, dict) else ""
        event = {"type": "comment", "ts": int(time.time() * 1000), "seq": seqs[room], "text": text}
        await sio.emit("comment", event, room=room)

    return socketio.ASGIApp(sio, other_asgi_app=Starlette(routes=[Route("/healthz", healthz)]))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=18602)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--channel", default="lrbench-socketio")
    args = parser.parse_args()
    app = build(args.redis_url, args.channel)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", backlog=4096)
