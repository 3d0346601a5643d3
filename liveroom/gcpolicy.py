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
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time

log = logging.getLogger("liveroom.gc")


async def manage(freeze_s: float, full_s: float) -> None:
    """Run until cancelled; `freeze_s <= 0` leaves the collector as CPython sets it."""
    if freeze_s <= 0:
        return
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
