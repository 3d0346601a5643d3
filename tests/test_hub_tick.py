"""The tick loop under overload: slow ticks must leave the rest of the process some time."""

from __future__ import annotations

import asyncio
import time

from liveroom import codec
from liveroom.connection import Connection
from liveroom.engine.memory import MemoryEngine
from liveroom.hub import Hub
from liveroom.settings import Settings
from liveroom.tokens import Identity


async def test_ticks_slower_than_the_period_still_leave_the_loop_to_others() -> None:
    """A tick whose writes take longer than the tick period (10,000 viewers on a busy box)
    must not run back to back with the next: frames being read and grabs being answered
    need turns of the loop in between, several per request. Here every tick blocks the loop
    for 60 ms at a 20 ms period; the rest of the process still gets a fair share of it."""
    hub = Hub(MemoryEngine(Settings(tick_ms=20)))
    ticks = 0

    def slow_flush_all(tick_s: float) -> None:
        nonlocal ticks
        ticks += 1
        time.sleep(0.06)  # the writes of one tick, blocking the loop as a send() loop does

    hub.flush_all = slow_flush_all  # type: ignore[method-assign]
    turns = 0

    async def other_work() -> None:
        nonlocal turns
        while True:
            await asyncio.sleep(0.001)
            turns += 1

    await hub.start()
    worker = asyncio.create_task(other_work())
    try:
        await asyncio.sleep(1.5)
    finally:
        worker.cancel()
        await hub.stop()
    # back to back, the other work would get about one turn per tick; with the rest after
    # each slow tick it gets millisecond turns for a while after every one of them
    assert ticks >= 5
    assert turns >= 3 * ticks, (turns, ticks)


class _Socket:
    """What a Connection reads off Starlette's WebSocket at construction: no raw socket,
    so it would write through ASGI (nothing is written here: the ticks are stand-ins)."""

    def __init__(self) -> None:
        self.scope: dict = {}


async def test_while_a_viewer_is_being_welcomed_ticks_yield_more_of_the_process() -> None:
    """A join or reconnect storm: ticks that run long leave three times their length to the
    handshakes and welcomes (rules/ticks.py) until the last joining viewer is welcomed, then
    go back to the usual share."""
    hub = Hub(MemoryEngine(Settings(tick_ms=20)))
    ticks = 0

    def slow_flush_all(tick_s: float) -> None:
        nonlocal ticks
        ticks += 1
        time.sleep(0.03)

    hub.flush_all = slow_flush_all  # type: ignore[method-assign]

    async def ticks_in(seconds: float) -> int:
        before = ticks
        await asyncio.sleep(seconds)
        return ticks - before

    await hub.start()
    try:
        normal = await ticks_in(1.2)
        conn = Connection(_Socket(), Identity("v1", "V"), codec.MSGPACK)  # type: ignore[arg-type]
        await hub.join("r1", conn)
        welcoming = await ticks_in(1.2)
        hub.finish_join(conn, 0)
        after = await ticks_in(1.2)
        hub.leave("r1", conn)
        conn.lost()
    finally:
        await hub.stop()
    # about 1.2 / (0.03 + 0.03) = 20 ticks, against 1.2 / (0.03 + 0.09) = 10 while welcoming
    assert welcoming < 0.75 * normal, (normal, welcoming)
    assert after > 1.25 * welcoming, (welcoming, after)
