"""Garbage-collector policy for a process that holds thousands of long-lived connections.

Each viewer's socket is a few hundred long-lived objects (protocol, transport, task, our
Connection), so 10,000 viewers put about a million objects in CPython's oldest generation.
A full collection walks all of them and stopped the server for about a second, which showed
as a one-second spike in delivery latency every minute or so of a busy show (measured:
p99 934 ms with the default collector, 156 ms without full collections; docs/benchmarks.md).

So every `freeze_s` the objects alive then are moved out of the collector's sight
(`gc.freeze`): later collections only walk what is new, and stay short. Frozen objects still
die by reference counting; only frozen reference cycles (a closed connection's, say) wait
for the next full pass, which runs every `full_s` (`gc.unfreeze` then `gc.collect`), so
nothing leaks for longer than that.

Freezing alone left the moments that matter most exposed: objects born since the last
freeze (thousands of viewers joining in the minute of a "we are live" reminder, their grabs
a second later) are young and many, and CPython starts a full collection whenever the
objects promoted to the oldest generation grow by a quarter. Measured in a flash sale of
5,000 viewers who had just joined: full collections of 65 to 836 ms, each finding nothing,
in the middle of the grab burst. So CPython's own full collections are turned off (the
oldest generation's threshold raised out of reach); young collections stay as CPython sets
them, and the only full pass is ours, every `full_s`.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time

log = logging.getLogger("liveroom.gc")

NEVER = 2**30  # gen-1 collections between automatic full ones: never, in practice


async def manage(freeze_s: float, full_s: float) -> None:
    """Run until cancelled; `freeze_s <= 0` leaves the collector as CPython sets it."""
    if freeze_s <= 0:
        return
    young, middle, oldest = gc.get_threshold()
    gc.set_threshold(young, middle, NEVER)
    try:
        await _run(freeze_s, full_s)
    finally:
        gc.set_threshold(young, middle, oldest)


async def _run(freeze_s: float, full_s: float) -> None:
    loop = asyncio.get_running_loop()
    next_full = loop.time() + full_s
    while True:
        await asyncio.sleep(freeze_s)
        if full_s > 0 and loop.time() >= next_full:
            gc.unfreeze()
            started = time.perf_counter()
            found = gc.collect()
            log.info(
                "full collection: %d unreachable objects in %.0f ms",
                found,
                (time.perf_counter() - started) * 1000,
            )
            next_full = loop.time() + full_s
        gc.freeze()
