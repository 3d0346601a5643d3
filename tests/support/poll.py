"""Wait for a condition only the outside world can change (a process's memory, a socket's
state in the kernel): look again every so often, up to a deadline."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def poll_until(pred: Callable[[], bool], timeout: float, every: float = 0.1) -> bool:
    """True as soon as `pred()` is; False if it is still false after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not pred():
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(every)
    return True
