"""Load-generator side of the storm benchmarks (bench_storm.py): many viewers joining at
once, and many viewers coming back with `since` after their server died.

A `StormWorker` is a load-generator worker (loadgen.Worker) whose viewer sockets remember
the last `seq` they were sent (read off each tick frame's header bytes, no decode), and
can be armed to reconnect, when their socket drops, to another server with
`since=<that seq>`. Each socket checks its own recovery: the welcome says `recovered`, its
`events` are exactly the seqs after `since` up to the welcome's `seq` (the storm's events
are host comments, never sampled, so the room's seqs are contiguous), and the first tick
after it goes on from there without a gap or a repeat.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from typing import Any

import msgpack

from benchlib.loadgen import SRC_IPS, Worker
from benchlib.wsproto import WSClient

SEQ_KEY = b"\xa3seq"


def seq_in(payload: bytes) -> int | None:
    """The frame's top-level `seq` (a tick's or a welcome's), read off its header bytes."""
    i = payload.find(SEQ_KEY, 0, 64)
    if i < 0:
        return None
    i += len(SEQ_KEY)
    h = payload[i]
    if h < 0x80:
        return h
    size = {0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8}.get(h)
    if size is None:
        return None
    return int.from_bytes(payload[i + 1 : i + 1 + size], "big")


class StormClient(WSClient):
    def __init__(self, worker: StormWorker, path: str, since: int | None) -> None:
        super().__init__("127.0.0.1", path, ("liveroom.msgpack",))
        self.worker = worker
        self.base_path = path.split("&since=")[0]
        self.since = since
        self.welcomed = asyncio.get_running_loop().create_future()
        self.welcomed_at = 0.0  # wall clock, s
        self.opened_at = 0.0  # the handshake's answer (wall clock, s)
        self.last_seq = 0
        self.recovered: bool | None = None
        self.exact = True  # welcome events were exactly since+1 .. seq
        self.seam: bool | None = None  # the first tick after the welcome followed on
        self.comments = 0  # comments in the welcome's snapshot
        self.missed = 0  # events the welcome brought back

    def on_open(self) -> None:
        self.opened_at = time.time()

    def on_message(self, opcode: int, payload: bytes) -> None:
        if not self.welcomed.done():
            frame = msgpack.unpackb(payload, raw=False)
            if frame.get("t") != "welcome":
                self.worker.stats.errors[str(frame.get("code") or frame.get("t"))] += 1
                return
            self.welcomed_at = time.time()
            self.last_seq = int(frame["seq"])
            self.comments = len(frame.get("comments") or ())
            if self.since is not None:
                self.recovered = frame.get("recovered")
                seqs = [e["seq"] for e in frame.get("events") or ()]
                self.exact = seqs == list(range(self.since + 1, self.last_seq + 1))
                self.missed = len(seqs)
            self.welcomed.set_result(True)
            return
        if self.since is not None and self.seam is None:
            frame = msgpack.unpackb(payload, raw=False)
            events = frame.get("events") or ()
            if events:
                self.seam = events[0]["seq"] == self.last_seq + 1
        seq = seq_in(payload)
        if seq is not None and seq > self.last_seq:
            self.last_seq = seq

    def on_closed(self, code: int | None) -> None:
        if not self.welcomed.done():
            refused = self.opened.done() and self.opened.exception()
            why = str(refused) if refused else f"closed ({code}) before welcome"
            self.welcomed.set_exception(ConnectionError(why))
            self.welcomed.exception()  # retrieved: the storm counts it, nothing to log
            return
        self.worker.dropped(self)


