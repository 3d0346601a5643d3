"""The one Redis layer: what every Redis-backed engine and store of liveroom is built from.

- `client.py`: the client factory (one pool per process; standalone, later cluster),
- `keys.py`: every key and channel name, with its home (the room's slot, or a global key),
- `guard.py`: the outage guard (any "Redis cannot answer now" becomes errors.Unavailable),
- `scripts.py` and `lua/`: every Lua script, one layout, one loader,
- `replies.py`: text out of bytes replies.

A process builds one `RedisLayer` (liveroom/node.py) and hands it to the engine, the sale,
draw and nonce stores and the commerce stream; each builds its keys with `redis.keys` and
its scripts with `redis.script(name)`, and runs every call inside `guard()`. Nothing else
in the package opens a connection, formats a key or loads Lua. Every key, its type, home
and TTL: docs/redis.md.
"""

from __future__ import annotations

from redis.commands.core import AsyncScript

from liveroom.redis.client import Client, create_client
from liveroom.redis.keys import Keys
from liveroom.redis.scripts import load
from liveroom.settings import Settings

__all__ = ["Client", "Keys", "RedisLayer"]


class RedisLayer:
    """One client, the deployment's key builder, and the scripts registered with the client."""

    def __init__(self, client: Client, keys: Keys) -> None:
        self.client = client
        self.keys = keys
        self._scripts: dict[str, AsyncScript] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> RedisLayer:
        """The layer for `settings` (LIVEROOM_REDIS_URL, LIVEROOM_KEY_PREFIX, ...); no
        connection is opened until the first call."""
        return cls(create_client(settings), Keys(settings.key_prefix))

    def script(self, name: str) -> AsyncScript:
        """The script `lua/<name>.lua`, ready to call: `await s(keys=[...], args=[...])`."""
        script = self._scripts.get(name)
        if script is None:
            script = self._scripts[name] = self.client.register_script(load(name).text)
        return script

    async def close(self) -> None:
        await self.client.aclose()
