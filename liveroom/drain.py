"""Graceful restart: on SIGTERM a process hands its viewers over instead of dropping them.

Uvicorn's shutdown stops accepting, then asks every open connection to close itself; a
room socket's protocol answers by joining this drain (rawws.LiveroomWSProtocol.shutdown).
The drain, once per process:

1. marks the node not ready (`/readyz` answers 503, so balancers stop sending viewers);
2. stops handing new client frames to the app, and waits for the frames already being
   handled (grabs, host commands) to finish, within `drain_timeout_s`; a frame not started
   is not lost: the client sends it again, with the same request id, where it reconnects;
3. waits two ticks, so events those frames made reach their viewers here;
4. closes every room socket with 1012 (service restart) and the JSON reason
   `{"reconnect": true, "since": <last seq sent to that client>}`;
5. gives clients `close_grace_s` to finish the close, then resets what is left.

Uvicorn then waits for its other connections and tasks (merchant calls in flight) and runs
the app's shutdown. With `--workers N` each worker process drains itself the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import TYPE_CHECKING

from liveroom.metrics import METRICS
from liveroom.protocol import CLOSE_SERVICE_RESTART

if TYPE_CHECKING:
    from liveroom.node import Node
    from liveroom.rawws import LiveroomWSProtocol

log = logging.getLogger("liveroom.drain")

NOT_WELCOMED_REASON = json.dumps({"reconnect": True}, separators=(",", ":"))


class Drain:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.sockets: list[LiveroomWSProtocol] = []
        self.task: asyncio.Task[None] | None = None

    def add(self, proto: LiveroomWSProtocol) -> None:
        """A room socket uvicorn wants closed. The first one starts the drain; uvicorn
        hands over every connection in one synchronous pass, before the drain runs."""
        proto.stop_reading()
        self.sockets.append(proto)
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._run(), name="drain")

    async def _run(self) -> None:
        node, settings = self.node, self.node.settings
        loop = asyncio.get_running_loop()
        started = loop.time()
        node.ready = False
        deadline = started + settings.drain_timeout_s
        # polled: the flags change in protocol callbacks, and this runs once per process life
        while loop.time() < deadline and self._busy():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        if self._busy():
            log.warning("drain: %d frame(s) still being handled, closing anyway", self._busy())
        await asyncio.sleep(2 * settings.tick_ms / 1000)
        closed = node.hub.close_all(CLOSE_SERVICE_RESTART)
        for proto in self.sockets:  # sockets not (or no longer) in a room
            if not proto.close_sent and not proto.disconnected:
                proto.close_now(CLOSE_SERVICE_RESTART, NOT_WELCOMED_REASON, settings.close_grace_s)
                closed += 1
        METRICS.restart_closed += closed
        log.info(
            "drain: %d socket(s) closed with %d after %.2f s",
            closed,
            CLOSE_SERVICE_RESTART,
            loop.time() - started,
        )
        # Uvicorn waits for the connections to go; they do within close_grace_s (reset).
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(settings.close_grace_s + 1):
                while any(not p.disconnected for p in self.sockets):  # noqa: ASYNC110
                    await asyncio.sleep(0.05)

    def _busy(self) -> int:
        return sum(1 for p in self.sockets if p.in_frame and not p.disconnected)
