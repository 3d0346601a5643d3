"""Replay memory for merchant request nonces, shared by every process of a deployment."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod

from liveroom.redis import RedisLayer
from liveroom.redis.guard import guarded


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
    """One key per nonce (Keys.nonce), so every process of a deployment refuses a nonce any
    of them has seen."""

    def __init__(self, redis: RedisLayer) -> None:
        self._client = redis.client
        self._keys = redis.keys

    @guarded
    async def claim(self, nonce: str, ttl_s: int) -> bool:
        return bool(await self._client.set(self._keys.nonce(nonce), 1, nx=True, ex=ttl_s))
