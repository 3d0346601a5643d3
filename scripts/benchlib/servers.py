"""Servers under test, each a subprocess whose CPU and memory we read with psutil.

The liveroom server runs exactly as in production (`python -m liveroom serve`); the baselines
are small ASGI apps in scripts/baselines served by plain uvicorn, the way a team would run them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
BASELINES = ROOT / "scripts" / "baselines"
DEV_SECRET = "liveroom-dev-secret-do-not-use-in-production"  # liveroom.settings.DEV_SECRET

# Benchmarks inject far more comments per user than a person types; the per-user limit is
# raised for them (documented in docs/benchmarks.md), everything else stays at its default.
BENCH_ENV = {
    "LIVEROOM_COMMENT_RATE": "100000",
    "LIVEROOM_COMMENT_BURST": "100000",
    "LIVEROOM_LOG_LEVEL": "warning",
}


def free_port() -> int:
    """A port nobody listens on right now (the OS picks it): for runs beside other servers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Usage:
    cpu_s: float
    wall_s: float
    rss: int

    @property
    def cores(self) -> float:
        return self.cpu_s / self.wall_s if self.wall_s else 0.0


@dataclass
class ServerProc:
    name: str
    cmd: list[str]
    port: int
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None
    ps: psutil.Process | None = None
    redis: tuple[str, str] | None = None  # (url, key prefix) to delete after the run
    _mark: tuple[float, float] = (0.0, 0.0)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return Path(f"/tmp/liveroom-bench-{self.name}-{self.port}.log")

    def start(self, timeout: float = 30.0) -> ServerProc:
        env = {**os.environ, **self.env}
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            self.cmd, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        self.ps = psutil.Process(self.proc.pid)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not come up:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def _tree(self) -> list[psutil.Process]:
        """The server and its worker processes (`--workers N`: uvicorn's children)."""
        assert self.ps is not None
        try:
            return [self.ps, *self.ps.children(recursive=True)]
        except psutil.Error:
            return [self.ps]

    def _cpu(self) -> float:
        total = 0.0
        for p in self._tree():
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
        return total

    def mark(self) -> None:
        self._mark = (self._cpu(), time.monotonic())

    def usage(self) -> Usage:
        """CPU since the last mark (all worker processes), and resident memory now."""
        cpu0, wall0 = self._mark
        return Usage(self._cpu() - cpu0, time.monotonic() - wall0, self.rss())

    def rss(self) -> int:
        total = 0
        for p in self._tree():
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        return total

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._tree()]

    def metrics(self) -> dict[str, float]:
        """liveroom's own /metrics counters (empty for the baselines)."""
        try:
            with urllib.request.urlopen(f"{self.url}/metrics", timeout=5) as resp:
                text = resp.read().decode()
        except OSError:
            return {}
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.partition(" ")
                out[name] = float(value)
        return out

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if getattr(self, "_log", None):
            self._log.close()
        if self.redis is not None:
            wipe_prefix(*self.redis)
            self.redis = None

    def __enter__(self) -> ServerProc:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def liveroom(
    port: int, redis_url: str = "", prefix: str = "", workers: int = 1, **env: str
) -> ServerProc:
    e = {**BENCH_ENV, "LIVEROOM_SECRET": os.environ.get("LIVEROOM_SECRET", DEV_SECRET), **env}
    if redis_url:
        e["LIVEROOM_REDIS_URL"] = redis_url
        e["LIVEROOM_KEY_PREFIX"] = prefix or f"lrbench-{port}-{os.getpid()}"
    name = "liveroom-redis" if redis_url else "liveroom"
    cmd = [sys.executable, "-m", "liveroom", "serve", "--port", str(port)]
    if workers > 1:
        name += f"-{workers}proc"
        cmd += ["--workers", str(workers)]
    srv = ServerProc(name, cmd, port, e)
    if redis_url:
        srv.redis = (redis_url, e["LIVEROOM_KEY_PREFIX"])
    return srv


def wipe_prefix(url: str, prefix: str) -> None:
    """The shared Redis keeps only what others put there: delete this run's keys."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        for i in range(0, len(keys), 500):
            client.delete(*keys[i : i + 500])
    finally:
        client.close()


def plain(port: int) -> ServerProc:
    cmd = [sys.executable, str(BASELINES / "plain_starlette.py"), "--port", str(port)]
    return ServerProc("plain", cmd, port)


def socketio(port: int, redis_url: str, prefix: str = "") -> ServerProc:
    cmd = [sys.executable, str(BASELINES / "socketio_server.py"), "--port", str(port)]
    cmd += ["--redis-url", redis_url, "--channel", prefix or f"lrbench-sio-{port}"]
    return ServerProc("socketio", cmd, port)


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so `finally` blocks stop servers and workers."""
    import signal

    def handler(signum: int, frame: object) -> None:
        raise SystemExit(143)

    signal.signal(signal.SIGTERM, handler)


def machine_cpu_mark() -> tuple[float, float]:
    """Whole-machine busy CPU seconds and wall time, to tell what else ran during a run."""
    t = psutil.cpu_times()
    busy = t.user + t.nice + t.system + t.irq + t.softirq + getattr(t, "steal", 0.0)
    return busy, time.monotonic()


def processes_cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            t = psutil.Process(pid).cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total
