"""Process counters, exposed as Prometheus text at /metrics."""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass
class Metrics:
    connections: int = 0
    connections_total: int = 0
    events_in: int = 0
    frames_out: int = 0
    deliveries: int = 0
    client_frames: int = 0
    client_errors: int = 0
    slow_degraded: int = 0
    slow_closed: int = 0
    # transport health (docs/operations.md, What to alert on)
    sockets_reset: int = 0  # reset after not finishing a close within the grace
    write_failures: int = 0  # dropped because a write to the socket raised
    tick_failures: int = 0  # a room's tick raised: its events were not delivered
    handshake_timeouts: int = 0  # request head not complete in time (408)
    address_refusals: int = 0  # over the per-address cap (429)
    restart_closed: int = 0  # closed with 1012 by a graceful restart
    # merchant webhooks (liveroom/webhooks)
    webhook_events: int = 0  # events the merchant's endpoint took (answered 2xx)
    webhook_failures: int = 0  # calls it did not take: an error status, or no answer

    def render(self, extra: dict[str, float] | None = None) -> str:
        lines = []
        for f in fields(self):
            kind = "gauge" if f.name == "connections" else "counter"
            name = f"liveroom_{f.name}"
            lines += [f"# TYPE {name} {kind}", f"{name} {getattr(self, f.name)}"]
        for name, value in (extra or {}).items():
            lines += [f"# TYPE liveroom_{name} gauge", f"liveroom_{name} {value}"]
        return "\n".join(lines) + "\n"


METRICS = Metrics()
