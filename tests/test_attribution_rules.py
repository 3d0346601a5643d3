"""The attribution rule and the fold (liveroom/rules/attribution.py): plain unit tests."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlparse

import pytest

from liveroom.rules import attribution as rules
from liveroom.rules.attribution import (
    FIG,
    SERIES,
    Activity,
    Delta,
    Figures,
    Owner,
    ShareCode,
    Touch,
    candidate,
    first_touch,
    fold,
    fold_all,
    touch_of,
)

T0 = 1_800_000_000_000
B = 10_000  # bucket ms
CODE = ShareCode("ABCD2345", "r1", "offline_store", Owner("staff", "s-7", "Shop 7"), "", T0)


def test_codes_and_channels_never_collide() -> None:
    for _ in range(200):
        code = rules.new_code()
        assert rules.is_code(code) and not rules.CHANNEL.match(code)
    assert rules.channel_of("") == "direct"
    assert rules.channel_of("WeCom_Group") == "wecom_group"
    assert rules.channel_of("朋友圈") == "other"
    assert rules.channel_of(None) == "direct"
    assert not rules.is_code("abcd2345") and not rules.is_code("ABCD234O")  # no O, lower case


def test_the_signed_token_wins_over_the_link() -> None:
    assert candidate("ABCD2345", "moments", "WXYZ6789", "poster") == candidate(
        "ABCD2345", "moments", None, None
    )
    c = candidate("", "", "WXYZ6789", "poster")
    assert (c.ref, c.src, c.ignored) == ("WXYZ6789", "poster", None)


@pytest.mark.parametrize(
    ("token_ref", "link_ref", "link_src", "code"),
    [
        ("", "<script>", None, rules.BAD_REF),
        ("", "x" * 600, None, rules.BAD_REF),
        ("", None, "Bad Src!", rules.BAD_SRC),
        ("not-a-code", None, None, rules.BAD_REF),
    ],
)
def test_a_malformed_ref_or_src_is_ignored_with_the_reason(
    token_ref: str, link_ref: object, link_src: object, code: str
) -> None:
    c = candidate(token_ref, "", link_ref, link_src)
    assert c.ignored is not None and c.ignored.code == code
    assert touch_of(c, None)[0] == Touch("", "direct")


def test_a_known_code_brings_its_channel_and_an_unknown_one_falls_back() -> None:
    assert touch_of(candidate("", "", "ABCD2345", "moments"), CODE) == (
        Touch("ABCD2345", "offline_store"),
        None,
    )
    touch, ignored = touch_of(candidate("", "moments", "WXYZ6789", None), None)
    assert touch == Touch("", "moments") and touch.key == "moments"
    assert ignored is not None and ignored.code == rules.UNKNOWN_REF


def test_first_touch_per_viewer_wins() -> None:
    came = Touch("ABCD2345", "offline_store")
    assert first_touch(None, came) == (came, True)
    assert first_touch(came, Touch("", "moments")) == (came, False)
    assert Touch.decode(came.encode()) == came and Touch.decode("\t") == Touch()


def test_links_carry_the_code() -> None:
    links = rules.links(CODE, "https://live.example.com/", "pages/live/index")
    web = urlparse(links["web"])
    assert (web.netloc, web.path) == ("live.example.com", "/watch")
    assert parse_qs(web.query) == {"room": ["r1"], "ref": ["ABCD2345"]}
    assert links["miniprogram"]["path"] == "pages/live/index?room=r1&ref=ABCD2345"
    plugin = links["wx_live_plugin"]
    assert plugin.startswith(rules.WX_LIVE_PLUGIN + "?custom_params=")
    params = unquote(plugin.split("custom_params=")[1])
    assert params == links["miniprogram"]["custom_params"]
    assert len(plugin.split("custom_params=")[1]) <= rules.CUSTOM_PARAMS_MAX


@pytest.mark.parametrize(
    "raw",
    [
        {"owner": {"kind": "koc", "id": "u1"}},  # no channel
        {"owner": {"kind": "boss", "id": "u1"}, "channel": "moments"},
        {"owner": {"kind": "koc", "id": ""}, "channel": "moments"},
        {"owner": "u1", "channel": "moments"},
        {"owner": {"kind": "koc", "id": "u1"}, "channel": "Moments"},
        {"owner": {"kind": "koc", "id": "u1"}, "channel": "moments", "label": "x" * 101},
        {"owner": {"kind": "koc", "id": "u1"}, "channel": "moments", "extra": 1},
    ],
)
def test_a_bad_share_code_request_is_refused(raw: dict) -> None:
    with pytest.raises(rules.ShareCodeError) as info:
        rules.build_code(raw, room_id="r1", code="ABCD2345", now=T0)
    assert info.value.code == "bad_share_code"


def test_holds_and_payments_fold_by_product_and_source() -> None:
    hold = {"type": "hold_created", "ts": T0, "sku": "tea", "qty": 2, "price_fen": 500}
    hold |= {"src": "offline_store", "ref": "ABCD2345"}
    paid = {**hold, "type": "hold_paid", "ts": T0 + 1}
    expired = {**hold, "type": "hold_expired", "src": "moments", "ref": ""}
    f = fold_all([hold, paid, expired], B)
    assert f.count("holds") == 1 and f.count("paid") == 1 and f.count("paid_fen") == 1000
    assert f.count("p|tea|paid_units") == 2 and f.count("p|tea|expired") == 1
    assert f.count("s|ABCD2345|paid_fen") == 1000 and f.count("s|ABCD2345|holds") == 1
    assert f.count(f"{T0}|paid_fen", SERIES) == 1000


def test_coupons_fold_by_the_source_of_the_viewer_who_claimed() -> None:
    issued = {"type": "coupon_issued", "ts": T0, "drop_id": "d1", "coupon_id": "c1"}
    issued |= {"uid": "amy", "src": "wecom_group", "ref": "ABCD2345"}
    other = {**issued, "coupon_id": "c2", "uid": "bob", "src": "moments", "ref": ""}
    redeemed = {**issued, "type": "coupon_redeemed", "ts": T0 + 5, "order_id": "o1"}
    f = fold_all([issued, other, redeemed], B)
    assert (f.count("coupons_issued"), f.count("coupons_redeemed")) == (2, 1)
    assert f.count("s|ABCD2345|coupons_issued") == 1 and f.count("s|ABCD2345|coupons_redeemed") == 1
    assert f.count("s|moments|coupons_issued") == 1 and f.count("s|moments|coupons_redeemed") == 0
    expired = {**issued, "type": "coupon_expired"}
    assert not fold_all([expired], B).counts  # an unused coupon running out changes no figure


def test_joins_count_viewers_once_at_their_first_touch() -> None:
    join = {"type": "viewer_joined", "ts": T0 + 5, "uid": "u1", "src": "moments", "ref": ""}
    f = fold_all([{**join, "first": 1}, {**join, "first": 0, "ts": T0 + 7}], B)
    assert (f.count("joins"), f.count("unique")) == (2, 1)
    assert (f.count("s|moments|joins"), f.count("s|moments|viewers")) == (2, 1)
    assert (f.mark("start"), f.mark("last")) == (T0 + 5, T0 + 7)


def test_a_draw_result_recorded_twice_counts_once() -> None:
    closed = {"type": "draw_closed", "ts": T0, "draw_id": "d1", "entrants_count": 3}
    closed["winners"] = [{"uid": "u1", "nick": "A"}]
    entry = {"type": "draw_entered", "ts": T0, "draw_id": "d1", "uid": "u1", "src": "direct"}
    f = fold_all([entry, entry, closed, closed], B)
    assert f.count("draw_entries") == 2 and f.count("d|d1|entries") == 2
    assert (f.mark("d|d1|entrants"), f.mark("d|d1|winners")) == (3, 1)


def test_an_activity_record_folds_what_it_aggregates() -> None:
    a = Activity()
    a.comment("ABCD2345")
    a.comment("direct")
    a.likes("direct", 30)
    a.click("ABCD2345", "tea")
    a.anonymous_join("moments")
    a.watch("moments", 4000)
    rec = a.record(t0=T0, t1=T0 + B + 5, viewers=12, node="n1")
    f = Figures()
    f.apply(fold({"type": "activity", **rec}, B))
    assert f.count("comments") == 2 and f.count("likes") == 30 and f.count("clicks") == 1
    assert f.count("p|tea|clicks") == 1 and f.count("s|ABCD2345|clicks") == 1
    assert f.count("unique") == 1 and f.count("s|moments|viewers") == 1
    assert f.count("watch_ms") == 4000 and f.count("s|moments|watch_ms") == 4000
    assert (f.mark("peak"), f.mark("start"), f.mark("last")) == (12, T0, T0 + B + 5)
    assert f.mark(f"{T0 + B}|viewers", SERIES) == 12
    assert f.count(f"{T0 + B}|comments", SERIES) == 2
    assert not fold({"type": "activity", "ts": T0, "viewers": -1}, B).highs.get((FIG, "peak"))


def test_folding_in_parts_is_folding_at_once() -> None:
    """What lets a process fold as events come, and a rebuild fold the stream at once."""
    events = [
        {"type": "viewer_joined", "ts": T0 + i, "uid": f"u{i % 3}", "first": int(i < 3)}
        for i in range(6)
    ]
    events.append({"type": "activity", "ts": T0 + 99, "t0": T0, "viewers": 4, "sources": {}})
    whole = fold_all(events, B)
    parts = Delta()
    for event in events:
        parts.merge(fold(event, B))
    stepwise = Figures()
    stepwise.apply(parts)
    assert stepwise == whole
