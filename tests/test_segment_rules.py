"""Segments and tags (liveroom/rules/segments.py): plain unit tests."""

from __future__ import annotations

import pytest

from liveroom.rules.segments import (
    DAY_MS,
    Profile,
    Thresholds,
    profile_deltas,
    segments_of,
    tags_of,
)

NOW = 1_800_000_000_000
TH = Thresholds(active_days=14, active_min_shows=3, dormant_days=30, high_value_fen=50_000)


def viewer(shows: int, days_ago: float, spend: int = 0, **counts: int) -> Profile:
    return Profile(
        "u1", {"shows": shows, "spend_fen": spend, **counts}, 0, int(NOW - days_ago * DAY_MS)
    )


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        (viewer(1, 0), ["new"]),
        (viewer(1, 29.9), ["new"]),
        (viewer(2, 3), ["returning"]),
        (viewer(3, 3), ["returning", "active"]),
        (viewer(3, 20), ["returning"]),  # attends often, but not lately
        (viewer(5, 30), ["dormant"]),
        (viewer(1, 31, spend=50_000), ["high_value", "dormant"]),  # the one to win back
        (viewer(4, 1, spend=80_000), ["returning", "active", "high_value"]),
    ],
)
def test_segments_follow_the_thresholds(profile: Profile, expected: list[str]) -> None:
    assert segments_of(profile, NOW, TH) == sorted(
        expected, key=["new", "returning", "active", "high_value", "dormant"].index
    )


def test_thresholds_are_configurable() -> None:
    loose = Thresholds(active_days=60, active_min_shows=2, dormant_days=90, high_value_fen=100)
    assert segments_of(viewer(2, 40, spend=100), NOW, loose) == [
        "returning",
        "active",
        "high_value",
    ]


def test_tags_name_what_was_clicked_or_held_and_not_bought() -> None:
    p = Profile("u1", {"k|tea": 3, "k|cup": 1, "h|cup": 1, "h|pot": 1, "b|cup": 1})
    assert tags_of(p) == ["clicked_not_bought:tea", "held_not_paid:pot"]


def test_commerce_events_change_the_buyers_profile() -> None:
    paid = {"type": "hold_paid", "ts": NOW, "uid": "u1", "sku": "tea", "qty": 2, "price_fen": 900}
    [(uid, d)] = profile_deltas("r1", paid).items()
    assert uid == "u1" and d.counts == {"paid": 1, "spend_fen": 1800, "b|tea": 2}
    joined = profile_deltas("r1", {"type": "viewer_joined", "ts": NOW, "uid": "u1", "first": 1})
    assert joined["u1"].counts == {"shows": 1} and (joined["u1"].seen, joined["u1"].room) == (
        NOW,
        "r1",
    )
    again = profile_deltas("r1", {"type": "viewer_joined", "ts": NOW, "uid": "u1", "first": 0})
    assert again["u1"].counts == {}
    assert profile_deltas("r1", {**paid, "uid": "anon:x"}) == {}
    assert profile_deltas("r1", {"type": "sale_created", "ts": NOW}) == {}
