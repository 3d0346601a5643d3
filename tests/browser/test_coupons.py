"""Coupon drops, pass-phrase coupons, order confirmations and social proof, in a real browser.

Set LIVEROOM_SCREENSHOTS=docs/img to refresh the README's screenshots of them from this test.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.pages import Pages, create_product

SHOTS = os.environ.get("LIVEROOM_SCREENSHOTS", "")
TERMS = "¥30 off when you spend ¥200"


@pytest.fixture
def template(pages: Pages) -> str:
    """A 满减 coupon template, defined the way a merchant backend does: a signed PUT."""
    template_id = f"tea-30-{uuid.uuid4().hex[:6]}"
    body = {
        "title": "¥30 off tea",
        "kind": "threshold",
        "spend_fen": 20000,
        "amount_fen": 3000,
        "valid_days": 7,
        "total": 1000,
    }
    pages.merchant("PUT", f"/api/coupons/{template_id}", body)
    return template_id


def drop_coupons(
    panel,
    template: str,
    *,
    count: int,
    phrase: str = "",
    duration: int = 300,
    starts_in: int = 0,
    early: int = 0,
):
    form = panel.locator("#drop-form")
    form.locator("input[name=template]").fill(template)
    form.locator("input[name=count]").fill(str(count))
    form.locator("input[name=duration]").fill(str(duration))
    form.locator("input[name=starts_in]").fill(str(starts_in))
    form.locator("input[name=early]").fill(str(early))
    form.locator("input[name=phrase]").fill(phrase)
    form.locator("button").click()
    rows = panel.locator("#drop-list > li")
    return rows.filter(has_text=f"«{phrase}»") if phrase else rows.filter(has_text="tap Claim")


def open_wallet(page):
    page.locator("#wallet").click()
    sheet = page.locator("#my-coupons")
    expect(sheet).to_be_visible()
    return sheet


def test_viewers_claim_a_drop_by_tap_and_by_pass_phrase(pages: Pages, template: str):
    panel = pages.panel()
    mia = pages.watch(pages.token("u1", nick="Mia"))
    leo = pages.watch(pages.token("u2", nick="Leo"))

    drop = drop_coupons(panel, template, count=3)
    expect(drop.locator(".state")).to_have_text("live")
    expect(drop.locator(".remaining")).to_have_text("3")
    card = mia.locator(".drop-card").first
    expect(card).to_contain_text("¥30 off tea")
    expect(card.locator(".terms")).to_contain_text(TERMS)
    expect(card.locator(".left")).to_have_text("3 of 3 left")
    expect(card.locator(".when")).to_have_text(re.compile(r"^(5:00|4:\d\d) left$"))
    expect(mia.locator("#wallet")).to_be_hidden()  # no coupons yet
    drop.locator("button.show-claims").click()  # the host watches who claims
    expect(drop.locator(".claims-head")).to_have_text("0 claimed")

    card.locator("button.claim").click()
    expect(card.locator("button.claim")).to_have_text("Claimed ✓")
    expect(card.locator("button.claim")).to_be_disabled()
    expect(mia.locator("#wallet")).to_have_text("🎟 1")
    expect(leo.locator(".drop-card .left")).to_have_text("2 of 3 left")  # the room sees it go
    expect(drop.locator(".remaining")).to_have_text("2")
    expect(drop.locator(".claimed")).to_have_text("1")
    expect(drop.locator(".claims-head")).to_have_text("1 claimed")
    expect(drop.locator(".claims li")).to_have_text(re.compile(r"^\d\d:\d\d:\d\d( [AP]M)? u1$"))

    coupon = open_wallet(mia).locator(".coupon-list li")
    expect(coupon).to_have_count(1)
    expect(coupon).to_contain_text("¥30 off tea")
    expect(coupon).to_contain_text(TERMS)
    expect(coupon.locator(".path")).to_contain_text("?ticket=")
    coupon.locator("button.use").click()  # outside WeChat the page says where it goes
    expect(mia.locator("#toast")).to_contain_text("In the mini-program this opens /")

    # a reload brings the coupon back from the welcome
    mia.reload()
    expect(mia.locator("#wallet")).to_have_text("🎟 1")
    expect(mia.locator(".drop-card button.claim")).to_have_text("Claimed ✓")

    # the pass-phrase drop has no button: Leo comments the phrase
    phrase_row = drop_coupons(panel, template, count=2, phrase="好茶 tea")
    expect(phrase_row.locator(".remaining")).to_have_text("2")
    phrase_card = leo.locator(".drop-card", has_text="«好茶 tea»")
    expect(phrase_card.locator(".action")).to_contain_text("Comment «好茶 tea» to get it")
    expect(phrase_card.locator("button.claim")).to_have_count(0)
    phrase_card.locator("button.say-phrase").click()
    expect(leo.locator("#text")).to_have_value("好茶 tea")
    leo.locator("#send").click()
    expect(leo.locator("#comments")).to_contain_text("好茶 tea")
    expect(leo.locator("#wallet")).to_have_text("🎟 1")
    expect(phrase_card.locator(".mine")).to_contain_text("Claimed ✓")
    expect(phrase_card.locator("button.say-phrase")).to_have_count(0)
    expect(phrase_row.locator(".remaining")).to_have_text("1")
    expect(mia.locator(".drop-card", has_text="«好茶 tea»").locator(".left")).to_have_text(
        "1 of 2 left"
    )

    # the host stops the tap drop: nobody can claim what is left
    drop.locator("button.stop-drop").click()
    expect(drop.locator(".state")).to_have_text("ended")
    expect(leo.locator(".drop-card").last.locator("button.claim")).to_have_text("Ended")


def test_members_claim_early_while_others_see_the_countdown(pages: Pages, template: str):
    panel = pages.panel()
    vip = pages.watch(pages.token("u1", nick="Mia", tier="vip"))
    newcomer = pages.watch(pages.token("u2", nick="Leo"))
    drop = drop_coupons(panel, template, count=5, starts_in=600, early=900)
    expect(drop.locator(".state")).to_have_text("scheduled")
    expect(drop.locator(".when")).to_have_text(re.compile(r"starts in (10:00|9:\d\d)"))
    wait = newcomer.locator(".drop-card button.claim")
    expect(wait).to_have_text(re.compile(r"^Starts in (10:00|9:\d\d)$"))
    expect(wait).to_be_disabled()
    expect(newcomer.locator(".drop-card .when")).to_have_text(re.compile(r"^starts in "))
    early = vip.locator(".drop-card button.claim")
    expect(early).to_have_text("Members: claim early")
    expect(vip.locator(".drop-card .when")).to_contain_text("members first")
    early.click()
    expect(early).to_have_text("Claimed ✓")
    expect(drop.locator(".remaining")).to_have_text("4")
    expect(newcomer.locator(".drop-card .left")).to_have_text("4 of 5 left")


def test_a_refused_claim_is_said_in_words(pages: Pages, template: str, viewer):
    panel = pages.panel()
    mia = pages.watch(pages.token("u1", nick="Mia"))
    expect(drop_coupons(panel, template, count=5).locator(".state")).to_have_text("live")
    # the same user already took their one coupon on another device
    other_device = viewer(pages.token("u1", nick="Mia"))
    drop_id = other_device.welcome["drops"][0]["drop_id"]
    other_device.send({"t": "claim", "drop_id": drop_id, "request_id": "r-1", "rid": 1})
    assert other_device.until(lambda f: f.get("rid") == 1)["t"] == "ack"
    mia.locator(".drop-card button.claim").click()
    expect(mia.locator("#toast")).to_have_text("You already have this coupon")
    # the host's refusals land in the panel's activity log
    drop_coupons(panel, "no-such-template", count=5)
    expect(panel.locator("#log li.err").first).to_contain_text("(no_such_template)")
    drop_coupons(panel, template, count=5000)
    expect(panel.locator("#log li.err").first).to_contain_text("(template_exhausted)")


def test_a_paid_order_reaches_the_buyer_and_the_room_sees_the_purchase(
    pages: Pages, template: str, tmp_path: Path
):
    server, room = pages.server, pages.room
    sku = f"tea-{uuid.uuid4().hex[:6]}"
    create_product(server, sku=sku, title="Longjing 250g", price_fen=16800)
    pages.merchant("POST", f"/api/rooms/{room}/sales", {"sku": sku, "stock": 10})
    panel = pages.panel()
    panel.locator("#title-form input").fill("Spring tea night")
    panel.locator("#title-form button").click()
    mia = pages.watch(pages.token("u1", nick="Mia"))
    leo = pages.watch(pages.token("u2", nick="Leo"))
    expect(mia.locator("#title")).to_have_text("Spring tea night")
    drop = drop_coupons(panel, template, count=100)
    drop.locator("button.show-claims").click()
    card = mia.locator(".drop-card")
    card.locator("button.claim").click()
    expect(mia.locator("#wallet")).to_have_text("🎟 1")
    expect(drop.locator(".remaining")).to_have_text("99")
    expect(drop.locator(".claims li")).to_have_count(1)
    leo.locator("#text").fill("Is the Longjing this year's?")
    leo.locator("#send").click()
    expect(mia.locator("#comments")).to_contain_text("this year's?")

    sale = mia.locator(".sale-card")
    sale.locator("button.grab").click()
    expect(sale.locator(".mine")).to_contain_text("Reserved ✓ pay within")
    expect(mia.locator("#toast")).to_be_hidden()  # "it's in My coupons" has gone
    # the mini-program took the payment: the merchant backend confirms it
    sale_id = pages.merchant("GET", f"/api/rooms/{room}/sales")["sales"][0]["sale_id"]
    holds = pages.merchant("GET", f"/api/rooms/{room}/sales/{sale_id}/holds")["holds"]
    confirm = {"room_id": room, "hold_id": holds[0]["hold_id"], "order_id": "WX20261203000123"}
    assert pages.merchant("POST", "/api/checkout/confirm", confirm)["duplicate"] is False

    paid = mia.locator("#order-toast")
    expect(paid).to_contain_text("Order paid")
    expect(paid).to_contain_text("Longjing 250g · ¥168")
    expect(paid).to_contain_text("order WX20261203000123")
    expect(sale.locator(".mine")).to_have_text("Paid ✓ order WX20261203000123")
    # everyone sees the purchase, the buyer's nick masked by default
    expect(mia.locator("#ticker")).to_have_text("🛍 M** just bought Longjing 250g")
    shots = Path(SHOTS) if SHOTS else tmp_path  # the README's screenshots
    mia.screenshot(path=str(shots / "watch-coupons.png"), animations="disabled")
    expect(leo.locator("#ticker")).to_have_text("🛍 M** just bought Longjing 250g")
    expect(panel.locator("#proof-last")).to_contain_text("M** just bought Longjing 250g")
    expect(leo.locator("#order-toast")).to_be_hidden()  # only the buyer
    open_wallet(mia)
    mia.screenshot(path=str(shots / "watch-my-coupons.png"), animations="disabled")
    expect(panel.locator("#fig-paid")).to_have_text("1")  # the host's figures count it
    panel.screenshot(path=str(shots / "panel-coupons.png"), full_page=True)


def test_the_host_chooses_how_purchases_are_shown(pages: Pages):
    server, room = pages.server, pages.room
    sku = f"tea-{uuid.uuid4().hex[:6]}"
    create_product(server, sku=sku, title="Longjing 250g", price_fen=16800)
    panel = pages.panel()
    expect(panel.locator("#proof-now")).to_have_text("now: masked names")
    panel.locator("#proof-form select").select_option("full")
    panel.locator("#proof-form button").click()
    expect(panel.locator("#proof-now")).to_have_text("now: full names")
    panel.reload()  # the host's welcome tells the mode
    expect(panel.locator("#proof-now")).to_have_text("now: full names")

    leo = pages.watch(pages.token("u2", nick="Leo"))
    sale = pages.merchant("POST", f"/api/rooms/{room}/sales", {"sku": sku, "stock": 10})["sale"]
    leo.locator(".sale-card button.grab").click()
    expect(leo.locator(".sale-card .mine")).to_contain_text("Reserved")
    hold = pages.merchant("GET", f"/api/rooms/{room}/sales/{sale['sale_id']}/holds")["holds"][0]
    confirm = {"room_id": room, "hold_id": hold["hold_id"], "order_id": "WX20261203000456"}
    pages.merchant("POST", "/api/checkout/confirm", confirm)
    expect(leo.locator("#ticker")).to_have_text("🛍 Leo just bought Longjing 250g")


def test_lucky_bags_give_winners_a_coupon_or_a_free_product(pages: Pages, template: str):
    sku = f"tea-{uuid.uuid4().hex[:6]}"
    product = {"title": "Longjing 250g", "price_fen": 16800, "page": "pages/checkout/index"}
    create_product(pages.server, sku=sku, **product)
    panel = pages.panel()
    mia = pages.watch(pages.token("u1", nick="Mia"))
    form = panel.locator("#draw-form")
    for prize, kind, what in (("Tea coupon bag", "coupon", template), ("Tea bag", "product", sku)):
        form.locator("input[name=prize]").fill(prize)
        form.locator("select[name=bag]").select_option(kind)
        form.locator("input[name=bag_of]").fill(what)
        form.locator("button").click()
        row = panel.locator("#draw-list li", has_text=prize)
        expect(row.locator(".state")).to_have_text("open")
        expect(row).to_contain_text(f"lucky bag: {'coupon ' if kind == 'coupon' else ''}{what}")
        card = mia.locator(".draw-card", has_text=prize)
        expect(card.locator(".prize")).to_have_text(f"🎁 Lucky bag: {prize}")
        card.locator("button.join").click()
        expect(card).to_contain_text("You're in")
        row.locator("button.close-draw").click()
        expect(card.locator(".result")).to_have_text("🎉 You won!")

    coupon_bag = mia.locator(".draw-card", has_text="Tea coupon bag")
    expect(coupon_bag.locator(".prize-note")).to_have_text("🎟 ¥30 off tea is in My coupons")
    expect(mia.locator("#wallet")).to_have_text("🎟 1")
    expect(open_wallet(mia).locator(".coupon-list li")).to_contain_text(TERMS)
    mia.locator("#my-coupons .dismiss").click()
    product_bag = mia.locator(".draw-card", has_text="Tea bag")
    product_bag.locator("button.claim").click()
    expect(product_bag.locator("button.claim")).to_have_text("Get it free: check out")
    expect(mia.locator("#toast")).to_contain_text("/pages/checkout/index?ticket=")

    # back later (a reload): the welcome brings what the bags gave
    mia.reload()
    expect(mia.locator("#wallet")).to_have_text("🎟 1")
    expect(coupon_bag.locator(".result")).to_have_text("🎉 You won!")
    expect(coupon_bag.locator(".prize-note")).to_have_text("🎟 Your coupon is in My coupons")
    expect(product_bag.locator("button.claim")).to_have_text("Get it free: check out")


def test_every_kind_of_coupon_reads_in_words(pages: Pages):
    page = pages.watch()
    kinds = [
        {"kind": "amount_off", "amount_fen": 2000, "min_spend_fen": 10000},
        {"kind": "percent_off", "percent": 15, "max_off_fen": 5000, "min_spend_fen": 0},
        {"kind": "threshold", "spend_fen": 20000, "amount_fen": 3050, "skus": ["tea-01"]},
        {"kind": "gift", "spend_fen": 30000, "gift_sku": "cup-01", "skus": ["a", "b"]},
        {"kind": "amount_off", "amount_fen": 500, "valid_days": 1},
    ]
    words = page.evaluate(
        """async (kinds) => {
            const { terms } = await import("/static/coupon-words.js");
            return kinds.map(terms);
        }""",
        kinds,
    )
    assert words == [
        "¥20 off on orders of ¥100+",
        "15% off (at most ¥50)",
        "¥30.50 off when you spend ¥200 · on tea-01 only",
        "a free cup-01 when you spend ¥300 · on 2 products",
        "¥5 off · valid 1 day from claiming",
    ]
