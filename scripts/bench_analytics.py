"""What analytics adds to each hot path, in CPU microseconds per event, in one process.

The fan-out and flash-sale benchmarks measure whole servers on a shared machine, where the
noise is larger than the analytics' share; this one times the analytics' own code on each
path, as the server calls it: a comment, a like frame, a product click (in-process counters
only), a hold and a payment told by the stream (the fold), a session's enter and leave, and
one flush of a busy room (one store call). Memory store, so it is Python's cost alone.

    .venv/bin/python scripts/bench_analytics.py
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parents[1])]

from liveroom.analytics.memory_store import MemoryAnalyticsStore  # noqa: E402
from liveroom.analytics.service import Analytics  # noqa: E402
from liveroom.engine.memory import MemoryEngine  # noqa: E402
from liveroom.hub import Hub  # noqa: E402
from liveroom.settings import Settings  # noqa: E402
from liveroom.stream.memory import MemoryStream  # noqa: E402
from liveroom.tokens import Identity  # noqa: E402

ROOM = "bench"
N = 200_000


def per_call_us(fn: Callable[[int], Any], n: int = N) -> float:
    start = time.perf_counter()
    for i in range(n):
        fn(i)
    return (time.perf_counter() - start) / n * 1e6


async def main() -> None:
    settings = Settings()
    engine = MemoryEngine(settings)
    stream = MemoryStream()
    analytics = Analytics(settings, engine, Hub(engine), stream, MemoryAnalyticsStore(stream))
    stream.listen(analytics)
    viewers = [
        SimpleNamespace(
            ident=Identity(f"u{i}", ref="K7QX2M9A" if i % 3 else "", src="wecom_group"),
            room_id=ROOM,
            conn=object(),
        )
        for i in range(5000)
    ]

    def session(i: int) -> Any:
        return viewers[i % len(viewers)]

    rows = []
    rows.append(("like frame", per_call_us(lambda i: analytics.on_like(session(i), 3))))
    rows.append(
        ("product click", per_call_us(lambda i: analytics.on_product_click(session(i), "tea")))
    )

    async def comments(n: int) -> float:
        start = time.perf_counter()
        for i in range(n):
            await analytics.on_comment(session(i), {})
        return (time.perf_counter() - start) / n * 1e6

    rows.append(("comment", await comments(N)))
    hold = {
        "sale_id": "s1",
        "hold_id": "h1",
        "sku": "tea",
        "qty": 1,
        "price_fen": 9900,
        "order_id": "",
        "src": "wecom_group",
        "ref": "K7QX2M9A",
        "ts": 1_796_000_000_000,
    }

    def told(event_type: str) -> Callable[[int], None]:
        def run(i: int) -> None:
            stream.recorded(ROOM, event_type, {**hold, "uid": f"u{i % 5000}"})

        return run

    rows.append(("hold made (stream.recorded)", per_call_us(told("hold_created"), N // 4)))
    rows.append(("hold paid (stream.recorded)", per_call_us(told("hold_paid"), N // 4)))

    def visit(i: int) -> None:
        s = session(i)
        analytics.on_enter(s)  # type: ignore[arg-type]
        analytics.on_leave(s)  # type: ignore[arg-type]

    rows.append(("session enter + leave", per_call_us(visit, N // 4)))
    analytics._profiles.clear()
    for i in range(20_000):  # one busy second: 20k comments, 50k likes, 1k clicks
        analytics.on_like(session(i), 3)
        await analytics.on_comment(session(i), {})
        if i % 20 == 0:
            analytics.on_product_click(session(i), f"sku-{i % 30}")
    start = time.perf_counter()
    await analytics.flush()
    rows.append(("one flush of a busy second (per room)", (time.perf_counter() - start) * 1e6))
    start = time.perf_counter()
    await analytics.flush_profiles()
    rows.append(("one profile flush, 5,000 viewers", (time.perf_counter() - start) * 1e6))
    width = max(len(name) for name, _ in rows)
    for name, us in rows:
        print(f"{name:<{width}}  {us:10.2f} us")


if __name__ == "__main__":
    asyncio.run(main())
