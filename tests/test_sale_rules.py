"""Flash-sale rules: sale terms, the grab decision, checkout decisions, invariants."""

from __future__ import annotations

from dataclasses import replace

import pytest

from liveroom.rules import sale as rules
from liveroom.rules.sale import Hold, Product, Refusal, Sale

NOW = 1_800_000_000_000
P = Product(sku="tea", title="Tea", price_fen=1000)


def cfg(**raw: object) -> rules.SaleConfig:
    return rules.build_sale({"stock": 5, **raw}, P, sale_id="s", room_id="r", now=NOW)


def decide(c: rules.SaleConfig, **kw: object) -> Refusal | None:
    args = {"ended_at": 0, "available": 5, "taken": 0, "tier": "", "qty": 1, "now": NOW, **kw}
    return rules.grab_refusal(c, **args)  # type: ignore[arg-type]


def test_sale_defaults_start_now_with_product_price() -> None:
    c = cfg()
    assert (c.starts_at, c.ends_at, c.price_fen, c.limit_per_user, c.hold_s) == (
        NOW,
        0,
        1000,
        1,
        300,
    )


def test_sale_schedule_and_duration() -> None:
    c = cfg(starts_in_s=60, duration_s=30, price_fen=500)
    assert (c.starts_at, c.ends_at, c.price_fen) == (NOW + 60_000, NOW + 90_000, 500)


@pytest.mark.parametrize(
    "raw",
    [
        {"stock": 0},
        {"stock": "10"},
        {"stock": True},
        {"limit_per_user": 0},
        {"price_fen": -1},
        {"hold_s": 0},
        {"starts_at": NOW, "starts_in_s": 0},
        {"ends_at": NOW - 1},
        {"duration_s": 10, "ends_at": NOW + 5},
        {"member_tiers": "vip"},
        {"member_tiers": [], "early_access_s": 10},
    ],
)
def test_bad_sale_terms_refused(raw: dict) -> None:
    with pytest.raises(rules.SaleError) as info:
        cfg(**raw)
    assert info.value.code == "bad_sale"


def test_product_validation() -> None:
    ok = rules.build_product({"sku": "a-1.b_2", "title": "T", "price_fen": 1, "appid": "wx1"})
    assert ok.appid == "wx1"
    for raw in (
        {"sku": "", "title": "T", "price_fen": 1},
        {"sku": "a b", "title": "T", "price_fen": 1},
        {"sku": "a", "title": "", "price_fen": 1},
        {"sku": "a", "title": "T", "price_fen": 1.5},
        {"sku": "a", "title": "T", "price_fen": 1, "page": 5},
    ):
        with pytest.raises(rules.SaleError):
            rules.build_product(raw)


def test_grab_ok_when_open_with_stock_and_limit() -> None:
    assert decide(cfg()) is None


def test_grab_refusals_in_order() -> None:
    c = cfg(starts_in_s=100, early_access_s=50, limit_per_user=2, duration_s=100)
    assert decide(c) == Refusal(rules.NOT_STARTED, starts_at=c.starts_at)
    window = c.starts_at - 50_000
    assert decide(c, now=window) == Refusal(rules.MEMBERS_ONLY, starts_at=c.starts_at)
    assert decide(c, now=window, tier="member") is None
    assert decide(c, now=window - 1, tier="member").code == rules.NOT_STARTED  # type: ignore[union-attr]
    opened = c.starts_at
    assert decide(c, now=opened, taken=2) == Refusal(rules.OVER_LIMIT, limit_left=0)
    assert decide(c, now=opened, taken=1, qty=2) == Refusal(rules.OVER_LIMIT, limit_left=1)
    # over the limit is said before sold out: it is the more precise answer for that user
    assert decide(c, now=opened, taken=2, available=0).code == rules.OVER_LIMIT  # type: ignore[union-attr]
    assert decide(c, now=opened, available=0) == Refusal(rules.SOLD_OUT, available=0)
    assert decide(c, now=opened, qty=2, available=1) == Refusal(rules.SOLD_OUT, available=1)
    assert decide(c, now=c.ends_at) == Refusal(rules.ENDED)
    assert decide(c, now=opened, ended_at=opened) == Refusal(rules.ENDED)


