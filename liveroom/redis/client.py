"""The one Redis client factory: every connection liveroom opens comes from here.

One pool per process. The engine, the sale, draw and nonce stores and the commerce stream
share it, because what bounds them is the same thing (how many calls one process should
have in flight on one Redis), and one pool is one number to size (LIVEROOM_REDIS_POOL_SIZE)
and one set of timeouts to reason about. A burst of one kind cannot take every connection
anyway: grabs go out in at most two batches per room (sales/batcher.py) and draw calls
through a gate of their own (draws/redis_store.py). The pub/sub subscriber holds one more
connection of its own, for its whole life.

Replies are bytes. The room engine moves msgpack payloads that are not text at all, and
decoding them would be wrong as well as slow; the stores decode what is text where they
read it (liveroom/redis/replies.py). A second, decoding pool would double the connections
for the sake of a `.decode()`.

Calls fail fast instead of hanging: the socket, connect and pool-wait timeouts are all
LIVEROOM_REDIS_TIMEOUT_S (3 s by default), and a failed call is never retried blindly: a
script whose reply was lost may have run, and running it again would publish an event
twice or count likes twice. Callers see the failure as errors.Unavailable (guard.py) and
retry with their request ids, which the scripts make idempotent where it matters.

Cluster mode plugs in here: `create_client` returns the client for the settings, and the
rest of the package only needs what `Client` offers (commands, pipelines, scripts,
pub/sub).
"""

from __future__ import annotations

from typing import TypeAlias

import redis.asyncio as aioredis
from redis.backoff import NoBackoff
from redis.maint_notifications import MaintNotificationsConfig
from redis.retry import Retry

from liveroom.settings import Settings

# What the engine and the stores talk to. With cluster mode this becomes
# `aioredis.Redis | aioredis.RedisCluster`, and the pub/sub half of engine/redis_pubsub.py
# moves to sharded pub/sub (SSUBSCRIBE / SPUBLISH on the room's channel, which carries the
# room's hash tag: see keys.py).
Client: TypeAlias = aioredis.Redis


def create_client(settings: Settings) -> Client:
    """The process's client for `settings.redis_url` (no connection is opened yet)."""
    if settings.redis_cluster:
        raise NotImplementedError(
            "LIVEROOM_REDIS_CLUSTER is not supported yet: the keys and scripts are ready for "
            "a cluster (one slot per room), the cluster client and sharded pub/sub are not"
        )
    timeout = settings.redis_timeout_s
    # A bounded pool that queues callers briefly rather than failing a burst; no retries.
    pool = aioredis.BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=settings.redis_pool_size,
        timeout=timeout,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        # Off, so the pool checks a connection before handing it out: with them on (redis-py
        # 8 turns them on by default, for managed Redis services that announce failovers),
        # it skips that check, and every connection a Redis restart closed fails its next
        # call once.
        maint_notifications_config=MaintNotificationsConfig(enabled=False),
    )
    return aioredis.Redis.from_pool(pool)
