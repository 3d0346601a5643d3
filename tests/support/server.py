"""A real `liveroom serve` process for tests, on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

from liveroom.settings import DEV_SECRET

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """`with LiveServer(env={...}) as srv:` starts it; it stops (killed if need be) after."""

    def __init__(
        self, env: dict[str, str] | None = None, port: int | None = None, workers: int = 1
    ) -> None:
        self.port = port or free_port()
        self.env = {
            **os.environ,
            "LIVEROOM_SECRET": DEV_SECRET,
            "LIVEROOM_LOG_LEVEL": "warning",
            **(env or {}),
        }
        self.secret = self.env["LIVEROOM_SECRET"]
        self.workers = workers
        self.proc: subprocess.Popen | None = None
        self.log_path = Path(f"/tmp/liveroom-test-{self.port}.log")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws_url(self, room: str, token: str | None = None, since: int | None = None) -> str:
        query = {}
        if token:
            query["token"] = token
        if since is not None:
            query["since"] = str(since)
        suffix = f"?{urlencode(query)}" if query else ""
        return f"ws://127.0.0.1:{self.port}/ws/rooms/{room}{suffix}"

    def start(self) -> LiveServer:
        cmd = [sys.executable, "-m", "liveroom", "serve", "--port", str(self.port)]
        if self.workers > 1:
            cmd += ["--workers", str(self.workers)]
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=1) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not become ready:\n{self.log()}")

    def metric(self, name: str) -> float:
        """One value from /metrics (blocking: call it in a thread from async code)."""
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=5) as resp:
            for line in resp.read().decode().splitlines():
                if line.startswith(name + " "):
                    return float(line.split()[1])
        raise KeyError(name)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """Hard kill, as a crash would: no shutdown hooks run."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

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

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
