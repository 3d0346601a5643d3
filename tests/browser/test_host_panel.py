"""What a host relies on in the panel, checked in a real browser against a real server."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect
from websockets.exceptions import ConnectionClosed

from liveroom import protocol
from tests.browser.pages import Pages
from tests.support.server import LiveServer, free_port


def test_panel_connects_and_counts_viewers(pages):
    panel = pages.panel()
    expect(panel.locator("#status")).to_have_text("live")
    expect(panel.locator("#viewers")).to_have_text("1")
    watch = pages.watch(pages.token("u1", nick="Mia"))
    expect(panel.locator("#viewers")).to_have_text("2")
    expect(watch.locator("#viewers")).to_have_text("2")
    watch.close()
    expect(panel.locator("#viewers")).to_have_text("1")


def test_viewer_comment_appears_and_host_deletes_it(pages, viewer):
    panel = pages.panel()
    watch = pages.watch(pages.token("u1", nick="Mia", tier="vip"))
    raw = viewer(pages.token("u2", nick="Leo"))

    watch.fill("#text", "Does it come in blue?")
    watch.click("#send")
    raw.send({"t": "comment", "text": "hello from a socket", "id": "c-1", "rid": 1})
    mia = panel.locator("#feed li.comment", has_text="Does it come in blue?")
    expect(mia).to_contain_text("Mia")
    expect(mia.locator(".badge.vip")).to_be_visible()
    expect(panel.locator("#feed li.comment", has_text="hello from a socket")).to_be_visible()
    seen = watch.locator("#comments li", has_text="Does it come in blue?")
    expect(seen).to_have_count(1)  # the author's ack and the room tick show it once

    mia.locator("button.delete").click()
    expect(seen).to_have_count(0)
    expect(mia).to_have_class("comment deleted")
    comment_id = mia.get_attribute("data-id")
    assert raw.event("comment_deleted")["comment_id"] == comment_id
    expect(panel.locator("#log li.ok", has_text="delete comment")).to_be_visible()


def test_host_mutes_author_and_their_next_comment_is_refused(pages, viewer):
    panel = pages.panel()
    token = pages.token("u1", nick="Mia")
    watch = pages.watch(token)
    raw = viewer(token)  # the same user on a second device
    watch.fill("#text", "first!")
    watch.click("#send")
    row = panel.locator("#feed li.comment", has_text="first!")
    panel.fill("#mod-form input[name=seconds]", "120")
    row.locator("button.mute").click()
    expect(panel.locator("#log li.ok", has_text="mute u1")).to_be_visible()
    expect(panel.locator("#feed li.system", has_text="u1: mute until")).to_be_visible()
    expect(watch.locator("#hint")).to_contain_text("You are muted until")

    raw.send({"t": "comment", "text": "let me talk", "rid": 7})
    refused = raw.until(lambda f: f.get("rid") == 7)
    assert refused["t"] == "error"
    assert refused["code"] == "muted"
    assert 0 < refused["retry_after"] <= 120
    watch.fill("#text", "still here?")
    watch.click("#send")
    expect(watch.locator("#toast")).to_contain_text("You are muted")
    expect(panel.locator("#feed li.comment", has_text="still here?")).to_have_count(0)

    panel.fill("#mod-form input[name=uid]", "u1")
    panel.click("#mod-form button[value=unmute]")
    expect(watch.locator("#hint")).to_be_hidden()
    watch.fill("#text", "thanks!")
    watch.click("#send")
    expect(panel.locator("#feed li.comment", has_text="thanks!")).to_be_visible()


def test_host_bans_author_who_is_removed_and_kept_out(pages, viewer):
    panel = pages.panel()
    token = pages.token("troll", nick="Troll")
    watch = pages.watch(token)
    watch.fill("#text", "spam spam spam")
    watch.click("#send")
    row = panel.locator("#feed li.comment", has_text="spam spam spam")
    row.locator("button.ban").click()  # the confirm dialog is accepted
    expect(panel.locator("#log li.ok", has_text="ban troll")).to_be_visible()
    expect(watch.locator("#toast")).to_have_text("You were removed from this room.")
    expect(panel.locator("#viewers")).to_have_text("1")
    with pytest.raises(ConnectionClosed) as closed:  # coming back is refused
        viewer(token)
    assert closed.value.rcvd.code == protocol.CLOSE_BANNED

    panel.fill("#mod-form input[name=uid]", "troll")
    panel.click("#mod-form button[value=unban]")
    expect(panel.locator("#log li.ok", has_text="unban troll")).to_be_visible()
    assert viewer(token).welcome["you"]["uid"] == "troll"


def test_pin_and_unpin_show_on_viewer_page(pages):
    panel = pages.panel()
    watch = pages.watch()  # anonymous viewers see pins too
    expect(watch.locator("#pinned")).to_be_hidden()
    panel.fill("#pin-form input", "Serum 50ml ¥199 – tap the cart")
    panel.click("#pin-form button.primary")
    expect(watch.locator("#pinned")).to_have_text("📌 Serum 50ml ¥199 – tap the cart")
    expect(panel.locator("#pinned")).to_have_text("Serum 50ml ¥199 – tap the cart")
    late = pages.watch()  # joins after the pin: the welcome snapshot carries it
    expect(late.locator("#pinned")).to_contain_text("Serum 50ml")
    panel.click("#unpin")
    expect(watch.locator("#pinned")).to_be_hidden()
    expect(panel.locator("#pinned")).to_have_text("nothing pinned")

    asker = pages.watch(pages.token("u7", nick="Ivy"))
    asker.fill("#text", "Is it OK for oily skin?")
    asker.click("#send")
    question = panel.locator("#feed li.comment", has_text="Is it OK for oily skin?")
    question.locator("button.pin-comment").click()
    expect(watch.locator("#pinned")).to_have_text("📌 Ivy: Is it OK for oily skin?")


def test_title_announce_and_slow_mode_reach_viewers(pages, viewer):
    panel = pages.panel()
    watch = pages.watch(pages.token("u1"))
    panel.fill("#title-form input", "Winter skincare launch")
    panel.click("#title-form button")
    expect(watch.locator("#title")).to_have_text("Winter skincare launch")
    expect(panel.locator("#title")).to_have_text("Winter skincare launch")
    panel.fill("#announce-form input", "Flash sale in 5 minutes")
    panel.click("#announce-form button")
    expect(watch.locator("#comments li.announce")).to_contain_text("Flash sale in 5 minutes")
    panel.fill("#slow-form input", "30")
    panel.click("#slow-form button")
    expect(panel.locator("#slow")).to_have_text("slow mode 30s")
    panel.fill("#keywords-form input", "fake, 假货")
    panel.click("#keywords-form button")
    expect(panel.locator("#feed li.system", has_text="blocks 2 word(s)")).to_be_visible()
    watch.fill("#text", "is this 假货?")
    watch.click("#send")
    expect(watch.locator("#toast")).to_have_text("That comment cannot be posted here")
    raw = viewer(pages.token("u2"))
    raw.send({"t": "comment", "text": "one", "rid": 1})
    assert raw.until(lambda f: f.get("rid") == 1)["t"] == "ack"
    raw.send({"t": "comment", "text": "two", "rid": 2})
    assert raw.until(lambda f: f.get("rid") == 2)["code"] == "slow_mode"


def test_end_closes_the_room_for_everyone(pages, viewer):
    panel = pages.panel()
    watch = pages.watch(pages.token("u1"))
    panel.click("#end")  # the confirm dialog is accepted
    expect(watch.locator("#ended")).to_be_visible()
    expect(panel.locator("#status")).to_have_text("ended")
    expect(panel.locator("#banner")).to_contain_text("The show has ended")
    late = viewer(pages.token("u2"))
    assert late.welcome["room"]["status"] == "ended"
    with pytest.raises(ConnectionClosed) as closed:  # right after the welcome
        late.until(lambda f: False)
    assert closed.value.rcvd.code == protocol.CLOSE_ROOM_ENDED


def test_errors_are_shown_to_the_host(pages):
    panel = pages.panel(pages.token("u9"))  # a viewer token opened in the panel
    expect(panel.locator("#banner")).to_contain_text("not a host token")
    panel.fill("#announce-form input", "hi")
    panel.click("#announce-form button")
    expect(panel.locator("#log li.err")).to_contain_text("needs a host token (forbidden)")


def test_panel_reconnects_with_since_and_replays_what_it_missed(pages, viewer):
    panel = pages.panel()
    sockets: list[str] = []
    panel.on("websocket", lambda ws: sockets.append(ws.url))
    raw = viewer(pages.token("u1", nick="Mia"))
    raw.send({"t": "comment", "text": "before the drop", "rid": 1})
    expect(panel.locator("#feed li.comment", has_text="before the drop")).to_be_visible()
    seq = panel.evaluate("window.liveroom.seq")

    # Drop the socket and hold the automatic reconnect until the room has moved on.
    panel.evaluate(
        """() => {
        const c = window.liveroom;
        window.resume = c.connect.bind(c);
        c.connect = () => { c.connect = window.resume; };
        c.ws.close(4000, "test drop");
    }"""
    )
    expect(panel.locator("#conn")).to_have_text("reconnecting…")
    for i in range(3):
        raw.send({"t": "comment", "text": f"missed {i}", "rid": 10 + i})
        assert raw.until(lambda f, i=i: f.get("rid") == 10 + i)["t"] == "ack"
    panel.evaluate("window.resume()")

    expect(panel.locator("#conn")).to_have_text("connected")
    assert sockets and sockets[-1].endswith(f"since={seq}")
    expect(panel.locator("#log li.ok", has_text="3 missed events replayed")).to_be_visible()
    for i in range(3):
        expect(panel.locator("#feed li.comment", has_text=f"missed {i}")).to_have_count(1)
    expect(panel.locator("#feed li.comment", has_text="before the drop")).to_have_count(1)


def test_panel_survives_a_server_restart(browser, room):
    """The memory engine forgets everything on restart: the panel must notice and start afresh."""
    port = free_port()
    first = LiveServer(port=port).start()
    pages = Pages(browser, first, room)
    try:
        panel = pages.panel()
        panel.fill("#announce-form input", "before the restart")
        panel.click("#announce-form button")
        expect(panel.locator("#feed li.system", has_text="before the restart")).to_be_visible()
        first.stop()
        expect(panel.locator("#conn")).to_have_text("reconnecting…")
        with LiveServer(port=port):
            expect(panel.locator("#conn")).to_have_text("connected", timeout=20_000)
            expect(panel.locator("#log li.ok", has_text="fresh snapshot")).to_be_visible()
            expect(panel.locator("#feed li", has_text="before the restart")).to_have_count(0)
            panel.fill("#announce-form input", "after the restart")
            panel.click("#announce-form button")
            expect(panel.locator("#feed li.system", has_text="after the restart")).to_be_visible()
    finally:
        first.stop()
        pages.close()
    assert not pages.page_errors


@pytest.mark.parametrize("code", [4008, 1012], ids=["slow_consumer", "service_restart"])
def test_a_resume_close_resumes_from_the_since_in_its_reason(pages, viewer, code):
    """Codes 4008 (slow consumer) and 1012 (the server restarts) carry where to resume;
    the panel must reconnect from exactly there."""
    routes = []

    def pass_through(ws):
        ws.connect_to_server()
        routes.append(ws)

    panel = pages.panel(setup=lambda page: page.route_web_socket("**/ws/rooms/**", pass_through))
    sockets: list[str] = []
    panel.on("websocket", lambda ws: sockets.append(ws.url))
    raw = viewer(pages.token("u1", nick="Mia"))
    for i in range(3):
        raw.send({"t": "comment", "text": f"line {i}", "rid": i})
        raw.until(lambda f, i=i: f.get("rid") == i)
    expect(panel.locator("#feed li.comment")).to_have_count(3)
    seq = panel.evaluate("window.liveroom.seq")

    # as the hub does to a client that fell behind, or a draining server: it last got seq - 2
    routes[0].close(code=code, reason=json.dumps({"reconnect": True, "since": seq - 2}))
    expect(panel.locator("#log li.ok", has_text="2 missed events replayed")).to_be_visible()
    assert sockets[-1].endswith(f"since={seq - 2}")
    expect(panel.locator("#conn")).to_have_text("connected")
    expect(panel.locator("#feed li.comment")).to_have_count(3)  # replayed, not duplicated
