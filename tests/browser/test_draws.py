"""Lucky draws from the host panel to the viewer page and back, in a real browser."""

from __future__ import annotations

import hashlib

from playwright.sync_api import expect

from tests.browser.pages import LostAnswer


def start_draw(panel, prize, *, winners=1, phrase="", members_only=False):
    form = panel.locator("#draw-form")
    form.locator("input[name=prize]").fill(prize)
    form.locator("input[name=winners]").fill(str(winners))
    if phrase:
        form.locator("select[name=mode]").select_option("phrase")
        form.locator("input[name=phrase]").fill(phrase)
    if members_only:
        form.locator("input[name=members]").check()
    form.locator("button").click()
    row = panel.locator("#draw-list li", has_text=prize)
    expect(row.locator(".state")).to_have_text("open")
    return row


def test_viewer_joins_and_wins_a_draw_the_host_runs(pages):
    panel = pages.panel()
    mia = pages.watch(pages.token("u1", nick="Mia"))
    guest = pages.watch()
    row = start_draw(panel, "Full-size serum")

    card = mia.locator(".draw-card", has_text="Full-size serum")
    expect(card).to_contain_text("0 joined")
    expect(guest.locator(".draw-card button.join")).to_be_disabled()
    card.locator("button.join").click()
    expect(card).to_contain_text("You're in")
    expect(row.locator(".entrants")).to_have_text("1")
    expect(guest.locator(".draw-card .entrants")).to_have_text("1")

    row.locator("button.close-draw").click()
    expect(row.locator(".state")).to_have_text("closed")
    expect(row.locator(".winners")).to_have_text("🎉 Winners: Mia (u1)")
    expect(card.locator(".result")).to_have_text("🎉 You won!")
    expect(card.locator("button.claim")).to_be_visible()  # the private claim ticket arrived
    expect(guest.locator(".draw-card .result")).to_have_text("Winners: Mia")
    expect(guest.locator(".draw-card button.claim")).to_have_count(0)

    # the panel's verify link serves the revealed seed that matches the commitment
    href = row.locator("a", has_text="verify").get_attribute("href")
    record = panel.evaluate("(href) => fetch(href).then((r) => r.json())", href)
    assert record["winners"] == [{"uid": "u1", "nick": "Mia"}]
    assert hashlib.sha256(record["seed"].encode()).hexdigest() == record["commitment"]


def test_phrase_draw_entered_by_commenting_and_members_only_refusal(pages):
    panel = pages.panel()
    vip = pages.watch(pages.token("u1", nick="Mia", tier="vip"))
    newcomer = pages.watch(pages.token("u2", nick="Leo"))
    start_draw(panel, "Lipstick set", phrase="I love winter", members_only=True)

    card = vip.locator(".draw-card", has_text="Lipstick set")
    expect(card).to_contain_text("Comment “I love winter” to join")
    vip.fill("#text", "I love winter")
    vip.click("#send")
    expect(card).to_contain_text("You're in")
    expect(panel.locator("#draw-list .entrants")).to_have_text("1")

    newcomer.fill("#text", "I love winter")
    newcomer.click("#send")
    expect(newcomer.locator("#toast")).to_have_text("This draw is for members only")
    expect(newcomer.locator(".draw-card")).not_to_contain_text("You're in")


def test_cancelled_draw_has_no_winners(pages):
    panel = pages.panel()
    mia = pages.watch(pages.token("u1", nick="Mia"))
    row = start_draw(panel, "Tote bag")
    mia.locator(".draw-card button.join").click()
    expect(row.locator(".entrants")).to_have_text("1")
    row.locator("button.cancel-draw").click()  # the confirm dialog is accepted
    expect(row.locator(".state")).to_have_text("cancelled")
    expect(mia.locator(".draw-card .result")).to_have_text("This draw was cancelled.")
    expect(mia.locator(".draw-card button.claim")).to_have_count(0)


def test_viewer_joining_late_sees_the_open_draw(pages):
    panel = pages.panel()
    start_draw(panel, "Sample kit", winners=3)
    late = pages.watch(pages.token("u3", nick="Zoe"))
    card = late.locator(".draw-card", has_text="Sample kit")
    expect(card).to_contain_text("3 winners")
    card.locator("button.join").click()
    expect(card).to_contain_text("You're in")


def test_a_start_whose_answer_was_lost_is_sent_again_as_the_same_draw(pages):
    """The connection drops after the server started the draw and before its answer came:
    the host presses Start again, and the panel sends the same start, so one draw runs."""
    lost = LostAnswer("start_draw")
    panel = pages.panel(setup=lost.install)
    form = panel.locator("#draw-form")
    form.locator("input[name=prize]").fill("Tea set")
    form.locator("button").click()
    expect(panel.locator("#log li", has_text="connection closed")).to_be_visible()
    expect(panel.locator("#conn")).to_have_text("connected")
    form.locator("button").click()  # the host tries again
    expect(panel.locator("#log li", has_text="draw_exists")).to_be_visible()
    starts, answers = lost.sent, lost.answers
    assert len(starts) == 2 and starts[0]["draw_id"] == starts[1]["draw_id"]
    assert answers[0]["t"] == "ack" and answers[0]["draw_id"] == starts[0]["draw_id"]
    assert (answers[1]["t"], answers[1]["code"]) == ("error", "draw_exists")
    rows = panel.locator("#draw-list li", has_text="Tea set")
    expect(rows).to_have_count(1)
    expect(rows.locator(".state")).to_have_text("open")
    events = pages.merchant("GET", f"/api/rooms/{pages.room}/events")["events"]
    assert [e["type"] for e in events if e["type"].startswith("draw_")] == ["draw_started"]
    # a new start (the form changed) is a new draw
    form.locator("input[name=prize]").fill("Tea cups")
    form.locator("button").click()
    expect(panel.locator("#draw-list li", has_text="Tea cups")).to_have_count(1)
    assert starts[2]["draw_id"] != starts[0]["draw_id"]
