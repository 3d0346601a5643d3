"""Process settings.

Every setting can come from a `LIVEROOM_*` environment variable so that a Procfile or a
container needs no flags; `liveroom serve` flags override the environment.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, fields, replace
from typing import Any

DEV_SECRET = "liveroom-dev-secret-do-not-use-in-production"


def _env_value(raw: str, kind: type) -> Any:
    if kind is bool:
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if kind is int:
        return int(raw)
    if kind is float:
        return float(raw)
    return raw


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    # No Redis URL means the embedded memory engine: one process, nothing to set up.
    redis_url: str = ""
    # Redis Cluster instead of one Redis (the seam is liveroom/redis/client.py; not built yet).
    redis_cluster: bool = False
    # Connections per process (one pool for the engine and every store), and how long a
    # call, a connect or a wait for a free connection may take before it counts as an outage.
    redis_pool_size: int = 64
    redis_timeout_s: float = 3.0
    # Namespace for every Redis key, so several deployments (or test runs) share one Redis.
    key_prefix: str = "lr"
    # Signs viewer and host tokens; shared with the merchant backend that mints them.
    secret: str = DEV_SECRET
    # Signs merchant server-to-server calls; defaults to `secret` when empty.
    merchant_secret: str = ""
    # Outbox flush period: every room's events within one tick go out as one frame.
    tick_ms: int = 50
    history_size: int = 2000
    recent_comments: int = 30
    comment_max_chars: int = 200
    # Per-user comment bucket: `comment_burst` at once, refilled at `comment_rate` per second.
    comment_rate: float = 1.0
    comment_burst: int = 5
    # Past this many comments per second in a room, viewers get a sample; hosts see all.
    readable_comments_per_s: float = 20.0
    likes_per_frame_max: int = 100
    max_frame_bytes: int = 4096
    # Hard limit enforced by the WebSocket layer itself (close 1009).
    ws_max_bytes: int = 65536
    # Slow consumers: past `slow_soft_bytes` queued, a client gets state only; past
    # `slow_hard_bytes` (or still behind after `slow_grace_s`) it is closed with a reconnect hint.
    slow_soft_bytes: int = 256 * 1024
    slow_hard_bytes: int = 1024 * 1024
    slow_grace_s: float = 5.0
    presence_interval_s: float = 1.0
    presence_ttl_s: float = 5.0
    allow_anonymous: bool = True
    # Garbage collector (see gcpolicy.py): freeze long-lived objects every `gc_freeze_s`
    # (0: CPython's default collector), and run a full collection every `gc_full_s`.
    gc_freeze_s: float = 10.0
    gc_full_s: float = 900.0
    dedup_ttl_s: int = 600
    # Analytics (liveroom/analytics): every `analytics_flush_s` each process folds what its
    # viewers did into the room's figures and sends hosts their live figures; the report's
    # series has one point per `analytics_bucket_s`; viewer profiles are written every
    # `analytics_profile_flush_s`; a viewer's first touch in a show is kept
    # `analytics_touch_days`.
    analytics_flush_s: float = 1.0
    analytics_bucket_s: int = 10
    analytics_profile_flush_s: float = 10.0
    analytics_touch_days: int = 30
    # Share links: the viewer page's public base URL (empty: the merchant request's own)
    # and the brand's mini-program page that opens a show.
    public_url: str = ""
    share_page: str = "pages/live/index"
    # Viewer segments (liveroom/rules/segments.py).
    segment_active_days: float = 14.0
    segment_active_shows: int = 3
    segment_dormant_days: float = 30.0
    segment_high_value_fen: int = 50_000
    node_id: str = field(default_factory=lambda: secrets.token_hex(4))

    @property
    def merchant_key(self) -> str:
        return self.merchant_secret or self.secret

    @property
    def uses_dev_secret(self) -> bool:
        return self.secret == DEV_SECRET

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name == "node_id":
                continue
            raw = env.get(f"LIVEROOM_{f.name.upper()}")
            if raw is not None and raw != "":
                kind = {"int": int, "float": float, "bool": bool}.get(str(f.type), str)
                values[f.name] = _env_value(raw, kind)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)
