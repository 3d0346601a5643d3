"""A claim tapped while Redis is down: the viewer page keeps resending the same request id
until the store answers, and gets exactly one coupon. A real browser, a real server on a
Redis of the test's own (stopped and started again with its data)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.pages import Pages
from tests.support.redis_process import RedisProcess
from tests.support.server import LiveServer

TEMPLATE = {"title": "¥30 off tea", "kind": "amount_off", "amount_fen": 3000, "valid_days": 7}


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    server = RedisProcess(data_dir=tmp_path).start()  # append-only: a restart keeps the drop
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def redis_pages(browser: Any, own_redis: RedisProcess) -> Iterator[Pages]:
    env = {"LIVEROOM_REDIS_URL": own_redis.url, "LIVEROOM_KEY_PREFIX": "lrpagesfault"}
    with LiveServer(env=env) as srv:
        p = Pages(browser, srv, f"br-{uuid.uuid4().hex[:8]}")
        yield p
        p.close()
        assert not p.page_errors, f"JavaScript errors in the pages: {p.page_errors}"


def wait_for(page: Any, pred: Any, timeout: float = 20) -> None:
    """Until pred(): the page's waits (not time.sleep) let Playwright deliver its events."""
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        page.wait_for_timeout(100)


def test_a_claim_during_a_redis_outage_is_resent_with_its_request_id(
    redis_pages: Pages, own_redis: RedisProcess
):
    pages = redis_pages
    pages.merchant("PUT", "/api/coupons/tea-30", {**TEMPLATE, "total": 100, "limit_per_user": 2})
    claims: list[dict[str, Any]] = []

    def record_claims(page: Any) -> None:
        def sent(payload: str | bytes) -> None:
            frame = json.loads(payload)
            if frame.get("t") == "claim":
                claims.append(frame)

        page.on("websocket", lambda ws: ws.on("framesent", sent))

    panel = pages.panel()
    mia = pages.watch(pages.token("u1", nick="Mia"), setup=record_claims)
    form = panel.locator("#drop-form")
    form.locator("input[name=template]").fill("tea-30")
    form.locator("input[name=count]").fill("3")
    form.locator("button").click()
    card = mia.locator(".drop-card")
    expect(card.locator(".left")).to_have_text("3 of 3 left")

    own_redis.stop()
    card.locator("button.claim").click()
    expect(card.locator("button.claim")).to_have_text("Claiming…")
    wait_for(mia, lambda: len(claims) >= 2)  # refused `unavailable`, sent again
    own_redis.start()
    expect(card.locator("button.claim")).to_have_text("Claim", timeout=30_000)
    expect(mia.locator("#wallet")).to_have_text("🎟 1")
    assert {c["request_id"] for c in claims} == {claims[0]["request_id"]}
    assert len(claims) >= 2
    # one tap, one coupon, and the count says so on both pages: a count published while
    # the process was still resubscribing to Redis is published again once it is back
    expect(card.locator(".left")).to_have_text("2 of 3 left")
    expect(panel.locator("#drop-list .remaining")).to_have_text("2")
    # the per-user limit of 2 leaves room for a second tap: one more taken
    card.locator("button.claim").click()
    expect(mia.locator("#wallet")).to_have_text("🎟 2")
    assert len({c["request_id"] for c in claims}) == 2  # a new tap, a new request id
    expect(card.locator(".left")).to_have_text("1 of 3 left")
    expect(panel.locator("#drop-list .remaining")).to_have_text("1")
