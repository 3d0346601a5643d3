import pytest

from liveroom.rules import history, ratelimit
from liveroom.rules.comments import CommentRejected, blocked_keyword, check_comment
from liveroom.rules.lanes import HIGH, NORMAL, lane_of
from liveroom.rules.sampling import Sampler


def test_comment_is_trimmed_and_control_chars_removed() -> None:
    assert check_comment("  hi\x00 there \x07 ", max_chars=50, keywords=[]) == "hi there"


@pytest.mark.parametrize(("text", "code"), [("   ", "empty"), ("x" * 51, "too_long")])
def test_comment_rejections(text: str, code: str) -> None:
    with pytest.raises(CommentRejected) as err:
        check_comment(text, max_chars=50, keywords=[])
    assert err.value.code == code


def test_keyword_filter_sees_through_width_case_and_spaces() -> None:
    assert blocked_keyword("加我 Ｖ Ｘ 领券", ["vx"]) == "vx"
    assert blocked_keyword("nice dress", ["vx"]) is None
    with pytest.raises(CommentRejected):
        check_comment("加VX", max_chars=50, keywords=["vx"])


def test_token_bucket_allows_burst_then_refills() -> None:
    bucket = None
    results = []
    for _ in range(4):
        ok, bucket = ratelimit.take(bucket, 100.0, rate=1.0, burst=3)
        results.append(ok)
    assert results == [True, True, True, False]
    ok, bucket = ratelimit.take(bucket, 101.0, rate=1.0, burst=3)
    assert ok
    ok, _ = ratelimit.take(bucket, 101.0, rate=1.0, burst=3)
    assert not ok


def test_slow_mode_wait() -> None:
    assert ratelimit.slow_mode_wait(None, 10.0, 5) == 0
    assert ratelimit.slow_mode_wait(8.0, 10.0, 5) == 3.0
    assert ratelimit.slow_mode_wait(8.0, 10.0, 0) == 0


def test_only_plain_viewer_comments_are_normal_lane() -> None:
    assert lane_of({"type": "comment"}) == NORMAL
    assert lane_of({"type": "comment", "host": True}) == HIGH
    assert lane_of({"type": "announce"}) == HIGH
    assert lane_of({"type": "sale"}) == HIGH


def test_sampler_passes_quiet_rooms_whole() -> None:
    s = Sampler(rate_per_s=20)
    kept = [len(s.pick(1, 0.05)) for _ in range(40)]
    assert sum(kept) == 40


def test_sampler_holds_a_busy_room_to_the_readable_rate() -> None:
    s = Sampler(rate_per_s=20)
    kept = sum(len(s.pick(50, 0.05)) for _ in range(200))  # 1000 comments/s for 10 s
    assert 200 <= kept <= 221  # 20/s for 10 s, plus the one second's worth it started with
    picks = s.pick(50, 0.05)
    assert picks == sorted(set(picks))
    assert all(0 <= i < 50 for i in picks)


def test_recovery_ranges() -> None:
    assert history.recovery(10, 10, 1) == "none"
    assert history.recovery(5, 10, 6) == "range"
    assert history.recovery(4, 10, 6) == "gap"
    assert history.recovery(0, 10, None) == "gap"
    assert history.recovery(12, 10, 1) == "gap"  # the room was reset under the client
    assert history.recovery(0, 0, None) == "none"


def test_recent_comments_skip_deleted_and_other_events() -> None:
    events = [
        {"type": "comment", "id": "a", "seq": 1},
        {"type": "announce", "seq": 2},
        {"type": "comment", "id": "b", "seq": 3},
        {"type": "comment", "id": "c", "seq": 4},
    ]
    got = history.recent_comments(reversed(events), {"c"}, 5)
    assert [e["id"] for e in got] == ["a", "b"]
    assert [e["id"] for e in history.recent_comments(reversed(events), set(), 1)] == ["c"]
