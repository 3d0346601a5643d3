"""Product card clicks that count: one per connection, product and `REPEAT_S`.

A click is a viewer tapping a pinned product's card; it feeds the room's click counts, the
host's live figures and the show report's funnel (clicks -> holds -> paid). A viewer tapping
the same card again and again, or a client stuck in a loop, would otherwise count as many
clicks as it sends frames, each a store call, and bend the funnel a brand plans its next show
on. The repeats are dropped without an error: a tap is never refused.
"""

from __future__ import annotations

REPEAT_S = 5.0
KEPT = 64  # products remembered per connection (a pinned bag holds at most 50)


def counts(recent: dict[str, float], sku: str, now: float) -> bool:
    """Whether a click on `sku` at `now` (monotonic seconds) counts; `recent` (sku -> when
    its last counted click was) is updated, and kept to `KEPT` products."""
    last = recent.get(sku)
    if last is not None and now - last < REPEAT_S:
        return False
    if sku not in recent and len(recent) >= KEPT:
        for old in [k for k, at in recent.items() if now - at >= REPEAT_S]:
            del recent[old]
        if len(recent) >= KEPT:
            del recent[next(iter(recent))]  # the longest remembered
    recent[sku] = now
    return True
