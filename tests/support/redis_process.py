"""A throwaway redis-server of a test's own, so killing it touches nobody else's data.

Fault tests (Redis killed, stalled, restarted mid-show) use it; everything else shares the
Redis on 6379 under a key prefix of its own.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import redis as redis_sync
from redis.backoff import NoBackoff
from redis.exceptions import MasterDownError
from redis.retry import Retry

from tests.support.server import free_port


class RedisProcess:
    """Started and killed by the test; `data_dir` turns on the append-only file, so a
    restart keeps every write, as a production Redis holding stock must. `args` are more
    redis-server options (a replica, a slow load); `cluster` makes it a Redis Cluster node
    (with no slots: CLUSTERDOWN), and `cluster_slots` a one-node Redis Cluster serving every
    slot, where Redis itself refuses a script or transaction that touches two slots."""

    def __init__(
        self,
        port: int | None = None,
        data_dir: Path | None = None,
        args: tuple[str, ...] = (),
        cluster: bool = False,
        cluster_slots: bool = False,
    ) -> None:
        self.port = port or free_port()
        self.data_dir = data_dir
        self.args = args
        self.cluster = cluster or cluster_slots
        self.cluster_slots = cluster_slots
        self.bus_port = 0  # the cluster bus (CLUSTER MEET needs it)
        self.proc: subprocess.Popen[bytes] | None = None
        self._cluster_dir: Path | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, ready: bool = True) -> RedisProcess:
        """Start and wait until it answers; with `ready` False, only until it accepts
        connections (it may still be LOADING its data)."""
        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        cmd += ["--save", "", "--daemonize", "no"]
        if self.data_dir is None:
            cmd += ["--appendonly", "no"]
        else:
            cmd += ["--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.data_dir)]
        if self.cluster:
            self._cluster_dir = Path(tempfile.mkdtemp(prefix="lr-cluster-"))
            nodes = self._cluster_dir / "nodes.conf"
            cmd += ["--cluster-enabled", "yes", "--cluster-config-file", str(nodes)]
            # the bus port (by default port + 10000) may not exist: one of its own
            self.bus_port = free_port()
            cmd += ["--cluster-port", str(self.bus_port)]
            if self.data_dir is None:  # a replica's sync file goes there, not into the cwd
                cmd += ["--dir", str(self._cluster_dir)]
        cmd += self.args
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            self._until_up(ready)
        except BaseException:
            self.kill()
            raise
        return self

    def _until_up(self, ready: bool) -> None:
        # no retries of its own: this loop is the retry, and it must see LOADING as it is
        client = redis_sync.Redis(
            port=self.port, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0)
        )
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    client.ping()
                    break
                except (redis_sync.AuthenticationError, MasterDownError):  # up: locked, or stale
                    break
                except redis_sync.BusyLoadingError:  # up, LOADING its data
                    if not ready:
                        break
                    self._wait(deadline)
                except (redis_sync.ConnectionError, redis_sync.ResponseError):
                    self._wait(deadline)
            if self.cluster_slots:
                client.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
                while b"cluster_state:ok" not in client.execute_command("CLUSTER", "INFO"):
                    self._wait(deadline)
        finally:
            client.close()

    def _wait(self, deadline: float) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"redis-server on port {self.port} did not start")
        time.sleep(0.05)

    def stop(self) -> None:
        """A clean shutdown (SIGTERM): with `data_dir`, the append-only file keeps every write."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            self.proc.wait(10)
        self._gone()

    def _gone(self) -> None:
        self.proc = None
        if self._cluster_dir is not None:
            shutil.rmtree(self._cluster_dir, ignore_errors=True)
            self._cluster_dir = None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # in case a test left it stopped
            self.proc.kill()
            self.proc.wait()
        self._gone()

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)
