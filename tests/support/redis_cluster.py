"""A real Redis Cluster of a test's own: three masters, three replicas, on free ports.

Six `redis-server --cluster-enabled yes` (tests/support/redis_process.py) joined by
`redis-cli --cluster create ... --cluster-replicas 1`, then held until every node says
`cluster_state:ok` and agrees on who serves every slot. The contract suites share one per
test session (tests/conftest.py `redis_cluster`); the destructive tests (a master killed,
a slot moved) start one of their own.

It also does to the cluster what an operator or a crash does: `kill` a node (SIGKILL, as a
crash), `move_slot` (what `redis-cli --cluster reshard` does for one slot: SETSLOT
IMPORTING / MIGRATING, MIGRATE every key, SETSLOT NODE on every master), and it answers
who serves a slot now (`owner`), asked of a node that is alive.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass

import redis as redis_sync
from redis.crc import key_slot

from tests.support.redis_process import RedisProcess


@dataclass(frozen=True)
class Shard:
    """A master, the slots it serves and its replicas' ports, as the cluster sees them."""

    port: int
    slots: tuple[tuple[int, int], ...]
    replicas: tuple[int, ...]

    def serves(self, slot: int) -> bool:
        return any(lo <= slot <= hi for lo, hi in self.slots)


class RedisCluster:
    """`RedisCluster().start()` ... `.stop()`; `url` names one node, as a deployment does."""

    def __init__(
        self, masters: int = 3, replicas: int = 1, node_timeout_ms: int = 1000, wait_s: float = 30
    ) -> None:
        # A short node timeout makes a failover take about two seconds instead of fifteen;
        # `cluster-replica-validity-factor 0`: a replica may always take over (the test's
        # replica is never "too old", however briefly the bus saw its master); a replica's
        # first sync starts at once rather than after the default five seconds.
        args = (
            "--repl-diskless-sync-delay",
            "0",
            "--cluster-node-timeout",
            str(node_timeout_ms),
            "--cluster-replica-validity-factor",
            "0",
        )
        self.count = masters * (1 + replicas)
        self.args = args
        self.nodes = self._fresh_nodes()
        self.replicas = replicas
        self.wait_s = wait_s

    def _fresh_nodes(self) -> list[RedisProcess]:
        return [RedisProcess(cluster=True, args=self.args) for _ in range(self.count)]

    # life -----------------------------------------------------------------------------
    def start(self, attempts: int = 3) -> RedisCluster:
        """`redis-cli --cluster create` now and then never sees the nodes agree (on a
        loaded CI box: nodes that flag each other failing while they meet), and a node
        may lose its port to another process between the pick and the bind; such a
        cluster is thrown away and a fresh one, on fresh ports, made instead."""
        for attempt in range(1, attempts + 1):
            try:
                self._create()
                return self
            except (subprocess.TimeoutExpired, RuntimeError):  # RuntimeError: not ok in time
                self.stop()
                if attempt == attempts:
                    raise
                self.nodes = self._fresh_nodes()
            except BaseException:
                self.stop()
                raise
        raise AssertionError("unreachable")

    def _create(self) -> None:
        for node in self.nodes:
            node.start()
        addresses = [f"127.0.0.1:{n.port}" for n in self.nodes]
        create = ["--cluster", "create", *addresses, "--cluster-replicas", str(self.replicas)]
        subprocess.run(
            ["redis-cli", *create, "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=self.wait_s,
        )
        self.wait_ok()

    def stop(self) -> None:
        for node in self.nodes:
            node.kill()

    def __enter__(self) -> RedisCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return self.alive()[0].url

    @property
    def ports(self) -> list[int]:
        return [n.port for n in self.nodes]

    def alive(self) -> list[RedisProcess]:
        return [n for n in self.nodes if n.proc is not None and n.proc.poll() is None]

    def node(self, port: int) -> RedisProcess:
        return next(n for n in self.nodes if n.port == port)

    def client(self, port: int) -> redis_sync.Redis:
        return redis_sync.Redis(port=port, socket_timeout=5)

    # what the cluster says ------------------------------------------------------------
    def shards(self, via: int | None = None) -> list[Shard]:
        """Masters, their slots and their replicas, from CLUSTER NODES of one live node."""
        client = self.client(via or self.alive()[0].port)
        try:
            lines = client.execute_command("CLUSTER", "NODES").decode().splitlines()
        finally:
            client.close()
        masters: dict[str, tuple[int, list[tuple[int, int]]]] = {}
        replicas: dict[str, list[int]] = {}
        for line in lines:
            node_id, address, flags, master_id = line.split()[:4]
            slots = line.split()[8:]
            flags_set = set(flags.split(","))
            if "fail" in flags_set or "noaddr" in flags_set:
                continue
            port = int(address.split("@")[0].rsplit(":", 1)[1])
            if "master" in flags_set:
                ranges = []
                for part in slots:
                    if part.startswith("["):  # a slot being migrated or imported
                        continue
                    lo, _, hi = part.partition("-")
                    ranges.append((int(lo), int(hi or lo)))
                if ranges:
                    masters[node_id] = (port, sorted(ranges))
            elif "slave" in flags_set:
                replicas.setdefault(master_id, []).append(port)
        return sorted(
            (
                Shard(port, tuple(ranges), tuple(sorted(replicas.get(node_id, []))))
                for node_id, (port, ranges) in masters.items()
            ),
            key=lambda s: s.port,
        )

    def owner(self, key: str, via: int | None = None) -> Shard:
        """The shard serving `key`'s slot (a room key or channel: its `{room}` tag)."""
        slot = key_slot(key.encode())
        return next(s for s in self.shards(via) if s.serves(slot))

    def wait_ok(self, timeout: float | None = None) -> None:
        """Until every live node says cluster_state:ok and all agree on every slot's master
        (and, with replicas, every master has one attached)."""
        deadline = time.monotonic() + (timeout or self.wait_s)
        last = ""
        while time.monotonic() < deadline:
            try:
                views = []
                for node in self.alive():
                    client = self.client(node.port)
                    try:
                        info = client.execute_command("CLUSTER", "INFO")
                    finally:
                        client.close()
                    if b"cluster_state:ok" not in info:
                        raise _NotYet(f"{node.port}: not ok")
                    views.append(self.shards(node.port))
                if any(v != views[0] for v in views):
                    raise _NotYet("nodes disagree on the slots")
                if sum(hi - lo + 1 for s in views[0] for lo, hi in s.slots) != 16384:
                    raise _NotYet("slots not all covered")
                if self.replicas and any(not self.replicated(s.port) for s in views[0]):
                    raise _NotYet("a master without a replica in sync")
                return
            except (_NotYet, redis_sync.RedisError) as exc:
                last = str(exc)
                time.sleep(0.1)
        raise RuntimeError(f"cluster not ok after {timeout or self.wait_s} s: {last}")

    def replicated(self, port: int) -> bool:
        """The master on `port` has a replica whose link is up (WAIT can be answered)."""
        client = self.client(port)
        try:
            info = client.info("replication")
        finally:
            client.close()
        return any(
            isinstance(v, dict) and v.get("state") == "online"
            for k, v in info.items()
            if k.startswith("slave")
        )

    # what an operator or a crash does -------------------------------------------------
    def kill(self, port: int) -> None:
        """SIGKILL the node: no shutdown, no last write flushed, as a crash."""
        self.node(port).kill()

    def wait_failover(self, dead: int, timeout: float = 30) -> Shard:
        """Until a replica of the dead master serves its slots on every live node; the
        dead master's shard, as it is now."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                shards = [self.shards(n.port) for n in self.alive()]
                if all(s == shards[0] for s in shards) and all(s.port != dead for s in shards[0]):
                    covered = sum(hi - lo + 1 for s in shards[0] for lo, hi in s.slots)
                    if covered == 16384:
                        return shards[0]
            except redis_sync.RedisError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"no replica took over from {dead} in {timeout} s")

    def move_slot(self, slot: int, to_port: int, batch: int = 100, pause_s: float = 0) -> None:
        """Reshard one slot to another master, as `redis-cli --cluster reshard` does, while
        clients keep using it (they follow ASK, then MOVED). `pause_s` between telling the
        new owner and the old one: the moment the slot's messages are published on the new
        master while subscribers still listen on the old one, made wide."""
        source = next(s for s in self.shards() if s.serves(slot)).port
        if source == to_port:
            return
        src, dst = self.client(source), self.client(to_port)
        try:
            src_id = src.execute_command("CLUSTER", "MYID").decode()
            dst_id = dst.execute_command("CLUSTER", "MYID").decode()
            dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", src_id)
            src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", dst_id)
            while keys := src.execute_command("CLUSTER", "GETKEYSINSLOT", slot, batch):
                src.execute_command("MIGRATE", "127.0.0.1", to_port, "", 0, 5000, "KEYS", *keys)
            # the new owner first, then the old one (which then tells its shard-channel
            # subscribers `sunsubscribe`), then the rest, as redis-cli does
            others = [s.port for s in self.shards() if s.port not in (source, to_port)]
            for port in [to_port, source, *others]:
                client = self.client(port)
                try:
                    client.execute_command("CLUSTER", "SETSLOT", slot, "NODE", dst_id)
                finally:
                    client.close()
                if port == to_port:
                    time.sleep(pause_s)
        finally:
            src.close()
            dst.close()


class _NotYet(Exception):
    pass


def _pairs(flat: list | dict) -> dict:
    if isinstance(flat, dict):
        return flat
    return {flat[i]: flat[i + 1] for i in range(0, len(flat), 2)}
