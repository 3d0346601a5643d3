"""The panel on one server process, the watch page on another, both on one Redis.

Hosts and viewers land on different processes behind a load balancer; the pages must
not care which one they reached.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.pages import Pages
from tests.support.server import LiveServer, free_port


@pytest.fixture
def two_servers(redis_url: str, key_prefix: str) -> Iterator[tuple[LiveServer, LiveServer]]:
    env = {"LIVEROOM_REDIS_URL": redis_url, "LIVEROOM_KEY_PREFIX": key_prefix}
    with LiveServer(env=env, port=free_port()) as a:
        with LiveServer(env=env, port=free_port()) as b:
            yield a, b


def test_panel_and_viewer_on_different_processes(browser, room, two_servers):
    a, b = two_servers
    on_a, on_b = Pages(browser, a, room), Pages(browser, b, room)
    try:
        panel = on_a.panel()
        watch = on_b.watch(on_b.token("u1", nick="Mia"))
        expect(panel.locator("#viewers")).to_have_text("2")  # presence summed across processes

        watch.fill("#text", "hello from process B")
        watch.click("#send")
        row = panel.locator("#feed li.comment", has_text="hello from process B")
        row.locator("button.delete").click()
        expect(watch.locator("#comments li", has_text="hello from process B")).to_have_count(0)

        panel.fill("#pin-form input", "Serum ¥199")
        panel.click("#pin-form button.primary")
        expect(watch.locator("#pinned")).to_have_text("📌 Serum ¥199")

        tap_5 = "() => { for (let i = 0; i < 5; i++) document.querySelector('#like').click(); }"
        watch.evaluate(tap_5)
        expect(panel.locator("#likes")).to_have_text("5")
    finally:
        on_a.close()
        on_b.close()
    assert not on_a.page_errors + on_b.page_errors
