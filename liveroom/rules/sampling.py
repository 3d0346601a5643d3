"""Comment sampling for viewers when a room talks faster than people can read.

A budget refills at the readable rate and holds at most one second's worth, so a quiet
room's bursts pass whole while a busy room is held to the rate. Each tick spends it on
evenly spaced comments so the sample spreads over the tick rather than favouring its start.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Sampler:
    rate_per_s: float
    budget: float = -1.0  # starts full

    def __post_init__(self) -> None:
        if self.budget < 0:
            self.budget = max(1.0, self.rate_per_s)

    def pick(self, count: int, tick_s: float) -> list[int]:
        """Indices (0..count-1) of the comments viewers get this tick."""
        cap = max(1.0, self.rate_per_s)
        self.budget = min(cap, self.budget + self.rate_per_s * tick_s)
        if count <= self.budget:
            self.budget -= count
            return list(range(count))
        keep = int(self.budget)
        self.budget -= keep
        if keep <= 0:
            return []
        step = count / keep
        return [int(i * step) for i in range(keep)]
