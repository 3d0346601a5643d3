"""The demo viewer page, as a viewer uses it on a phone."""

from __future__ import annotations

from playwright.sync_api import expect

from liveroom import tokens


def test_like_taps_are_batched_and_counted_exactly(pages):
    panel = pages.panel()
    watch = pages.watch(pages.token("u1"))
    # record what the page sends on its socket
    watch.evaluate(
        """() => {
        const c = window.liveroom, send = c.ws.send.bind(c.ws);
        window.sent = [];
        c.ws.send = (data) => { window.sent.push(JSON.parse(data)); send(data); };
    }"""
    )
    # 20 taps inside one task: the page must send one batch, not 20 frames
    watch.evaluate(
        "() => { for (let i = 0; i < 20; i++) document.querySelector('#like').click(); }"
    )
    expect(panel.locator("#likes")).to_have_text("20")
    sent = watch.evaluate("window.sent")
    assert [f for f in sent if f["t"] == "like"] == [{"t": "like", "n": 20}]
    watch.click("#like")
    watch.click("#like")
    expect(panel.locator("#likes")).to_have_text("22")
    expect(watch.locator("#likes")).to_have_text("22")
    likes = [f["n"] for f in watch.evaluate("window.sent") if f["t"] == "like"]
    assert sum(likes) == 22


def test_anonymous_viewer_watches_only(pages):
    panel = pages.panel()
    watch = pages.watch()
    expect(watch.locator("#hint")).to_contain_text("watching as a guest")
    expect(watch.locator("#text")).to_be_disabled()
    expect(watch.locator("#like")).to_be_disabled()
    panel.fill("#announce-form input", "welcome, guests")
    panel.click("#announce-form button")
    expect(watch.locator("#comments li.announce")).to_contain_text("welcome, guests")


def test_late_viewer_sees_recent_comments_but_not_deleted_ones(pages, viewer):
    panel = pages.panel()
    raw = viewer(pages.token("u1", nick="Mia"))
    for i, text in enumerate(["keep me", "delete me"]):
        raw.send({"t": "comment", "text": text, "rid": i})
        raw.until(lambda f, i=i: f.get("rid") == i)
    panel.locator("#feed li.comment", has_text="delete me").locator("button.delete").click()
    expect(panel.locator("#feed li.deleted", has_text="delete me")).to_be_visible()
    watch = pages.watch()
    expect(watch.locator("#comments li", has_text="keep me")).to_be_visible()
    expect(watch.locator("#comments li", has_text="delete me")).to_have_count(0)


def test_expired_token_says_why_and_does_not_retry(pages):
    sockets: list[str] = []
    expired = tokens.mint_for(pages.server.secret, "u1", room=pages.room, ttl_s=-60)

    def count_sockets(page):
        page.on("websocket", lambda ws: sockets.append(ws.url))

    page = pages.watch(expired, wait=False, setup=count_sockets)
    expect(page.locator("#toast")).to_have_text(
        "token has expired; ask the backend for a new one. Reload the page to rejoin."
    )
    page.wait_for_timeout(1500)  # longer than the first reconnect delay
    assert len(sockets) == 1  # 4002 is final: no reconnect loop hammering the server
