"""How much of the process a room tick may take when its writes run long.

A tick writes one frame per viewer; with thousands of viewers on a loaded box the writes take
longer than the tick period. Run back to back, ticks would starve everything else the
process does: reading frames, answering grabs, welcoming viewers. So after a tick that ran
long, the rest of the process gets a pause before the next one.

While viewers are being welcomed (a WeCom reminder's join storm, or a dead process's viewers
coming back), the viewers already in are the ones who can wait: their events are not lost,
only carried by fewer, larger tick frames (the sampler sees the time that really passed),
while every viewer still joining waits on the process's CPU for its handshake and welcome.
The ticks then take at most a quarter of the process, and their frames come at most
`JOINING_REST_MAX_S` apart plus the writes.
"""

from __future__ import annotations

# while joins are in flight the tick takes 1 / (1 + JOINING_REST_FACTOR) of the process
JOINING_REST_FACTOR = 3.0
JOINING_REST_MAX_S = 0.25


def rest_after(took_s: float, tick_s: float, joining: bool) -> float:
    """The pause owed to the rest of the process before the next tick, if the tick that
    just ran (its writes took `took_s`) left the loop behind schedule."""
    if joining:
        return min(JOINING_REST_FACTOR * took_s, JOINING_REST_MAX_S)
    return min(took_s, tick_s)
