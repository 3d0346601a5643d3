"""Where a pub/sub channel is read: which node, on which connection, with which command.

The subscriber (liveroom/engine/redis_pubsub.py) keeps one pub/sub connection per node it
reads from, and asks this module which node a channel lives on:

- **One Redis** (`OneNode`): every channel on the one server, read with SUBSCRIBE on a
  connection taken from the process's pool; scripts PUBLISH.
- **Redis Cluster** (`Shards`): a room's channel is a shard channel (Redis 7 sharded
  pub/sub): scripts SPUBLISH it, and only the master that owns the channel's slot (the
  room's slot: the channel carries the room's `{hash tag}`, see keys.py) and its replicas
  carry it, never the other nodes. It is read with SSUBSCRIBE on a connection of its own
  to that master (`node_client`). Where a slot lives comes from the cluster client's slot
  map (redis-py's NodesManager), refreshed when a channel is displaced: its node closed
  the connection or died, the node told the subscriber `sunsubscribe` (Redis 7 does when
  the slot moves to another master or the master becomes a replica), or SSUBSCRIBE was
  answered MOVED (then the reply itself says where the slot is).

redis-py's own `ClusterPubSub` does the routing too, but reads its node connections one
after another, each with the wait given (a message on the second waits out the first's
timeout, or the reader spins), and resubscribes by itself after a move without telling its
caller, who then cannot replay what was published meanwhile. The subscriber needs both:
every node read as soon as it has data, and a "moved, now recover" moment per channel.
"""

from __future__ import annotations

from typing import TypeAlias

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.crc import key_slot
from redis.exceptions import MovedError

from liveroom.redis.client import Client, node_client
from liveroom.settings import Settings

Address: TypeAlias = tuple[str, int]  # (host, port) of a node; ("", 0) for the one Redis


class Connection:
    """One pub/sub connection, and how to close whatever it was opened with."""

    def __init__(self, pubsub: PubSub, owner: aioredis.Redis | None = None) -> None:
        self.pubsub = pubsub
        self._owner = owner

    async def aclose(self) -> None:
        try:
            await self.pubsub.aclose()
        finally:
            if self._owner is not None:
                await self._owner.aclose()


class OneNode:
    """Plain pub/sub on one Redis."""

    sharded = False
    message_types = frozenset({"message"})
    subscribe_types = frozenset({"subscribe"})

    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client

    async def refresh(self) -> None:
        pass

    async def owner(self, channel: bytes) -> Address:
        return ("", 0)

    async def moved(self, exc: MovedError) -> None:
        pass

    def open(self, address: Address) -> Connection:
        return Connection(self.client.pubsub())

    async def subscribe(self, conn: Connection, channel: bytes) -> None:
        await conn.pubsub.subscribe(channel)

    async def unsubscribe(self, conn: Connection, channel: bytes) -> None:
        await conn.pubsub.unsubscribe(channel)


class Shards:
    """Sharded pub/sub on a Redis Cluster: each channel on the master of its slot."""

    sharded = True
    message_types = frozenset({"smessage"})
    subscribe_types = frozenset({"ssubscribe"})

    def __init__(self, client: aioredis.RedisCluster, settings: Settings) -> None:
        self.client = client
        self.settings = settings

    async def refresh(self) -> None:
        """Read the slot map again from a live node (one read for callers at once)."""
        if self.client._initialize:  # never connected yet, or reset by a connection error
            await self.client.initialize()
        else:
            await self.client.nodes_manager.initialize()

    async def owner(self, channel: bytes) -> Address:
        """The master of the channel's slot, as the slot map has it (SlotNotCoveredError
        while no node serves the slot)."""
        if self.client._initialize:
            await self.client.initialize()
        node = self.client.nodes_manager.get_node_from_slot(key_slot(channel))
        return (node.host, node.port)

    async def moved(self, exc: MovedError) -> None:
        """A node answered MOVED: the slot map learns the slot's new master from it."""
        await self.client.nodes_manager.move_slot(exc)

    def open(self, address: Address) -> Connection:
        host, port = address
        client = node_client(self.settings, host, port)
        return Connection(client.pubsub(), owner=client)

    async def subscribe(self, conn: Connection, channel: bytes) -> None:
        await conn.pubsub.ssubscribe(channel)

    async def unsubscribe(self, conn: Connection, channel: bytes) -> None:
        await conn.pubsub.sunsubscribe(channel)


Routes: TypeAlias = OneNode | Shards


def routes_for(client: Client, settings: Settings) -> Routes:
    if isinstance(client, aioredis.RedisCluster):
        return Shards(client, settings)
    return OneNode(client)
