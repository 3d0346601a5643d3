"""Merchant webhooks' settings, checked before `liveroom serve` starts: pure rules."""

from __future__ import annotations

import pytest

from liveroom.rules.webhooks import types_problem, url_problem, wanted_types


@pytest.mark.parametrize(
    "url",
    ["https://shop.example.com/hooks", "http://10.0.0.5:8080/liveroom?shop=tea", "http://h"],
)
def test_an_http_url_with_a_host_will_do(url: str) -> None:
    assert url_problem(url) is None


@pytest.mark.parametrize(
    "url", ["ftp://shop.example.com/hooks", "shop.example.com/hooks", "http://", "https:///x"]
)
def test_anything_else_is_refused(url: str) -> None:
    assert url_problem(url) == "LIVEROOM_WEBHOOK_URL must be an http(s) URL with a host"


def test_the_types_are_a_comma_list_of_event_types_empty_for_all() -> None:
    assert wanted_types("") == frozenset()
    assert wanted_types(" hold_paid, coupon_redeemed ,,") == {"hold_paid", "coupon_redeemed"}
    assert types_problem("") is None and types_problem("hold_paid,draw_closed") is None
    assert types_problem("hold_paid,order_paid,Hold_paid") == (
        "LIVEROOM_WEBHOOK_TYPES: unknown event types ['Hold_paid', 'order_paid']"
    )
