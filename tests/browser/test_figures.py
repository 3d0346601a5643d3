"""The host's live figures and the show report, in a real browser against a real server.

Set LIVEROOM_SCREENSHOTS=docs/img to refresh the README's screenshots from this test.
"""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect
from websockets.sync.client import connect

from liveroom import tokens
from tests.browser.pages import Pages, Viewer, create_product, merchant_call

SHOTS = os.environ.get("LIVEROOM_SCREENSHOTS", "")
JSON = {"subprotocols": ["liveroom.json"]}


def points(page, canvas: str) -> int:
    return int(page.locator(canvas).get_attribute("data-points") or 0)


@pytest.fixture
def sockets() -> Iterator[contextlib.ExitStack]:
    with contextlib.ExitStack() as stack:
        yield stack


def test_live_figures_move_as_viewers_act_and_the_report_renders(
    pages: Pages, sockets: contextlib.ExitStack, tmp_path: Path
):
    server, room = pages.server, pages.room
    sku = f"serum-{uuid.uuid4().hex[:6]}"
    create_product(server, sku=sku, title="Hydrating serum", price_fen=19900)
    body = {"owner": {"kind": "koc", "id": "amy", "name": "Amy"}, "channel": "wecom_group"}
    code = merchant_call(server, "POST", f"/api/rooms/{room}/share-codes", body)["share_code"]
    shop = {"owner": {"kind": "staff", "id": "shop-7", "name": "Shop 7"}}
    store = merchant_call(
        server, "POST", f"/api/rooms/{room}/share-codes", {**shop, "channel": "offline_store"}
    )["share_code"]["code"]

    panel = pages.panel()
    expect(panel.locator("#fig-viewers")).to_have_text("1")  # the host
    first_points = points(panel, "#chart-viewers")

    def join(uid: str, query: str) -> Viewer:
        token = tokens.mint_for(server.secret, uid, room=room, nick=uid)
        url = server.ws_url(room, token) + query
        return Viewer(sockets.enter_context(connect(url, **JSON)))

    mia = join("mia", f"&ref={code['code']}")
    leo = join("leo", f"&ref={store}")
    zoe = join("zoe", "")
    expect(panel.locator("#fig-viewers")).to_have_text("4")
    expect(panel.locator("#fig-unique")).to_have_text("3")
    expect(panel.locator("#fig-peak")).to_have_text("4")

    for i, who in enumerate((mia, mia, leo, zoe)):
        who.send({"t": "comment", "text": f"hello {i}", "rid": i})
    expect(panel.locator("#fig-comments")).to_have_text("4")
    mia.send({"t": "like", "n": 7})
    expect(panel.locator("#fig-likes")).to_have_text("7")
    for who in (mia, leo):
        who.send({"t": "product_click", "sku": sku})
    row = panel.locator(f"#fig-products tr[data-sku='{sku}']")
    expect(row.locator(".clicks")).to_have_text("2")

    # a second host socket starts the sale, the panel watches
    host_token = tokens.mint_for(server.secret, "h2", room=room, role="host")
    boss = Viewer(sockets.enter_context(connect(server.ws_url(room, host_token), **JSON)))
    boss.send({"t": "start_sale", "sku": sku, "stock": 5, "rid": "s"})
    sale = boss.until(lambda f: f.get("rid") == "s")["sale"]
    mia.send({"t": "grab", "sale_id": sale["sale_id"], "request_id": "g1", "rid": "g"})
    mia.until(lambda f: f.get("rid") == "g")
    expect(panel.locator("#fig-holds")).to_have_text("1")
    expect(row.locator(".holds")).to_have_text("1")
    expect(panel.locator("#chart-stock")).to_have_attribute("data-last", "4")

    board = panel.locator(f"#fig-sources tr[data-key='{code['code']}']")
    expect(board).to_contain_text("Amy")
    expect(board.locator(".joins")).to_have_text("1")
    expect(board.locator(".holds")).to_have_text("1")
    expect(panel.locator(f"#fig-sources tr[data-key='{store}']")).to_contain_text("Shop 7")

    # the charts keep moving, a point a second, and show what the tiles say
    expect(panel.locator("#chart-viewers")).to_have_attribute("data-last", "5")  # 2 hosts
    assert points(panel, "#chart-viewers") > first_points
    expect(panel.locator("#chart-cps")).to_have_attribute("data-points", re.compile(r"[1-9]\d*"))
    panel.wait_for_timeout(1200)  # one more frame, so the screenshot has its charts
    if SHOTS:
        panel.screenshot(path=str(Path(SHOTS) / "panel-figures.png"), full_page=True)
    else:
        panel.screenshot(path=str(tmp_path / "panel.png"), full_page=True)

    sockets.close()  # everybody leaves
    report = pages._open(
        "/report", pages.token("host", host=True), viewport={"width": 1280, "height": 900}
    )
    expect(report.locator("#r-unique")).to_have_text("3")
    expect(report.locator("#r-comments")).to_have_text("4")
    expect(report.locator("#r-holds")).to_have_text("1")
    expect(report.locator("#status")).to_have_text("live")
    expect(report.locator(f"#r-sources tr[data-key='{code['code']}']")).to_contain_text("Amy")
    expect(report.locator(f"#r-products tr[data-key='{sku}']")).to_contain_text(sku)
    expect(report.locator("#r-inviters tbody tr")).to_have_count(2)
    expect(report.locator("#chart-viewers")).to_have_attribute("data-points", re.compile(r"[1-9]"))
    with report.expect_download() as download:
        report.click("#export-csv")
    exported = Path(download.value.path()).read_text()
    assert exported.startswith("id,type,room_id,ts") and "hold_created" in exported
    if SHOTS:
        report.screenshot(path=str(Path(SHOTS) / "report.png"), full_page=True)
