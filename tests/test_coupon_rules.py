"""Coupon rules, without a server: templates' terms, drops, validity, what a coupon takes
off an order, and what a redemption may do."""

from __future__ import annotations

from typing import Any

import pytest

from liveroom.rules import coupon as rules
from liveroom.rules.sale import COUPON, EXPIRED, ISSUED, REDEEMED, Hold

T0 = 1_800_000_000_000
DAY = rules.DAY_MS
BASE = {"title": "10 off", "kind": "amount_off", "amount_fen": 1000, "valid_days": 7, "total": 100}


def build(**raw: Any) -> rules.Template:
    terms = {k: v for k, v in {**BASE, **raw}.items() if v is not None}
    return rules.build_template(terms, "t1", T0)


def refused_term(**raw: Any) -> str:
    with pytest.raises(rules.CouponError) as info:
        build(**raw)
    assert info.value.code == "bad_coupon"
    return info.value.extra.get("term", "")


def test_each_kind_takes_its_own_terms() -> None:
    assert build().terms() == {
        "title": "10 off",
        "kind": "amount_off",
        "amount_fen": 1000,
        "min_spend_fen": 0,
        "skus": [],
        "valid_days": 7,
    }
    pct = build(kind="percent_off", amount_fen=None, percent=15, max_off_fen=3000)
    assert (pct.percent, pct.max_off_fen) == (15, 3000)
    mj = build(kind="threshold", spend_fen=10000, amount_fen=2000)
    assert (mj.spend_fen, mj.amount_fen) == (10000, 2000)
    gift = build(kind="gift", amount_fen=None, spend_fen=0, gift_sku="cup-2")
    assert gift.terms()["gift_sku"] == "cup-2" and "amount_fen" not in gift.terms()
    window = build(valid_days=None, valid_from=T0, valid_until=T0 + DAY)
    assert window.terms()["valid_until"] == T0 + DAY and "valid_days" not in window.terms()


