"""Flash sales from the host panel to a viewer's checkout hand-off, in a real browser."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.pages import LostAnswer, create_product


@pytest.fixture
def sku(server):
    sku = f"serum-{uuid.uuid4().hex[:6]}"
    create_product(
        server, sku=sku, title="Hydrating serum", price_fen=19900, page="pages/checkout/index"
    )
    return sku


def add_to_bag(panel, sku):
    panel.fill("#bag-form input", sku)
    panel.click("#bag-form button")
    return panel.locator(f"#bag li[data-sku='{sku}']")


def start_sale(panel, sku, *, stock, starts_in=0, early=0, hold=300):
    add_to_bag(panel, sku).locator("button.new-sale").click()
    form = panel.locator("#sale-form")
    expect(form.locator("select[name=sku]")).to_have_value(sku)
    expect(form.locator("input[name=price]")).to_have_value("199.00")
    form.locator("input[name=stock]").fill(str(stock))
    form.locator("input[name=starts_in]").fill(str(starts_in))
    form.locator("input[name=early]").fill(str(early))
    form.locator("input[name=hold]").fill(str(hold))
    form.locator("button").click()
    return panel.locator("#sales li", has_text="Hydrating serum")


def test_flash_sale_sells_out_and_hands_buyers_to_checkout(pages, sku):
    panel = pages.panel()
    mia = pages.watch(pages.token("u1", nick="Mia"))
    leo = pages.watch(pages.token("u2", nick="Leo"))
    zoe = pages.watch(pages.token("u3", nick="Zoe"))
    sale = start_sale(panel, sku, stock=2)
    expect(sale.locator(".state")).to_have_text("live")
    expect(mia.locator("#bag .product")).to_contain_text("Hydrating serum ¥199.00")

    for viewer in (mia, leo):
        card = viewer.locator(".sale-card")
        expect(card).to_contain_text("¥199.00")
        card.locator("button.grab").click()
        expect(card.locator(".mine")).to_contain_text("Reserved ✓ pay within")
        expect(card.locator("button.grab")).to_have_text("Reserved")
    expect(sale.locator(".available")).to_have_text("0")
    zoe_grab = zoe.locator(".sale-card button.grab")
    expect(zoe_grab).to_have_text("Sold out")
    expect(zoe_grab).to_be_disabled()

    mia.locator(".sale-card button.pay").click()  # outside WeChat the page says where it goes
    expect(mia.locator("#toast")).to_contain_text("/pages/checkout/index?ticket=")
    # back from the mini-program without paying (a new page load): the hold is still hers
    mia.reload()
    card = mia.locator(".sale-card")
    expect(card.locator(".mine")).to_contain_text("Reserved ✓ pay within")
    expect(card.locator("button.grab")).to_have_text("Reserved")
    card.locator("button.pay").click()
    expect(mia.locator("#toast")).to_contain_text("/pages/checkout/index?ticket=")

    sale.locator("button.end-sale").click()
    expect(sale.locator(".state")).to_have_text("ended")
    expect(zoe_grab).to_have_text("Ended")


def test_members_grab_early_while_others_wait(pages, sku):
    panel = pages.panel()
    vip = pages.watch(pages.token("u1", nick="Mia", tier="vip"))
    newcomer = pages.watch(pages.token("u2", nick="Leo"))
    sale = start_sale(panel, sku, stock=5, starts_in=600, early=900)
    expect(sale.locator(".state")).to_have_text("scheduled")
    expect(sale.locator(".starts")).to_have_text(re.compile(r"starts in (10:00|9:\d\d)"))
    wait = newcomer.locator(".sale-card button.grab")
    expect(wait).to_have_text(re.compile(r"Starts in (10:00|9:\d\d)"))
    expect(wait).to_be_disabled()
    early = vip.locator(".sale-card button.grab")
    expect(early).to_have_text("Members: grab early")
    early.click()
    expect(vip.locator(".sale-card .mine")).to_contain_text("Reserved")
    expect(sale.locator(".available")).to_have_text("4")


def test_grab_refusal_is_shown_to_the_viewer(pages, sku, viewer):
    panel = pages.panel()
    mia = pages.watch(pages.token("u1", nick="Mia"))
    expect(start_sale(panel, sku, stock=3).locator(".state")).to_have_text("live")
    # the same user already took their one unit from another device
    other_device = viewer(pages.token("u1", nick="Mia"))
    sale_id = other_device.welcome["sales"][0]["sale_id"]
    other_device.send({"t": "grab", "sale_id": sale_id, "request_id": "r-1", "rid": 1})
    assert other_device.until(lambda f: f.get("rid") == 1)["t"] == "ack"
    mia.locator(".sale-card button.grab").click()
    expect(mia.locator("#toast")).to_have_text("You already have the most you can buy")


def test_unpaid_reservation_returns_to_stock_and_can_be_grabbed_again(pages, sku):
    panel = pages.panel()
    mia = pages.watch(pages.token("u1", nick="Mia"))
    sale = start_sale(panel, sku, stock=1, hold=2)
    card = mia.locator(".sale-card")
    card.locator("button.grab").click()
    expect(card.locator(".mine")).to_contain_text("Reserved")
    expect(sale.locator(".available")).to_have_text("0")
    # nobody pays: the hold expires and its unit goes back on sale
    expect(card.locator(".mine")).to_have_text("Payment window closed.")
    expect(sale.locator(".available")).to_have_text("1")
    expect(card.locator("button.grab")).to_have_text("Grab it")
    card.locator("button.grab").click()
    expect(card.locator(".mine")).to_contain_text("Reserved")
    expect(sale.locator(".available")).to_have_text("0")


def test_a_sale_whose_answer_was_lost_is_started_once(pages, sku):
    """The connection drops after the server started the sale and before its answer came:
    the host presses Start again and the panel sends the same sale; the product's next
    sale is a new one."""
    lost = LostAnswer("start_sale")
    panel = pages.panel(setup=lost.install)
    start_sale(panel, sku, stock=5)
    expect(panel.locator("#log li", has_text="connection closed")).to_be_visible()
    expect(panel.locator("#conn")).to_have_text("connected")
    panel.locator("#sale-form button").click()  # the host tries again
    expect(panel.locator("#log li", has_text="sale_exists")).to_be_visible()
    first, again = lost.sent
    assert first["sale_id"] == again["sale_id"]
    assert [a.get("code") for a in lost.answers] == [None, "sale_exists"]
    expect(panel.locator("#sales li", has_text="Hydrating serum")).to_have_count(1)
    sales = pages.merchant("GET", f"/api/rooms/{pages.room}/sales")["sales"]
    assert [s["sale_id"] for s in sales] == [first["sale_id"]]
    # the product's next sale, from the bag's button: another sale
    panel.locator(f"#bag li[data-sku='{sku}'] button.new-sale").click()
    panel.locator("#sale-form button").click()
    expect(panel.locator("#sales li", has_text="Hydrating serum")).to_have_count(2)
    assert lost.sent[2]["sale_id"] != first["sale_id"]
