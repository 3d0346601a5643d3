"""The one Redis client factory: every connection liveroom opens comes from here.

One pool per process. The engine, the sale, draw and nonce stores and the commerce stream
share it, because what bounds them is the same thing (how many calls one process should
have in flight on Redis), and one pool is one number to size (LIVEROOM_REDIS_POOL_SIZE)
and one set of timeouts to reason about. A burst of one kind cannot take every connection
anyway: grabs go out in at most two batches per room (sales/batcher.py) and draw calls
through a gate of their own (draws/redis_store.py). The pub/sub subscriber holds
connections of its own, for its whole life (`node_client`).

Replies are bytes. The room engine moves msgpack payloads that are not text at all, and
decoding them would be wrong as well as slow; the stores decode what is text where they
read it (liveroom/redis/replies.py). A second, decoding pool would double the connections
for the sake of a `.decode()`.

Calls fail fast instead of hanging: the socket, connect and pool-wait timeouts are all
LIVEROOM_REDIS_TIMEOUT_S (3 s by default), and a failed call is never retried blindly: a
script whose reply was lost may have run, and running it again would publish an event
twice or count likes twice. Callers see the failure as errors.Unavailable (guard.py) and
retry with their request ids, which the scripts make idempotent where it matters.

Redis Cluster (LIVEROOM_REDIS_CLUSTER): redis-py's asyncio `RedisCluster`, given any one
node, finds the others and routes each call to the master of its keys' slot, following
MOVED and ASK (the command did not run there, so following is safe) and TRYAGAIN, and
refreshing its slot map after a connection error; with no retries of its own otherwise,
for the reason above. It has a pool per node that fails a call at once when full, where
one Redis's BlockingConnectionPool queues it; `_Cluster` puts the queue back: at most
LIVEROOM_REDIS_POOL_SIZE calls in flight per process, a caller waiting up to the timeout
for its turn (then unavailable, as on one Redis).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeAlias

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterPipeline
from redis.asyncio.connection import SSLConnection, parse_url
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.maint_notifications import MaintNotificationsConfig
from redis.retry import Retry

from liveroom.settings import Settings

# What the engine and the stores talk to: one Redis, or a Redis Cluster. Both offer the
# same commands, pipelines (a cluster pipeline splits itself by node; a transaction must
# stay in one slot, as every room's does), scripts and pub/sub.
Client: TypeAlias = aioredis.Redis | aioredis.RedisCluster


def create_client(settings: Settings) -> Client:
    """The process's client for `settings.redis_url` (no connection is opened yet)."""
    if settings.redis_cluster:
        return _Cluster.from_settings(settings)
    timeout = settings.redis_timeout_s
    # A bounded pool that queues callers briefly rather than failing a burst; no retries.
    pool = aioredis.BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=settings.redis_pool_size,
        timeout=timeout,
        **_connection_options(settings),
    )
    return aioredis.Redis.from_pool(pool)


def node_client(settings: Settings, host: str, port: int) -> aioredis.Redis:
    """A client of its own for one node of the deployment (the same credentials, TLS and
    timeouts as the URL's), for a connection held for life: a pub/sub subscription."""
    options: dict[str, Any] = dict(parse_url(settings.redis_url))
    if options.pop("connection_class", None) is SSLConnection:
        options["ssl"] = True
    options.update(host=host, port=port, db=0 if settings.redis_cluster else options.get("db", 0))
    options.update(_connection_options(settings))
    return aioredis.Redis(**options)


def _connection_options(settings: Settings) -> dict[str, Any]:
    timeout = settings.redis_timeout_s
    return {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry": Retry(NoBackoff(), 0),
        # Off, so the pool checks a connection before handing it out: with them on (redis-py
        # 8 turns them on by default, for managed Redis services that announce failovers),
        # it skips that check, and every connection a Redis restart closed fails its next
        # call once.
        "maint_notifications_config": MaintNotificationsConfig(enabled=False),
    }


# Set while a task holds a turn, so a call made inside another (a pipeline re-sending a
# redirected command) does not wait for a second turn it may never get.
_HOLDING: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "liveroom_redis_turn", default=False
)


class _Cluster(aioredis.RedisCluster):
    """redis-py's cluster client with at most `in_flight` calls at once (see the module
    docstring), each waiting at most `wait_s` for its turn."""

    def __init__(self, *args: Any, in_flight: int, wait_s: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._turns = asyncio.Semaphore(in_flight)
        self._wait_s = wait_s

    @classmethod
    def from_settings(cls, settings: Settings) -> _Cluster:
        options: dict[str, Any] = dict(parse_url(settings.redis_url))
        if options.pop("connection_class", None) is SSLConnection:
            options["ssl"] = True
        options.pop("db", None)  # a cluster has database 0 only
        timeout = settings.redis_timeout_s
        return cls(
            **options,
            in_flight=settings.redis_pool_size,
            wait_s=timeout,
            # a node's pool also serves the slot-map refreshes: a little headroom over the
            # calls in flight, which the turns bound
            max_connections=settings.redis_pool_size + 4,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            # a slot without a master for a moment (a failover) fails the calls for that
            # slot (unavailable), not every call of the process
            require_full_coverage=False,
        )

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        if _HOLDING.get():
            yield
            return
        try:
            async with asyncio.timeout(self._wait_s):
                await self._turns.acquire()
        except TimeoutError:
            raise RedisConnectionError("no connection available (calls in flight)") from None
        token = _HOLDING.set(True)
        try:
            yield
        finally:
            _HOLDING.reset(token)
            self._turns.release()

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        async with self.turn():
            if self._initialize:
                # Learn the slot map once, under redis-py's lock, before any command: a
                # burst of first commands racing the lazy start lost connections ("Connection
                # closed by server"; tests/jobs racing claimers on the cluster backend).
                await self.initialize()
            return await super().execute_command(*args, **kwargs)

    def pipeline(self, transaction: Any | None = None, shard_hint: Any | None = None) -> Any:
        if shard_hint:
            return super().pipeline(transaction, shard_hint)
        return _ClusterPipeline(self, transaction)


class _ClusterPipeline(ClusterPipeline):
    """A cluster pipeline that takes one turn of its client for the whole batch."""

    cluster_client: _Cluster

    async def execute(self, raise_on_error: bool = True, allow_redirections: bool = True) -> Any:
        async with self.cluster_client.turn():
            if self.cluster_client._initialize:
                await self.cluster_client.initialize()  # as _Cluster.execute_command does
            return await super().execute(raise_on_error, allow_redirections)