class StormWorker(Worker):
    """Viewer sockets that join in a storm and can reconnect elsewhere with `since`."""

    def __init__(self, pipe: Any) -> None:
        super().__init__(pipe)
        self.storm: list[StormClient] = []
        self.join_ms: Counter = Counter()  # 0.1 ms buckets: scheduled start to welcome
        self.failures: Counter = Counter()
        self.rejoin_port = 0
        self.rejoin_jitter_s = 0.0
        self.rejoin_delay_s = 0.0
        self.dropped_at: dict[int, float] = {}
        self.back: list[StormClient] = []  # the reconnected sockets
        self._rejoins: set[asyncio.Task] = set()
        self._sockets = 0  # sockets opened, to spread them over the source addresses

    async def _open(self, port: int, path: str, since: int | None) -> StormClient | None:
        loop = asyncio.get_running_loop()
        self._sockets += 1
        src = (f"127.0.0.{2 + (os.getpid() + self._sockets) % SRC_IPS}", 0)
        try:
            _, client = await asyncio.wait_for(
                loop.create_connection(
                    lambda: StormClient(self, path, since), "127.0.0.1", port, local_addr=src
                ),
                30,
            )
            await asyncio.wait_for(client.welcomed, 30)
        except Exception as exc:
            self.failures[type(exc).__name__ + ": " + str(exc)[:80]] += 1
            return None
        return client

    async def cmd_storm(self, port: int, paths: list[str], at: float, rate: float) -> dict:
        """Open one socket per path from wall time `at`, `rate` a second, all at once in
        flight (a storm, not a queue); each join is timed from its scheduled start."""
        loop = asyncio.get_running_loop()
        self.join_ms = Counter()
        self.failures = Counter()
        start = loop.time() + max(0.0, at - time.time())

        async def one(i: int, path: str) -> None:
            due = start + i / rate
            await asyncio.sleep(max(0.0, due - loop.time()))
            client = await self._open(port, path, None)
            if client is not None:
                self.join_ms[int((loop.time() - due) * 10000)] += 1
                self.storm.append(client)

        await asyncio.gather(*(one(i, p) for i, p in enumerate(paths)))
        return {
            "ok": sum(self.join_ms.values()),
            "failed": dict(self.failures),
            "join_ms": dict(self.join_ms),
            "snapshot_comments": sorted({c.comments for c in self.storm}),
        }

    async def cmd_arm(self, port: int, delay_ms: float = 0.0, jitter_ms: float = 0.0) -> dict:
        """From now on a socket that drops reconnects to `port` with `since`, after
        `delay_ms` plus up to `jitter_ms` at random."""
        self.rejoin_port = port
        self.rejoin_delay_s = delay_ms / 1000
        self.rejoin_jitter_s = jitter_ms / 1000
        self.dropped_at = {}
        self.back = []
        return {"armed": len(self.storm)}

    def dropped(self, client: StormClient) -> None:
        if not self.rejoin_port or client not in self.storm:
            return
        self.dropped_at[id(client)] = time.time()
        task = asyncio.get_running_loop().create_task(self._rejoin(client))
        self._rejoins.add(task)
        task.add_done_callback(self._rejoins.discard)

    async def _rejoin(self, old: StormClient) -> None:
        wait = self.rejoin_delay_s + random.uniform(0, self.rejoin_jitter_s)
        if wait:
            await asyncio.sleep(wait)
        path = f"{old.base_path}&since={old.last_seq}"
        client = await self._open(self.rejoin_port, path, old.last_seq)
        if client is not None:
            self.back.append(client)

    async def cmd_recovery(self, killed_at: float, wait_s: float = 30.0) -> dict:
        """Wait until every dropped socket is back (or `timeout`), then report: recovery
        time from the kill to the new welcome, and whether each got exactly what it missed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while loop.time() < deadline and (self._rejoins or len(self.back) < len(self.storm)):  # noqa: ASYNC110 - a bounded poll in a benchmark
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # a tick or two after the welcomes: the seams
        hist: Counter = Counter()
        # where the time went: the drop seen, the new socket's handshake, its welcome
        stages: dict[str, Counter] = {"drop": Counter(), "open": Counter(), "welcome": Counter()}
        for c in self.back:
            hist[int((c.welcomed_at - killed_at) * 10000)] += 1
            stages["open"][int((c.opened_at - killed_at) * 10000)] += 1
        for dropped_at in self.dropped_at.values():
            stages["drop"][int((dropped_at - killed_at) * 10000)] += 1
        return {
            "viewers": len(self.storm),
            "dropped": len(self.dropped_at),
            "back": len(self.back),
            "failed": dict(self.failures),
            "recovered": sum(1 for c in self.back if c.recovered is True),
            "not_recovered": sum(1 for c in self.back if c.recovered is not True),
            "inexact": sum(1 for c in self.back if not c.exact),
            "seam_broken": sum(1 for c in self.back if c.seam is False),
            "seam_unseen": sum(1 for c in self.back if c.seam is None),
            "missed_events": sum(c.missed for c in self.back),
            "recovery_ms": dict(hist),
            "stages_ms": {k: dict(v) for k, v in stages.items() if v},
        }

    async def cmd_close(self) -> dict:
        for c in self.storm + self.back:
            c.close()
        return await super().cmd_close()