def test_refusal_public_form() -> None:
    out = Refusal(rules.SOLD_OUT, available=0).public()
    assert out == {"code": "sold_out", "message": "sold out", "available": 0}


def _hold(**kw: object) -> Hold:
    base = Hold("h", "r", "s", "u", 1, 100, "tea", NOW, NOW + 1000)
    return replace(base, **kw)  # type: ignore[arg-type]


def test_confirm_decisions() -> None:
    assert rules.confirm_decision(_hold(), "o1", NOW) == "pay"
    assert rules.confirm_decision(_hold(), "o1", NOW + 1000) == rules.HOLD_EXPIRED
    paid = _hold(status=rules.PAID, order_id="o1")
    assert rules.confirm_decision(paid, "o1", NOW + 5000) == "duplicate"
    assert rules.confirm_decision(paid, "o2", NOW) == rules.ALREADY_PAID
    assert rules.confirm_decision(_hold(status=rules.CANCELLED), "o", NOW) == rules.HOLD_CANCELLED
    assert rules.confirm_decision(_hold(status=rules.EXPIRED), "o", NOW) == rules.HOLD_EXPIRED


def test_cancel_decisions() -> None:
    assert rules.cancel_decision(_hold(), NOW) == "cancel"
    assert rules.cancel_decision(_hold(), NOW + 1000) == rules.HOLD_EXPIRED
    assert rules.cancel_decision(_hold(status=rules.CANCELLED), NOW) == "duplicate"
    assert rules.cancel_decision(_hold(status=rules.PAID), NOW) == rules.ALREADY_PAID


def test_due_only_when_held_and_past_expiry() -> None:
    assert not rules.is_due(_hold(), NOW + 999)
    assert rules.is_due(_hold(), NOW + 1000)
    assert not rules.is_due(_hold(status=rules.PAID), NOW + 5000)


def test_sale_transitions_and_timer() -> None:
    c = cfg(starts_in_s=10, duration_s=10)
    assert rules.sale_transitions(c, started=False, ended_at=0, now=NOW) == []
    assert rules.next_timer(c, started=False, ended_at=0) == c.starts_at
    assert rules.sale_transitions(c, started=False, ended_at=0, now=c.ends_at) == [
        "started",
        "ended",
    ]
    assert rules.next_timer(c, started=True, ended_at=0) == c.ends_at
    assert rules.next_timer(c, started=True, ended_at=c.ends_at) == 0


def test_invariant_violations_found() -> None:
    c = cfg(limit_per_user=2)
    good = Sale(c, available=3, held=1, sold=1)
    holds = [_hold(uid="a"), _hold(uid="b", status=rules.PAID, hold_id="h2")]
    assert rules.invariant_violations(good, {"a": 1, "b": 1}, holds) == []
    bad = Sale(c, available=4, held=1, sold=1)
    assert any("stock" in v for v in rules.invariant_violations(bad, {"a": 1, "b": 1}))
    assert any("limit" in v for v in rules.invariant_violations(good, {"a": 3, "b": -1}))
    wrong_holds = [_hold(uid="a")]
    assert rules.invariant_violations(good, {"a": 1, "b": 1}, wrong_holds)


def test_a_sale_is_open_to_the_room_until_it_ends_unless_hidden() -> None:
    """What a create sent again tells the room of again: shown, and not over."""
    scheduled = Sale(cfg(starts_in_s=60, duration_s=30), 5, 0, 0)
    assert rules.open_to_room(scheduled, NOW)
    assert rules.open_to_room(scheduled, NOW + 89_999)
    assert not rules.open_to_room(scheduled, NOW + 90_000)  # its end time passed
    stopped = replace(scheduled, ended_at=NOW + 10)
    assert rules.open_to_room(stopped, NOW + 9) and not rules.open_to_room(stopped, NOW + 10)
    assert not rules.open_to_room(Sale(replace(cfg(), hidden=True), 5, 0, 0), NOW)
