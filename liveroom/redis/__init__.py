"""The one Redis layer: what every Redis-backed engine and store of liveroom is built from.

- `client.py`: the client factory (one pool per process; one Redis or a Redis Cluster),
- `keys.py`: every key and channel name, with its home (the room's slot, or a global key),
- `guard.py`: the outage guard (any "Redis cannot answer now" becomes errors.Unavailable),
- `scripts.py` and `lua/`: every Lua script, one layout, one loader,
- `pubsub.py`: which node and command a channel is read with (sharded on a cluster),
- `durability.py`: commerce calls acknowledged once replicas have them (WAIT),
- `replies.py`: text out of bytes replies.

A process builds one `RedisLayer` (liveroom/node.py) and hands it to the engine, the sale,
draw and nonce stores and the commerce stream; each builds its keys with `redis.keys` and
its scripts with `redis.script(name)`, and runs every call inside `guard()`. Nothing else
in the package opens a connection, formats a key or loads Lua. Every key, its type, home
and TTL: docs/redis.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis

from liveroom.redis.client import Client, create_client
from liveroom.redis.durability import Durable
from liveroom.redis.keys import Keys
from liveroom.redis.pubsub import Routes, routes_for
from liveroom.redis.scripts import Script, load
from liveroom.settings import Settings

__all__ = ["Client", "Keys", "RedisLayer"]


class RedisLayer:
    """One client, the deployment's key builder, the scripts registered with the client,
    where its channels are read, and how commerce calls wait for replicas."""

    def __init__(self, client: Client, keys: Keys, settings: Settings | None = None) -> None:
        settings = settings or Settings()
        self.client = client
        self.keys = keys
        # a Redis Cluster: scripts SPUBLISH, the subscriber SSUBSCRIBEs (pubsub.py)
        self.sharded = isinstance(client, aioredis.RedisCluster)
        self.routes: Routes = routes_for(client, settings)
        self.durable = Durable(client, settings.redis_wait_replicas, settings.redis_wait_timeout_ms)
        self._scripts: dict[str, Script] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> RedisLayer:
        """The layer for `settings` (LIVEROOM_REDIS_URL, LIVEROOM_REDIS_CLUSTER,
        LIVEROOM_KEY_PREFIX, ...); no connection is opened until the first call."""
        if settings.redis_wait_replicas and (
            settings.redis_wait_timeout_ms >= settings.redis_timeout_s * 1000
        ):
            raise ValueError(
                "LIVEROOM_REDIS_WAIT_TIMEOUT_MS must be below LIVEROOM_REDIS_TIMEOUT_S "
                "(a WAIT longer than the socket timeout would fail as an outage)"
            )
        return cls(create_client(settings), Keys(settings.key_prefix), settings)

    def script(self, name: str) -> Script:
        """The script `lua/<name>.lua`, ready to call: `await s(keys=[...], args=[...])`."""
        script = self._scripts.get(name)
        if script is None:
            text = load(name, self.sharded).text
            script = self._scripts[name] = Script(self.client, text)
        return script

    async def publish(self, channel: str, message: bytes) -> None:
        """Publish outside a script: SPUBLISH on a cluster (the channel's shard only)."""
        if self.sharded:
            await self.client.spublish(channel, message)
        else:
            await self.client.publish(channel, message)

    async def call_durably(
        self, script: Script, room_id: str, keys: Sequence[Any], args: Sequence[Any]
    ) -> Any:
        """Run a commerce script of the room and acknowledge it only once
        LIVEROOM_REDIS_WAIT_REPLICAS replicas have it (durability.py)."""
        return await self.durable.run(script, keys, args, self.keys.room(room_id).durable)

    async def close(self) -> None:
        await self.client.aclose()
