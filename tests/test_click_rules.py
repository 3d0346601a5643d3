"""Which product clicks count (liveroom/rules/clicks.py): pure rules."""

from __future__ import annotations

from liveroom.rules.clicks import KEPT, REPEAT_S, counts


def test_a_product_counts_once_per_connection_within_the_repeat_window() -> None:
    recent: dict[str, float] = {}
    assert counts(recent, "tea", 100.0)
    assert not counts(recent, "tea", 100.1)
    assert not counts(recent, "tea", 100.0 + REPEAT_S - 0.01)
    assert counts(recent, "cup", 100.2)  # another product counts at once
    assert counts(recent, "tea", 100.0 + REPEAT_S)
    assert not counts(recent, "tea", 100.0 + REPEAT_S + 1)


def test_a_connection_remembers_a_bounded_number_of_products() -> None:
    """A client sending clicks for ever-new skus must not grow its connection's memory."""
    recent: dict[str, float] = {}
    for i in range(10 * KEPT):
        assert counts(recent, f"sku-{i}", 100.0 + i / 1000)
        assert len(recent) <= KEPT
    assert not counts(recent, f"sku-{10 * KEPT - 1}", 101.0)  # the newest is remembered
