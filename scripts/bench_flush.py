"""The fan-out hot loop alone: CPU time of one Hub.flush over N live sockets.

bench_fanout measures the whole server, where the socket writes dominate and two shared
cores make every figure move with what else runs. This times only our Python per socket
per tick: transports are C-level no-ops (`id` for write, `int` for the buffer size), one
event per tick, every connection LIVE. The best of several rounds is printed, since other
load only ever adds time. Run it on two checkouts to compare a change to the loop:

    .venv/bin/python scripts/bench_flush.py --sockets 3000
    PYTHONPATH=/path/to/other/checkout .venv/bin/python scripts/bench_flush.py --sockets 3000
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from types import SimpleNamespace
from typing import Any

from liveroom import hub as hubmod
from liveroom.connection import Connection
from liveroom.rawws import RAW_KEY
from liveroom.rules.sampling import Sampler
from liveroom.settings import Settings
from liveroom.tokens import Identity


class _NoopTransport:
    __slots__ = ()
    write = staticmethod(id)
    get_write_buffer_size = staticmethod(int)

    def is_closing(self) -> bool:
        return False


class _Raw:
    """What Connection needs of uvicorn's protocol on the raw-write path."""

    def __init__(self) -> None:
        self.transport = _NoopTransport()
        self.usable = True

    def attach(self, conn: Any) -> None:
        pass


def _live(conn: Connection) -> None:
    if hasattr(conn, "welcomed"):
        conn.welcomed()
    else:  # checkouts from before Connection.State
        conn.joining = False  # type: ignore[attr-defined]
        conn.steady = True  # type: ignore[attr-defined]


async def run(sockets: int, rounds: int, ticks: int) -> list[float]:
    hub = hubmod.Hub(SimpleNamespace(settings=Settings()))  # type: ignore[arg-type]
    channel = hubmod.RoomChannel("bench", SimpleNamespace(), Sampler(1e9))  # type: ignore[arg-type]
    for i in range(sockets):
        ws = SimpleNamespace(scope={"extensions": {RAW_KEY: _Raw()}})
        ident = Identity(uid=f"u{i}", nick="", role="viewer")
        conn = Connection(ws, ident, "msgpack" if i % 2 else "json")  # type: ignore[arg-type]
        _live(conn)
        channel.conns.add(conn)
    per_flush = []
    seq = 0
    for _ in range(rounds):
        spent = 0.0
        for _ in range(ticks):
            seq += 1
            channel.pending.append({"type": "announce", "text": "hello", "seq": seq, "ts": 1})
            channel.last_seq = seq
            started = time.perf_counter()
            hub.flush(channel, 0.05)
            spent += time.perf_counter() - started
        per_flush.append(spent / ticks)
    return per_flush


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sockets", type=int, default=3000)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--ticks", type=int, default=300)
    args = p.parse_args()
    per_flush = asyncio.run(run(args.sockets, args.rounds, args.ticks))
    best, median = min(per_flush), statistics.median(per_flush)
    print(
        f"Hub.flush over {args.sockets} live sockets ({hubmod.__file__}): "
        f"best {best * 1e6:.0f} us ({best / args.sockets * 1e9:.0f} ns a socket), "
        f"median {median * 1e6:.0f} us"
    )


if __name__ == "__main__":
    main()
