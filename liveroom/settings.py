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
    # Redis Cluster instead of one Redis: the URL names any node (docs/operations.md).
    redis_cluster: bool = False
    # Durability of commerce calls (grab, confirm, cancel): acknowledge only once this many
    # replicas have the change (WAIT), else answer unavailable; 0 acknowledges at once.
    redis_wait_replicas: int = 0
    redis_wait_timeout_ms: int = 1000
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
    # After the server sends a close frame (slow consumer, restart, ban, ping timeout), how
    # long the client has to finish the close before its socket is reset (RST): a client
    # that stopped reading never finishes it, and until the reset its buffers stay held.
    close_grace_s: float = 2.0
    # The request head (WebSocket upgrade or HTTP request) must arrive within this many
    # seconds of the connection (or of the previous response on a kept-alive connection);
    # 0: no deadline.
    handshake_timeout_s: float = 10.0
    # Open sockets per client address and process (0: no cap); see docs/operations.md.
    max_connections_per_address: int = 256
    # Proxies and load balancers whose X-Forwarded-For is believed, and that are not capped
    # themselves: comma-separated IPs or CIDRs, or "none". By default only this host.
    trusted_proxies: str = "127.0.0.1,::1"
    # Keepalive pings on room sockets: a client that does not answer one within the
    # timeout is closed (this is what finds dead peers; viewers may be silent for hours).
    ws_ping_interval_s: float = 20.0
    ws_ping_timeout_s: float = 20.0
    # On SIGTERM: how long frames already being handled (grabs, host commands) may take
    # to finish before every socket is closed with 1012 (see drain.py).
    drain_timeout_s: float = 10.0
    presence_interval_s: float = 1.0
    presence_ttl_s: float = 5.0
    allow_anonymous: bool = True
    # Garbage collector (see gcpolicy.py): freeze long-lived objects every `gc_freeze_s`
    # (0: CPython's default collector), and run a full collection every `gc_full_s`.
    gc_freeze_s: float = 10.0
    gc_full_s: float = 900.0
    dedup_ttl_s: int = 600
    # The server's public base URL, for the links in group messages and share codes (empty:
    # group messages link to http://host:port, share links to the address the merchant API
    # was called on).
    public_url: str = ""
    # Shows (liveroom/shows): the time zone of series slots and message times, and a
    # show's replay: events kept (about) and days kept after the last one.
    show_tz: str = "Asia/Shanghai"
    replay_max_events: int = 200_000
    replay_days: int = 30
    # Due jobs (liveroom/jobs): how often each process looks for due jobs, how long a claim
    # holds a job, and the retry backoff (base doubling up to cap) and attempts.
    jobs_poll_s: float = 0.5
    jobs_lease_s: float = 30.0
    jobs_retry_base_s: float = 5.0
    jobs_retry_cap_s: float = 600.0
    jobs_max_attempts: int = 6
    # WeCom group robots: hosts webhooks may point at (comma separated), and each robot's
    # pace (WeCom takes 20 messages a minute per robot).
    wecom_hosts: str = "qyapi.weixin.qq.com"
    wecom_per_window: int = 20
    wecom_window_s: float = 60.0
    # Analytics (liveroom/analytics): every `analytics_flush_s` each process folds what its
    # viewers did into the room's figures and sends hosts their live figures; the report's
    # series has one point per `analytics_bucket_s`; viewer profiles are written every
    # `analytics_profile_flush_s`; a viewer's first touch in a show is kept
    # `analytics_touch_days`.
    analytics_flush_s: float = 1.0
    analytics_bucket_s: int = 10
    analytics_profile_flush_s: float = 10.0
    analytics_touch_days: int = 30
    # Share links: the brand's mini-program page that opens a show.
    share_page: str = "pages/live/index"
    # Coupons: the mini-program and its coupon page that a claimed coupon's ticket opens
    # (beside each product's checkout page; the ticket is added as ?ticket=).
    coupon_appid: str = ""
    coupon_page: str = "pages/coupon/index"
    # Viewer segments (liveroom/rules/segments.py).
    segment_active_days: float = 14.0
    segment_active_shows: int = 3
    segment_dormant_days: float = 30.0
    segment_high_value_fen: int = 50_000
    # Social proof (liveroom/orders): at most one `purchase` event per room per this many
    # seconds, across processes; the purchases in between are folded into the next one.
    social_proof_s: float = 3.0
    # Merchant webhooks (liveroom/webhooks): every commerce event of every room, POSTed to
    # `webhook_url` (empty: none) in batches of up to `webhook_batch`, signed like the
    # merchant API's requests; a call that does not answer 2xx within `webhook_timeout_s`
    # is retried, the room's delivery waiting from `webhook_retry_base_s` doubling up to
    # `webhook_retry_cap_s`. Each process looks for rooms to deliver every
    # `webhook_poll_s`.
    webhook_url: str = ""
    # the event types it wants (comma separated, e.g. "hold_paid,coupon_redeemed"); empty:
    # every type. The others are skipped, never posted.
    webhook_types: str = ""
    webhook_batch: int = 100
    webhook_timeout_s: float = 5.0
    webhook_retry_base_s: float = 1.0
    webhook_retry_cap_s: float = 60.0
    webhook_poll_s: float = 0.5
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