@pytest.mark.parametrize(
    ("raw", "term"),
    [
        ({"title": ""}, "title"),
        ({"title": "x" * 61}, "title"),
        ({"kind": "bogo"}, "kind"),
        ({"amount_fen": 0}, "amount_fen"),
        ({"amount_fen": True}, "amount_fen"),
        ({"percent": 10}, "percent"),  # not a term of amount_off
        ({"kind": "percent_off", "amount_fen": None, "percent": 100}, "percent"),
        ({"kind": "threshold", "spend_fen": 1000, "amount_fen": 2000}, "amount_fen"),
        ({"kind": "gift", "amount_fen": None, "spend_fen": 100, "gift_sku": "a b"}, "gift_sku"),
        ({"valid_days": None}, "valid_until"),
        ({"valid_until": T0 + DAY}, "valid_until"),  # both validity styles
        ({"valid_days": None, "valid_until": T0 - 1}, "valid_until"),
        ({"valid_days": 0}, "valid_days"),
        ({"skus": ["ok", ""]}, "skus"),
        ({"total": 0}, "total"),
        ({"total": None}, "total"),
        ({"limit_per_user": 0}, "limit_per_user"),
        ({"member_tiers": "vip"}, "member_tiers"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_terms_are_refused_naming_the_term(raw: dict[str, Any], term: str) -> None:
    assert refused_term(**raw) == term


def test_template_ids_are_safe_ids() -> None:
    with pytest.raises(rules.CouponError):
        rules.build_template(BASE, "a/b", T0)
    with pytest.raises(rules.CouponError):
        rules.build_template({**BASE, "template_id": "other"}, "t1", T0)
    t = build(skus=["a", "a", "b"])
    assert t.skus == ("a", "b")
    assert rules.template_from_json(rules.template_json(t)) == t


def test_validity_from_the_claim_or_the_window() -> None:
    assert rules.validity({"valid_days": 3}, T0) == (T0, T0 + 3 * DAY)
    assert rules.validity({"valid_from": 5, "valid_until": 9}, T0) == (5, 9)


def test_what_a_coupon_takes_off() -> None:
    amount = build(min_spend_fen=5000).terms()
    assert rules.discount_fen(amount, 6000) == 1000
    with pytest.raises(rules.CouponError) as info:
        rules.discount_fen(amount, 4999)
    assert info.value.code == "coupon_not_applicable"
    assert rules.discount_fen(build().terms(), 300) == 300  # never more than the order
    pct = build(kind="percent_off", amount_fen=None, percent=20, max_off_fen=1500).terms()
    assert rules.discount_fen(pct, 5000) == 1000 and rules.discount_fen(pct, 50_000) == 1500
    mj = build(kind="threshold", spend_fen=10_000, amount_fen=2000).terms()
    assert rules.discount_fen(mj, 10_000) == 2000
    with pytest.raises(rules.CouponError):
        rules.discount_fen(mj, 9_999)
    gift = build(kind="gift", amount_fen=None, spend_fen=100, gift_sku="cup").terms()
    assert rules.discount_fen(gift, 100) == 0
    only_tea = build(skus=["tea-01"]).terms()
    assert rules.discount_fen(only_tea, 2000, ["tea-01", "cup"]) == 1000
    with pytest.raises(rules.CouponError):
        rules.discount_fen(only_tea, 2000, ["cup"])


def coupon(status: str = ISSUED, order_id: str = "") -> Hold:
    return Hold(
        "c_1", "r1", "d1", "u1", 1, 0, "", T0, T0 + 1000,
        status=status, order_id=order_id, kind=COUPON, valid_from=T0 + 100,
    )  # fmt: skip


def test_redeem_decisions() -> None:
    assert rules.redeem_decision(coupon(), "o1", T0 + 100) == "redeem"
    assert rules.redeem_decision(coupon(), "o1", T0 + 99) == "coupon_not_valid_yet"
    assert rules.redeem_decision(coupon(), "o1", T0 + 1000) == "coupon_expired"
    assert rules.redeem_decision(coupon(EXPIRED), "o1", T0 + 200) == "coupon_expired"
    assert rules.redeem_decision(coupon(REDEEMED, "o1"), "o1", T0 + 5000) == "duplicate"
    assert rules.redeem_decision(coupon(REDEEMED, "o1"), "o2", T0 + 200) == "coupon_redeemed"


def test_a_coupon_past_its_validity_reads_expired_before_the_sweep_marks_it() -> None:
    """What the owner and the merchant see agrees with what redeeming would say: expired
    from valid_until on, not once the sweep gets to it; redeemed stays redeemed."""
    assert rules.status_at(coupon(), T0 + 999) == ISSUED
    assert rules.status_at(coupon(), T0 + 1000) == EXPIRED
    assert rules.status_at(coupon(REDEEMED, "o1"), T0 + 5000) == REDEEMED
    assert rules.status_at(coupon(EXPIRED), T0 + 200) == EXPIRED


def test_a_drop_is_a_coupon_sale_with_the_templates_terms() -> None:
    t = build(limit_per_user=2, member_tiers=["vip"])
    raw = {"count": 100, "duration_s": 300, "phrase": " 抢 券 ", "early_access_s": 10}
    cfg = rules.build_drop({**raw, "starts_in_s": 20}, t, drop_id="d1", room_id="r1", now=T0)
    assert (cfg.kind, cfg.stock, cfg.limit_per_user, cfg.allowed_tiers) == (
        "coupon",
        100,
        2,
        ("vip",),
    )
    assert (cfg.starts_at, cfg.ends_at, cfg.early_access_s) == (T0 + 20_000, T0 + 320_000, 10)
    assert cfg.phrase == "抢 券" and cfg.template_id == "t1" and cfg.title == "10 off"
    assert rules.terms_of(cfg) == t.terms()


@pytest.mark.parametrize(
    "raw",
    [
        {},
        {"count": 0},
        {"count": 1_000_001},
        {"count": 5, "duration_s": 0},
        {"count": 5, "phrase": "   "},
        {"count": 5, "early_access_s": 10, "member_tiers": []},
        {"count": 5, "price_fen": 1},
    ],
)
def test_bad_drops_are_refused(raw: dict[str, Any]) -> None:
    with pytest.raises(rules.CouponError) as info:
        rules.build_drop(raw, build(), drop_id="d1", room_id="r1", now=T0)
    assert info.value.code == "bad_drop"


def test_a_drop_may_not_outlive_its_coupons_validity() -> None:
    t = build(valid_days=None, valid_until=T0 + 60_000)
    with pytest.raises(rules.CouponError):
        rules.build_drop({"count": 1, "duration_s": 120}, t, drop_id="d", room_id="r", now=T0)
    assert rules.build_drop({"count": 1, "duration_s": 30}, t, drop_id="d", room_id="r", now=T0)
