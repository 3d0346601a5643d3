"""Social proof rules: how a buyer's nick is shown and when a purchase is announced."""

from __future__ import annotations

import pytest

from liveroom.rules.social_proof import (
    FULL,
    MASKED,
    OFF,
    Pace,
    SocialProofError,
    check_mode,
    mask,
    take_slot,
)


@pytest.mark.parametrize(
    ("nick", "mode", "shown"),
    [
        ("Amy", MASKED, "A**"),
        ("A", MASKED, "A**"),  # the mask never tells the name's length
        ("  Amy Li ", MASKED, "A**"),
        ("王小明", MASKED, "王**"),
        ("🍵tea", MASKED, "🍵**"),
        ("Amy", FULL, "Amy"),
        ("  Amy Li ", FULL, "Amy Li"),
        ("", MASKED, ""),
        ("   ", FULL, ""),
        ("Amy", OFF, None),
        ("", OFF, None),
    ],
)
def test_mask(nick: str, mode: str, shown: str | None) -> None:
    assert mask(nick, mode) == shown


def test_modes() -> None:
    assert [check_mode(m) for m in ("masked", "full", "off")] == ["masked", "full", "off"]
    for bad in ("", "MASKED", None, 1, "hidden"):
        with pytest.raises(SocialProofError, match="masked, full, off"):
            check_mode(bad)


def test_the_first_item_takes_the_slot_at_once() -> None:
    assert take_slot(Pace(), 1, 1_000, 3000) == (Pace(1_000, 0), 1)


def test_items_within_the_window_wait_and_go_out_together() -> None:
    pace, n = take_slot(Pace(), 1, 10_000, 3000)
    for now in (10_001, 11_000, 12_999):
        pace, n = take_slot(pace, 1, now, 3000)
        assert n == 0
    assert pace == Pace(10_000, 3)
    assert take_slot(pace, 0, 12_999, 3000) == (pace, 0)  # a flush too early: nothing
    assert take_slot(pace, 0, 13_000, 3000) == (Pace(13_000, 0), 3)  # at the edge: open
    assert take_slot(pace, 1, 20_000, 3000) == (Pace(20_000, 0), 4)


def test_a_flush_with_nothing_waiting_keeps_the_slot() -> None:
    """An empty flush must not take the slot: the next purchase would wait for nothing."""
    pace = Pace(10_000, 0)
    assert take_slot(pace, 0, 50_000, 3000) == (pace, 0)
    assert take_slot(pace, 1, 50_000, 3000) == (Pace(50_000, 0), 1)


def test_no_item_is_lost_or_counted_twice_over_a_long_burst() -> None:
    pace, shown, events = Pace(), 0, 0
    for i in range(500):
        pace, n = take_slot(pace, 1, 1_000 + i * 20, 3000)  # one every 20 ms for 10 s
        shown += n
        events += n > 0
    pace, n = take_slot(pace, 0, 1_000_000, 3000)
    assert shown + n == 500 and pace.pending == 0
    assert events == 4  # at 1.00 s, 4.00 s, 7.00 s, 10.00 s; the rest at the flush
