"""Show rules without a server: lifecycle, schedule, weekly slots, WeCom bodies, keys."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from liveroom.rules import jobs
from liveroom.rules import show as rules

NOW = 1_800_000_000_000


@pytest.mark.parametrize(
    ("current", "target", "code"),
    [
        ("", rules.SCHEDULED, None),
        (rules.SCHEDULED, rules.SCHEDULED, None),
        (rules.SCHEDULED, rules.LIVE, None),
        (rules.LIVE, rules.ENDED, None),
        ("", rules.ENDED, None),  # a room never scheduled ends as rooms always did
        (rules.SCHEDULED, rules.CANCELLED, None),
        (rules.LIVE, rules.SCHEDULED, "show_started"),
        (rules.ENDED, rules.SCHEDULED, "show_over"),
        (rules.ENDED, rules.LIVE, "show_over"),
        (rules.CANCELLED, rules.LIVE, "show_over"),
        (rules.SCHEDULED, rules.ENDED, "show_not_live"),
        (rules.LIVE, rules.LIVE, "show_not_scheduled"),
        ("", rules.LIVE, "show_not_scheduled"),
    ],
)
def test_transitions(current: str, target: str, code: str | None) -> None:
    if code is None:
        rules.check_transition(current, target)
    else:
        with pytest.raises(rules.ShowError) as err:
            rules.check_transition(current, target)
        assert err.value.code == code


def test_schedule_checks() -> None:
    assert rules.check_starts_at(NOW + 1, NOW) == NOW + 1
    for bad in (NOW, NOW - 5, True, "1", NOW + rules.MAX_AHEAD_MS + 1):
        with pytest.raises(rules.ShowError):
            rules.check_starts_at(bad, NOW)
    assert rules.check_offsets([300, 3600, 1800, 300]) == (3600, 1800, 300)
    for bad in ([0], [-1], ["60"], [True], list(range(1, 20)), 60):
        with pytest.raises(rules.ShowError):
            rules.check_offsets(bad)
    assert rules.reminder_due(NOW, 300) == NOW - 300_000


def test_weekly_slot_in_shanghai() -> None:
    slot = rules.Slot.parse(2, "20:00")  # Tuesdays 20:00 Asia/Shanghai
    zone = ZoneInfo("Asia/Shanghai")
    monday = int(dt.datetime(2026, 3, 9, 12, 0, tzinfo=zone).timestamp() * 1000)
    first = slot.next_after(monday)
    assert dt.datetime.fromtimestamp(first / 1000, zone) == dt.datetime(
        2026, 3, 10, 20, 0, tzinfo=zone
    )
    assert slot.next_after(first) == first + 7 * 86400 * 1000  # strictly after
    assert rules.episode_room("nm", slot, first) == "nm-20260310"
    for bad in ((0, "20:00"), (8, "20:00"), (2, "24:00"), (2, "8pm")):
        with pytest.raises(rules.ShowError):
            rules.Slot.parse(*bad)
    with pytest.raises(rules.ShowError):
        rules.Slot.parse(2, "20:00", "Mars/Olympus")


def test_a_slot_keeps_its_local_time_across_daylight_saving() -> None:
    slot = rules.Slot.parse(7, "10:30", "Europe/Berlin")
    zone = ZoneInfo("Europe/Berlin")
    before = int(dt.datetime(2026, 3, 22, 11, 0, tzinfo=zone).timestamp() * 1000)
    nxt = dt.datetime.fromtimestamp(slot.next_after(before) / 1000, zone)
    assert (nxt.date(), nxt.hour, nxt.minute) == (dt.date(2026, 3, 29), 10, 30)


@given(st.text(max_size=3000), st.sampled_from([rules.TEXT, rules.MARKDOWN]))
def test_bodies_fit_wecoms_byte_limits(content: str, msgtype: str) -> None:
    body = rules.message(content, msgtype, mention_all=True)
    text = body[msgtype]["content"]
    assert len(text.encode()) <= rules.LIMITS[msgtype]
    assert content.startswith(text.removesuffix("…")) or text == content


def test_truncation_cuts_on_a_character_boundary() -> None:
    cut = rules.truncate_utf8("直播" * 2000, 2048)
    assert len(cut.encode()) <= 2048 and cut.endswith("…")
    assert rules.truncate_utf8("short", 2048) == "short"
    body = rules.message("hi", rules.TEXT, mention_all=True)
    assert body == {"msgtype": "text", "text": {"content": "hi", "mentioned_list": ["@all"]}}
    assert rules.message("hi", rules.MARKDOWN, mention_all=True) == {
        "msgtype": "markdown",
        "markdown": {"content": "hi"},
    }


def test_templates_fill_known_names_only() -> None:
    assert rules.render("{title} at {time}", {"title": "Tea", "time": "20:00"}) == "Tea at 20:00"
    assert rules.render("{title.__class__} {nope}", {"title": "x"}) == "{title.__class__} {nope}"
    assert rules.left_words(3600) == "1小时" and rules.left_words(300) == "5分钟"


KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"


def test_webhooks_are_checked_and_their_keys_never_shown() -> None:
    url = f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={KEY}"
    hook = rules.check_webhook(url, ["qyapi.weixin.qq.com"])
    assert hook.key == KEY and KEY not in hook.public() and KEY not in hook.fingerprint
    assert rules.redact(f"POST {url} failed: 502") == (
        "POST https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=<redacted> failed: 502"
    )
    for bad in (
        url.replace("https", "http"),  # not TLS
        f"https://evil.example.com/send?key={KEY}",  # not an allowed host
        "https://qyapi.weixin.qq.com/cgi-bin/webhook/send",  # no key
        "https://qyapi.weixin.qq.com/send?key=short",
        42,
    ):
        with pytest.raises(rules.ShowError):
            rules.check_webhook(bad, ["qyapi.weixin.qq.com"])
    assert rules.check_webhook(f"http://127.0.0.1:9/send?key={KEY}", ["127.0.0.1"]).key == KEY


def test_claims_and_backoff() -> None:
    assert jobs.claim_decision(jobs.PENDING, 10, 0, 0, 3, 9) == (jobs.LATER, 10)
    assert jobs.claim_decision(jobs.PENDING, 10, 0, 0, 3, 10) == (jobs.CLAIM, 0)
    assert jobs.claim_decision(jobs.RUNNING, 0, 50, 1, 3, 49) == (jobs.LATER, 50)
    assert jobs.claim_decision(jobs.RUNNING, 0, 50, 1, 3, 50) == (jobs.CLAIM, 0)
    assert jobs.claim_decision(jobs.RUNNING, 0, 50, 3, 3, 50) == (jobs.GIVE_UP, 0)
    assert jobs.claim_decision(jobs.DONE, 0, 0, 1, 3, 99) == (jobs.FINISHED, 0)
    assert [jobs.backoff_ms(n, 100, 1000) for n in (1, 2, 3, 4, 5)] == [100, 200, 400, 800, 1000]
    assert jobs.retry_at(1, 3, 0, 100, 1000) == 100
    assert jobs.retry_at(1, 3, 0, 100, 1000, not_before=60_000) == 60_000
    assert jobs.retry_at(3, 3, 0, 100, 1000) is None
    assert jobs.parse_member(jobs.index_member("r.1", "rem.60.ab", 7)) == ("r.1", "rem.60.ab", 7)
