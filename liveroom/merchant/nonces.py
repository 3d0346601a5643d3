"""Replay memory for merchant request nonces, shared by every process of a deployment."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod

import redis.asyncio as aioredis
from redis import exceptions as rexc

from liveroom.errors import Unavailable
from liveroom.sales.store import SaleStore
from liveroom.settings import Settings


class Nonces(ABC):
    @abstractmethod
    async def claim(self, nonce: str, ttl_s: int) -> bool:
        """True the first time a nonce is seen within ttl_s; False for a replay."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        pass


class MemoryNonces(Nonces):
    def __init__(self) -> None:
        self._seen: dict[str, float] = {}

    async def claim(self, nonce: str, ttl_s: int) -> bool:
        now = time.monotonic()
        if len(self._seen) > 100_000:
            self._seen = {n: t for n, t in self._seen.items() if t > now}
        expires = self._seen.get(nonce)
        if expires is not None and expires > now:
            return False
        self._seen[nonce] = now + ttl_s
        return True


class RedisNonces(Nonces):
    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self.r = client
        self.prefix = prefix

    async def claim(self, nonce: str, ttl_s: int) -> bool:
        try:
            return bool(
                await self.r.set(f"{self.prefix}:merchant:nonce:{nonce}", 1, nx=True, ex=ttl_s)
            )
        except (rexc.ConnectionError, rexc.TimeoutError, OSError) as exc:
            raise Unavailable(str(exc)) from exc


def create_nonces(settings: Settings, store: SaleStore) -> Nonces:
    """Replay memory where the sale store keeps its state (on Redis, its client), so
    every process of a deployment refuses a nonce any of them has seen."""
    client = getattr(store, "r", None)
    if client is not None:
        return RedisNonces(client, settings.key_prefix)
    return MemoryNonces()
