"""Commerce calls that are acknowledged only once replicas have them (Redis WAIT).

Redis replicates asynchronously: a master acknowledges a write before any replica has it.
If the master dies in that moment, the replica that takes over never saw the write. For a
hold that means a buyer told "you have it" whose unit is back in stock on the new master
and may be sold again; for a payment confirmation, a paid hold that later expires and
returns its unit. With LIVEROOM_REDIS_WAIT_REPLICAS = n > 0, every grab batch, payment
confirmation and cancellation runs as one pipeline on one connection to the master of the
room's slot:

    EVALSHA <the script>                 the change (one Lua script, as always)
    SET <room>:durable 1 PX 60000        a write of this connection, see below
    WAIT n LIVEROOM_REDIS_WAIT_TIMEOUT_MS

and is acknowledged only if WAIT says n replicas have everything up to it; otherwise the
caller gets Unavailable and retries with the same request id (grabs), order id (confirm)
or hold id (cancel), which the scripts answer idempotently.

Why the SET: WAIT waits for the replication offset of the connection's own last write. A
retried grab whose answer was kept writes nothing, so without a write of its own the WAIT
of the retry would return at once while the first attempt's hold might still be only on
the master. The SET (in the room's slot, so on the same master) moves the connection's
offset to "now", which covers every earlier write to that master, the first attempt's
included.

What each setting can lose (docs/operations.md says the same for operators):
- 0: an acknowledged hold, payment or cancellation written in the last moment before its
  master died (what the replica had not received yet: typically under a millisecond of
  writes, more under replication lag). A lost hold's unit can be sold twice; a lost
  payment can expire and its unit be sold again.
- n >= 1: nothing acknowledged is lost while at least one of the n replicas that had it
  survives and is the one promoted (Redis Cluster promotes the replica with the most
  data). A write that timed out may still exist on the master or have been lost with it:
  either way its caller was told "unavailable" and its retry gets one consistent answer.
  Not covered: every copy lost at once (the master and its n replicas), and a master
  restarted from its own disk without AOF (`appendonly yes`, `appendfsync everysec` or
  `always`): see docs/operations.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from redis import exceptions as rexc
from redis.crc import key_slot

from liveroom.errors import Unavailable
from liveroom.redis.scripts import Script

MARKER_TTL_MS = 60_000
ATTEMPTS = 3  # a NOSCRIPT (a master new since the script was loaded) or a MOVED, then again


class Durable:
    """Runs a script and waits for `replicas` replicas of its master, as described above."""

    def __init__(
        self, client: aioredis.Redis | aioredis.RedisCluster, replicas: int, timeout_ms: int
    ) -> None:
        self.client = client
        self.replicas = replicas
        self.timeout_ms = timeout_ms
        self._cluster = isinstance(client, aioredis.RedisCluster)

    async def run(
        self, script: Script, keys: Sequence[Any], args: Sequence[Any], marker: str
    ) -> Any:
        """The script's reply, once `replicas` replicas have it; `marker` is a key in the
        slot of `keys` (RoomKeys.durable). Raises Unavailable if they do not in time."""
        if self.replicas <= 0:
            return await script(keys=keys, args=args)
        by_text = False
        for _ in range(ATTEMPTS):
            reply, acked = await self._attempt(script, keys, args, marker, by_text)
            if isinstance(reply, rexc.NoScriptError):
                by_text = True  # nothing ran: send the text, which teaches the node too
                continue
            if isinstance(reply, rexc.MovedError) and self._cluster:
                await self.client.nodes_manager.move_slot(reply)  # type: ignore[union-attr]
                continue
            if isinstance(reply, rexc.AskError | rexc.TryAgainError):
                raise Unavailable("the room's slot is moving to another master; retry")
            if isinstance(reply, Exception):
                raise reply
            if isinstance(acked, Exception):
                raise acked
            if int(acked) < self.replicas:
                raise Unavailable(
                    f"written, but {acked} of {self.replicas} replicas had it within "
                    f"{self.timeout_ms} ms; retry"
                )
            return reply
        raise Unavailable("the script's master kept changing; retry")

    async def _attempt(
        self, script: Script, keys: Sequence[Any], args: Sequence[Any], marker: str, by_text: bool
    ) -> tuple[Any, Any]:
        wait: dict[str, Any] = {}
        if self._cluster:
            cluster: aioredis.RedisCluster = self.client  # type: ignore[assignment]
            if cluster._initialize:
                await cluster.initialize()
            # the master the EVALSHA goes to: WAIT on the same one, so on the same
            # connection (a cluster pipeline sends each node's commands on one)
            slot = key_slot(cluster.encoder.encode(keys[0]))
            wait["target_nodes"] = cluster.nodes_manager.get_node_from_slot(slot)
        async with self.client.pipeline(transaction=False) as pipe:
            # (the cluster pipeline refuses its evalsha() method, not the command)
            if by_text:
                pipe.execute_command("EVAL", script.script, len(keys), *keys, *args)
            else:
                pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
            pipe.set(marker, 1, px=MARKER_TTL_MS)
            pipe.execute_command("WAIT", self.replicas, self.timeout_ms, **wait)
            if self._cluster:
                results = await pipe.execute(raise_on_error=False, allow_redirections=False)
            else:
                results = await pipe.execute(raise_on_error=False)
        reply, _, acked = results
        return reply, acked
