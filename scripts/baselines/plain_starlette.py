"""Baseline: the room broadcast a team writes by hand with Starlette.

Every comment is encoded once and then awaited through `send_bytes` to each socket of the
room in turn: no tick coalescing, no pre-encoded wire frames, no sampling. It speaks the
same msgpack frames as liveroom (`{"t": "event", "events": [event]}`) so the same load
generator measures both. Run: `python scripts/baselines/plain_starlette.py --port 18601`.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import msgpack
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

ROOMS: dict[str, set[WebSocket]] = {}
SEQ: dict[str, int] = {}


async def healthz(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok\n")


async def room_socket(ws: WebSocket) -> None:
    await ws.accept()
    room_id = ws.path_params["room_id"]
    conns = ROOMS.setdefault(room_id, set())
    conns.add(ws)
    await ws.send_bytes(msgpack.packb({"t": "welcome", "room": room_id, "viewers": len(conns)}))
    try:
        while True:
            msg: Any = msgpack.unpackb(await ws.receive_bytes())
            if not isinstance(msg, dict) or msg.get("t") != "comment":
                continue  # likes and the rest are not part of this baseline
            SEQ[room_id] = SEQ.get(room_id, 0) + 1
            event = {
                "type": "comment",
                "ts": int(time.time() * 1000),
                "seq": SEQ[room_id],
                "text": str(msg.get("text", ""))[:200],
            }
            data = msgpack.packb({"t": "event", "events": [event]})
            for other in list(conns):
                try:
                    await other.send_bytes(data)
                except Exception:
                    conns.discard(other)
    except WebSocketDisconnect:
        pass
    finally:
        conns.discard(ws)


app = Starlette(
    routes=[Route("/healthz", healthz), WebSocketRoute("/ws/rooms/{room_id}", room_socket)]
)

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=18601)
    args = parser.parse_args()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", backlog=4096)
