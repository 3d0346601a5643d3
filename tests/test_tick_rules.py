"""How much of the process a long tick may take (liveroom/rules/ticks.py): pure rules."""

from __future__ import annotations

import pytest

from liveroom.rules.ticks import JOINING_REST_MAX_S, rest_after


def test_a_long_tick_gives_the_rest_of_the_process_as_long_as_it_took_up_to_a_tick() -> None:
    assert rest_after(0.03, 0.05, joining=False) == pytest.approx(0.03)
    assert rest_after(0.2, 0.05, joining=False) == pytest.approx(0.05)


def test_while_viewers_are_welcomed_a_tick_takes_at_most_a_quarter_of_the_process() -> None:
    """A join storm: the handshakes and welcomes waiting on the CPU get three times what the
    tick's writes took, so 5,000 viewers coming back are not held up by writes to the ones
    already back."""
    took = 0.04
    rest = rest_after(took, 0.05, joining=True)
    assert rest == pytest.approx(3 * took)
    assert took / (took + rest) == pytest.approx(0.25)


def test_the_pause_while_welcoming_is_capped_so_viewers_in_the_room_still_get_ticks() -> None:
    assert rest_after(1.0, 0.05, joining=True) == JOINING_REST_MAX_S
    assert rest_after(0.001, 0.05, joining=True) < 0.05
