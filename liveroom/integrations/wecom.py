"""The WeCom group-robot client: post a message to a group, paced, with errors that say
whether a retry can help, and the robot's key never in a log line or an exception.

WeCom ("企业微信") group robots take `POST <webhook>` with a JSON body (`msgtype` text or
markdown, see rules/show.py `message`) and answer `{"errcode": 0, "errmsg": "ok"}`. A
robot takes at most 20 messages a minute (errcode 45009 past that), counted per robot
whatever posts to it, so the pace is kept per robot across every liveroom process (a
sliding window in Redis on the Redis engine). Retrying is the job runner's business
(liveroom/jobs): this client makes one attempt and says how it went.

httpx does the HTTP: TLS with certificate checks, connection reuse to qyapi.weixin.qq.com,
timeouts; its own request log line carries the full URL (the key with it), so every
record of the `httpx` and `httpcore` loggers goes through `redact` first.
"""

from __future__ import annotations

import logging
import secrets
from abc import ABC, abstractmethod
from collections import deque
from typing import Any

import httpx

from liveroom.redis import RedisLayer
from liveroom.redis.guard import guarded
from liveroom.rules.show import Webhook, redact

log = logging.getLogger("liveroom.wecom")

RATE_LIMITED = 45009  # WeCom: over the robot's messages per minute
# errcodes a retry cannot fix: the webhook is wrong (deleted robot, bad key, not allowed)
HOPELESS = frozenset({93000, 93004, 93008, 40058})


class _Redact(logging.Filter):
    """Hide webhook keys in records of libraries that log URLs."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        clean = redact(text)
        if clean != text:
            record.msg, record.args = clean, None
        return True


for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).addFilter(_Redact())


class WeComError(Exception):
    """One post failed. `retry_after_ms`: wait at least this long (a rate limit); `final`:
    retrying cannot help; `paced`: it was not sent at all (our own pacing)."""

    def __init__(
        self, message: str, *, retry_after_ms: int = 0, final: bool = False, paced: bool = False
    ) -> None:
        message = redact(message)
        super().__init__(message)
        self.message = message
        self.retry_after_ms = retry_after_ms
        self.final = final
        self.paced = paced


class Pacer(ABC):
    """How many posts each robot took in the last window, across every process."""

    def __init__(self, per_window: int, window_ms: int) -> None:
        self.per_window = per_window
        self.window_ms = window_ms

    @abstractmethod
    async def take(self, robot: str, now_ms: int) -> int:
        """Take a slot for one post to `robot` (a fingerprint): 0, or ms until one frees."""


class MemoryPacer(Pacer):
    def __init__(self, per_window: int, window_ms: int) -> None:
        super().__init__(per_window, window_ms)
        self._sent: dict[str, deque[int]] = {}

    async def take(self, robot: str, now_ms: int) -> int:
        sent = self._sent.setdefault(robot, deque())
        while sent and sent[0] <= now_ms - self.window_ms:
            sent.popleft()
        if len(sent) < self.per_window:
            sent.append(now_ms)
            return 0
        return max(1, sent[0] + self.window_ms - now_ms)


class RedisPacer(Pacer):
    def __init__(self, redis: RedisLayer, per_window: int, window_ms: int) -> None:
        super().__init__(per_window, window_ms)
        self._keys = redis.keys
        self._pace = redis.script("wecom_pace")

    @guarded
    async def take(self, robot: str, now_ms: int) -> int:
        member = f"{now_ms}-{secrets.token_hex(4)}"
        wait = await self._pace(
            keys=[self._keys.wecom_pace(robot)],
            args=[now_ms, self.window_ms, self.per_window, member],
        )
        return int(wait)


class WeComClient:
    def __init__(self, pacer: Pacer, timeout_s: float = 10.0) -> None:
        self.pacer = pacer
        self._timeout = timeout_s
        self._http: httpx.AsyncClient | None = None

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self._timeout, follow_redirects=False)
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def post(self, hook: Webhook, body: dict[str, Any], now_ms: int) -> None:
        """Send one message; raise WeComError unless WeCom answered errcode 0."""
        wait = await self.pacer.take(hook.fingerprint, now_ms)
        if wait:
            raise WeComError(
                f"paced: robot {hook.fingerprint} is at its limit", retry_after_ms=wait, paced=True
            )
        try:
            resp = await self._client().post(hook.url, json=body)
        except (TimeoutError, httpx.HTTPError, OSError) as exc:
            raise WeComError(f"{type(exc).__name__}: {exc}") from None
        if resp.status_code != 200:
            final = resp.status_code in (400, 401, 403, 404)
            raise WeComError(f"HTTP {resp.status_code}", final=final)
        try:
            answer = resp.json()
            errcode = int(answer.get("errcode", -1))
        except (ValueError, TypeError, AttributeError):
            raise WeComError("WeCom answered something that is not its JSON") from None
        if errcode == 0:
            return
        text = f"errcode {errcode}: {str(answer.get('errmsg', ''))[:200]}"
        if errcode == RATE_LIMITED:
            raise WeComError(text, retry_after_ms=self.pacer.window_ms)
        raise WeComError(text, final=errcode in HOPELESS)
