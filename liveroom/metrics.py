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
