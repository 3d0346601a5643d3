"""The load generator: worker processes, each one asyncio loop holding many raw sockets.

The parent (a benchmark script) drives workers over pipes with small command dicts:
`connect`, `reset`, `collect`, `inject`, `grab`, `close`. Every socket counts frames, bytes
and event deliveries (the length of the msgpack `events` array, found without decoding the
frame); only "probe" sockets (one in `probe_every`) decode frames to measure delivery latency,
because decoding every frame on every socket would cost more CPU than the server spends.

Three dialects speak to three servers: `liveroom` (this project), `plain` (the hand-written
Starlette baseline, same msgpack frames) and `socketio` (engine.io v4 text frames).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import resource
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection as Pipe
from typing import Any

import msgpack

from benchlib.wsproto import OP_TEXT, WSClient

EVENTS_KEY = b"\xa6events"
TICK_HEAD = b"\xa4tick"
RID_KEY = b"\xa3rid"
SRC_IPS = 60  # spread client sockets over 127.0.0.2.. so 20k+ sockets do not run out of ports


def now_ms() -> float:
    return time.time() * 1000.0


@dataclass
class Stats:
    frames: int = 0
    bytes: int = 0
    deliveries: int = 0
    welcomes: int = 0
    probe_events: int = 0
    closes: Counter = field(default_factory=Counter)
    latency: Counter = field(default_factory=Counter)  # 0.1 ms buckets -> count
    # from the sender's send time (carried in the comment text) to receipt: includes any
    # queueing in front of the server, which `ts` (stamped on arrival) cannot see
    e2e: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)

    def snapshot(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "bytes": self.bytes,
            "deliveries": self.deliveries,
            "welcomes": self.welcomes,
            "probe_events": self.probe_events,
            "closes": dict(self.closes),
            "latency": dict(self.latency),
            "e2e": dict(self.e2e),
            "errors": dict(self.errors),
        }


def events_in(payload: bytes) -> int:
    """Length of the `events` array of a msgpack frame, read off its header bytes."""
    i = payload.find(EVENTS_KEY)
    if i < 0 or i + 7 >= len(payload):
        return 0
    h = payload[i + 7]
    if 0x90 <= h <= 0x9F:
        return h & 0x0F
    if h == 0xDC:
        return (payload[i + 8] << 8) | payload[i + 9]
    if h == 0xDD:
        return int.from_bytes(payload[i + 8 : i + 12], "big")
    return 0


def sent_at(event: dict) -> float | None:
    """The send time (ms) an injected comment carries at the end of its text, `... @<ms>`."""
    text = event.get("text")
    if not isinstance(text, str):
        return None
    at = text.rfind("@")
    if at < 0:
        return None
    try:
        return float(text[at + 1 :])
    except ValueError:
        return None


class Client(WSClient):
    """A viewer (or sender) socket; what it does per frame depends on the dialect."""

    def __init__(
        self, worker: Worker, host: str, path: str, dialect: str, probe: bool, protos: tuple
    ) -> None:
        super().__init__(host, path, protos)
        self.worker = worker
        self.dialect = dialect
        self.probe = probe
        self.welcomed = asyncio.get_running_loop().create_future()
        self.pending: dict[Any, float] = {}  # rid -> send time (ms), for grabs
        self.answers: list[dict] = []
        # frames to send again when the server answers `unavailable` (same request id: idempotent)
        self.retryable: dict[Any, dict] = {}

    lazy = False  # set on non-probe viewers when the worker batches reads (see cmd_connect)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.lazy and self.transport is not None:
            self.transport.pause_reading()

    def on_message(self, opcode: int, payload: bytes) -> None:
        st = self.worker.stats
        st.frames += 1
        st.bytes += len(payload)
        if self.dialect == "socketio":
            self._socketio(payload, st)
            return
        n = events_in(payload)
        st.deliveries += n
        if not self.welcomed.done():
            if b"welcome" in payload[:24]:
                st.welcomes += 1
                self.welcomed.set_result(True)
            return
        if self.probe and n:
            frame = msgpack.unpackb(payload, raw=False)
            t = now_ms()
            lat = st.latency
            for ev in frame.get("events", ()):
                ts = ev.get("ts")
                if ts:
                    lat[int((t - ts) * 10)] += 1
                    st.probe_events += 1
                    sent = sent_at(ev)
                    if sent:
                        st.e2e[int((t - sent) * 10)] += 1
        if self.pending and RID_KEY in payload and TICK_HEAD not in payload[:12]:
            frame = msgpack.unpackb(payload, raw=False)
            rid = frame.get("rid")
            if frame.get("code") == "unavailable" and rid in self.retryable and rid in self.pending:
                self.worker.retries += 1
                delay = float(frame.get("retry_after") or 1.0)
                asyncio.get_running_loop().call_later(delay, self.send_frame, self.retryable[rid])
                return
            sent = self.pending.pop(rid, None)
            self.retryable.pop(rid, None)
            if sent is not None:
                frame["_ms"] = now_ms() - sent
                frame["_at"] = now_ms()
                self.answers.append(frame)
        elif self.worker.sender_mode and TICK_HEAD not in payload[:12]:
            frame = msgpack.unpackb(payload, raw=False)
            if frame.get("t") == "error":
                st.errors[frame.get("code", "?")] += 1

    def _socketio(self, payload: bytes, st: Stats) -> None:
        kind = payload[:2]
        if kind == b"42":
            st.deliveries += 1
            if self.probe:
                ev = json.loads(payload[2:])[1]
                ts = ev.get("ts") if isinstance(ev, dict) else None
                if ts:
                    t = now_ms()
                    st.latency[int((t - ts) * 10)] += 1
                    st.probe_events += 1
                    sent = sent_at(ev)
                    if sent:
                        st.e2e[int((t - sent) * 10)] += 1
        elif payload[:1] == b"2":  # engine.io ping from the server
            self.send(b"3", OP_TEXT)
        elif payload[:1] == b"0":  # engine.io open: join the default namespace
            self.send(b"40", OP_TEXT)
        elif kind == b"40" and not self.welcomed.done():
            st.welcomes += 1
            self.welcomed.set_result(True)

    def on_closed(self, code: int | None) -> None:
        if self.welcomed.done():  # a failed connect is counted by cmd_connect, not as a drop
            self.worker.stats.closes[str(code)] += 1
        else:
            self.welcomed.set_exception(ConnectionError(f"closed ({code}) before welcome"))

    # what senders send ---------------------------------------------------------------
    def send_frame(self, frame: dict) -> None:
        if self.dialect == "socketio":
            body = {k: v for k, v in frame.items() if k != "t"}
            self.send(b"42" + json.dumps([frame["t"], body]).encode(), OP_TEXT)
        else:
            self.send(msgpack.packb(frame))


class Worker:
    def __init__(self, pipe: Pipe) -> None:
        self.pipe = pipe
        self.stats = Stats()
        self.clients: list[Client] = []
        self.senders: list[Client] = []
        self.sender_mode = False
        self.retries = 0
        self.lazy_task: asyncio.Task | None = None
        self.t0 = time.monotonic()
        self.done = asyncio.get_running_loop().create_future()

    async def run(self) -> None:
        # A thread blocks on the pipe: the loop's add_reader would make the pipe non-blocking,
        # and a large command (thousands of tokens) then arrives in pieces recv() cannot take.
        loop = asyncio.get_running_loop()
        threading.Thread(target=self._pipe_reader, args=(loop,), daemon=True).start()
        await self.done

    def _pipe_reader(self, loop: asyncio.AbstractEventLoop) -> None:
        while True:
            try:
                msg = self.pipe.recv()
            except (EOFError, OSError):
                loop.call_soon_threadsafe(self._finish)
                return
            loop.call_soon_threadsafe(lambda m=msg: loop.create_task(self._handle(m)))

    def _finish(self) -> None:
        if not self.done.done():
            self.done.set_result(None)

    async def _handle(self, msg: dict) -> None:
        try:
            reply = await getattr(self, "cmd_" + msg["cmd"])(**msg.get("args", {}))
        except Exception as exc:
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        self.pipe.send(reply)

    # commands ------------------------------------------------------------------------
    async def cmd_connect(
        self,
        port: int,
        dialect: str,
        paths: list[str],
        probe_every: int = 0,
        rate: float = 2000.0,
        senders: bool = False,
        concurrency: int = 200,
        timeout: float = 30.0,
        lazy_read_ms: float = 0.0,
    ) -> dict:
        """Open one socket per path, at most `rate` new ones per second; wait for welcomes.

        With `lazy_read_ms`, non-probe sockets read only every that many ms, so one read takes
        several frames: the kernel holds them meanwhile (the server's writes are unchanged),
        and the generator spends less CPU per frame on the cores it shares with the server.
        Probe sockets always read at once, so measured latency is not affected.
        """
        loop = asyncio.get_running_loop()
        sem = asyncio.Semaphore(concurrency)
        failures: Counter = Counter()
        protos = () if dialect != "liveroom" else ("liveroom.msgpack",)
        self.sender_mode = self.sender_mode or senders
        start = loop.time()

        async def one(i: int, path: str) -> None:
            await asyncio.sleep(max(0.0, start + i / rate - loop.time()))
            async with sem:
                probe = bool(probe_every) and i % probe_every == 0
                src = (f"127.0.0.{2 + (os.getpid() + i) % SRC_IPS}", 0)
                try:
                    _, client = await asyncio.wait_for(
                        loop.create_connection(
                            lambda: Client(self, "127.0.0.1", path, dialect, probe, protos),
                            "127.0.0.1",
                            port,
                            local_addr=src,
                        ),
                        timeout,
                    )
                    await asyncio.wait_for(client.welcomed, timeout)
                except Exception as exc:
                    failures[type(exc).__name__ + ": " + str(exc)[:80]] += 1
                    return
                (self.senders if senders else self.clients).append(client)
                if lazy_read_ms and not probe and not senders:
                    client.lazy = True

        await asyncio.gather(*(one(i, p) for i, p in enumerate(paths)))
        if lazy_read_ms and self.lazy_task is None:
            self.lazy_task = loop.create_task(self._lazy_reads(lazy_read_ms / 1000))
        return {"ok": len(paths) - sum(failures.values()), "failed": dict(failures)}

    async def _lazy_reads(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            for c in self.clients:
                if c.lazy and c.transport is not None and not c.transport.is_closing():
                    c.transport.resume_reading()

    async def cmd_reset(self) -> dict:
        # closes are never reset: a socket dropped before the window is still dropped
        self.stats = Stats(closes=self.stats.closes)
        self.t0 = time.monotonic()
        return {"ok": True}

    async def cmd_collect(self) -> dict:
        snap = self.stats.snapshot()
        snap["elapsed"] = time.monotonic() - self.t0
        snap["open"] = sum(1 for c in self.clients if c.is_open)
        return snap

    async def cmd_inject(
        self,
        comments_per_s: float,
        likes_per_s: float,
        duration: float,
        text: str = "great deal, I want one!",
    ) -> dict:
        """Comments and like batches from the sender sockets at steady rates, every 10 ms."""
        loop = asyncio.get_running_loop()
        senders = [c for c in self.senders if c.is_open]
        if not senders:
            return {"error": "no sender connections"}
        step = 0.01
        start = loop.time()
        sent_c = sent_l = 0
        k = 0
        while True:
            elapsed = loop.time() - start
            if elapsed >= duration:
                break
            due_c = int(comments_per_s * elapsed) - sent_c
            for _ in range(due_c):
                stamped = f"{text} @{now_ms():.1f}"
                senders[k % len(senders)].send_frame({"t": "comment", "text": stamped})
                k += 1
            sent_c += max(0, due_c)
            due_l = int(likes_per_s * elapsed) - sent_l
            while due_l > 0:
                n = min(100, due_l)
                senders[k % len(senders)].send_frame({"t": "like", "n": n})
                k += 1
                sent_l += n
                due_l -= n
            await asyncio.sleep(step)
        return {
            "comments": sent_c,
            "likes": sent_l,
            "seconds": loop.time() - start,
            "errors": dict(self.stats.errors),  # error frames the senders got back
        }

    async def cmd_send(self, frame: dict, rid: Any = None, timeout: float = 10.0) -> dict:
        """One frame from the first sender; with a rid, wait for its answer."""
        client = self.senders[0]
        if rid is not None:
            frame = {**frame, "rid": rid}
            client.pending[rid] = now_ms()
        client.send_frame(frame)
        if rid is None:
            return {"ok": True}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            for ans in client.answers:
                if ans.get("rid") == rid:
                    client.answers.remove(ans)
                    return ans
            await asyncio.sleep(0.01)
        return {"error": "timeout"}

    async def cmd_grab(
        self, at: float, frame: dict, timeout: float = 20.0, retry: bool = True
    ) -> dict:
        """Every viewer socket sends `frame` (with its own rid/request_id) at wall time `at`.

        An `unavailable` answer (store briefly unreachable) is followed, as a real client would, by
        the same request after `retry_after`; the answer time runs from the first send.
        """
        loop = asyncio.get_running_loop()
        self.retries = 0
        await asyncio.sleep(max(0.0, at - time.time()))
        first = now_ms()
        for i, c in enumerate(self.clients):
            rid = f"g{os.getpid()}-{i}"
            f = dict(frame, rid=rid)
            if "request_id" in f:
                f["request_id"] = rid
            c.pending[rid] = now_ms()
            if retry:
                c.retryable[rid] = f
            c.send_frame(f)
        sent_done = now_ms()
        deadline = loop.time() + timeout
        while loop.time() < deadline and any(c.pending for c in self.clients):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        lat: Counter = Counter()
        outcomes: Counter = Counter()
        held_at: list[float] = []
        held_qty = 0
        for c in self.clients:
            for ans in c.answers:
                lat[int(ans["_ms"] * 10)] += 1
                if ans.get("t") == "ack":
                    outcomes["ack"] += 1
                    qty = ans.get("qty") or (ans.get("hold") or {}).get("qty") or 1
                    held_qty += int(qty)
                    held_at.append(ans["_at"])
                else:
                    outcomes[str(ans.get("code"))] += 1
            c.answers = []
        unanswered = sum(len(c.pending) for c in self.clients)
        for c in self.clients:
            c.pending.clear()
            c.retryable.clear()
        return {
            "sent": len(self.clients),
            "first_send_ms": first,
            "send_spread_ms": sent_done - first,
            "latency": dict(lat),
            "outcomes": dict(outcomes),
            "held_qty": held_qty,
            "last_held_ms": max(held_at) if held_at else None,
            "unanswered": unanswered,
            "retries": self.retries,
        }

    async def cmd_close(self) -> dict:
        for c in self.clients + self.senders:
            c.close()
        await asyncio.sleep(0.2)
        self._finish()
        return {"ok": True}


def _worker_main(pipe: Pipe, worker_cls: type[Worker] = Worker) -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass

    async def main() -> None:
        await worker_cls(pipe).run()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


class Fleet:
    """The parent's handle on the worker processes."""

    def __init__(self, workers: int, worker_cls: type[Worker] = Worker) -> None:
        ctx = mp.get_context("fork")
        self.pipes: list[Pipe] = []
        self.procs: list[mp.Process] = []
        for _ in range(workers):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_worker_main, args=(child, worker_cls), daemon=True)
            proc.start()
            self.pipes.append(parent)
            self.procs.append(proc)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs if p.pid]

    def call(self, i: int, cmd: str, timeout: float = 120.0, **args: Any) -> dict:
        return self.gather([(i, cmd, args)], timeout)[0]

    def gather(self, calls: list[tuple[int, str, dict]], timeout: float = 120.0) -> list[dict]:
        """Send every call, then wait for every reply (workers run them concurrently)."""
        for i, cmd, args in calls:
            self.pipes[i].send({"cmd": cmd, "args": args})
        out = []
        deadline = time.monotonic() + timeout
        for i, cmd, _ in calls:
            if not self.pipes[i].poll(max(0.0, deadline - time.monotonic())):
                raise TimeoutError(f"worker {i} did not answer {cmd!r} in {timeout}s")
            reply = self.pipes[i].recv()
            if "error" in reply and cmd != "send":
                raise RuntimeError(f"worker {i} {cmd}: {reply['error']}")
            out.append(reply)
        return out

    def all(self, cmd: str, timeout: float = 120.0, **args: Any) -> list[dict]:
        return self.gather([(i, cmd, args) for i in range(len(self.pipes))], timeout)

    def all_but(self, skip: int, cmd: str, timeout: float = 120.0, **args: Any) -> list[dict]:
        calls = [(i, cmd, args) for i in range(len(self.pipes)) if i != skip]
        return self.gather(calls, timeout)

    def close(self) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(Exception):
                pipe.send({"cmd": "close"})
        for proc in self.procs:
            proc.join(3)
            if proc.is_alive():
                proc.kill()
                proc.join(1)
