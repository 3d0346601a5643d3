"""Comment sampling for viewers when a room talks faster than people can read.

A budget refills at the readable rate; each tick spends it on evenly spaced comments so
the sample spreads over the whole tick rather than favouring its first comments.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Sampler:
    rate_per_s: float
    budget: float = 0.0

    def pick(self, count: int, tick_s: float) -> list[int]:
        """Indices (0..count-1) of the comments viewers get this tick."""
        cap = max(1.0, self.rate_per_s * tick_s * 2)  # carry at most two ticks' worth
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
