"""A show's page as a viewer sees it: the countdown and "Remind me" before the start, the
stream when the host goes live (no reload), and the replay with the comments at their
moments. The stream is a tiny HLS file made here with Debian's ffmpeg (H.264, which
Debian's chromium decodes through Media Source Extensions; hls.js feeds it)."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import expect

from liveroom.jobs import now_ms
from tests.browser.pages import Pages
from tests.support.server import free_port


class _Cors(SimpleHTTPRequestHandler):
    def end_headers(self) -> None:
        self.send_header("Access-Control-Allow-Origin", "*")
        super().end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def hls_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    where: Path = tmp_path_factory.mktemp("hls")
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=320x180:rate=15",
         "-t", "8", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-profile:v", "baseline", "-g", "15",
         "-f", "hls", "-hls_time", "1", "-hls_list_size", "0", "-hls_playlist_type", "vod",
         str(where / "show.m3u8")],
        check=True,
        timeout=120,
    )  # fmt: skip
    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), partial(_Cors, directory=str(where)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{port}/show.m3u8"
    server.shutdown()
    server.server_close()


def test_scheduled_page_goes_live_then_replays(pages: Pages, viewer, hls_url: str) -> None:
    room = pages.room
    starts_at = now_ms() + 3_600_000
    pages.merchant(
        "PUT",
        f"/api/rooms/{room}",
        {"title": "Spring tea night", "starts_at": starts_at, "hls_url": hls_url,
         "cover": ""},
    )  # fmt: skip
    watch = pages.watch(pages.token("amy", nick="Amy"))
    card = watch.locator("#show-card")
    expect(card).to_be_visible()
    expect(watch.locator(".live-dot")).to_have_text("SOON")
    first = card.locator(".countdown").inner_text()
    assert first.startswith(("00:59:", "01:00:"))
    watch.wait_for_timeout(1300)
    assert card.locator(".countdown").inner_text() != first  # it counts down
    card.locator("button.remind").click()
    expect(card.locator(".reminded")).to_be_visible()
    assert pages.merchant("GET", f"/api/rooms/{room}/subscribers")["total"] == 1

    host = viewer(pages.token("host", host=True))
    host.send({"t": "go_live", "rid": 1})
    host.until(lambda f: f.get("rid") == 1)
    expect(card).to_be_hidden()
    expect(watch.locator(".live-dot")).to_have_text("● LIVE")
    video = watch.locator("#video")
    expect(video).to_be_visible()
    watch.wait_for_function("document.getElementById('video').currentTime > 1", timeout=20_000)

    talker = viewer(pages.token("bob", nick="Bob"))
    for i, text in enumerate(["first!", "how much?", "bought it"]):
        talker.send({"t": "comment", "text": text, "rid": i})
        talker.until(lambda f, i=i: f.get("rid") == i)
        time.sleep(0.8)
    host.send({"t": "pin", "text": "Coupons at 8", "rid": 9})
    host.until(lambda f: f.get("rid") == 9)
    pages.merchant("PUT", f"/api/rooms/{room}", {"replay_url": hls_url})
    host.send({"t": "end", "rid": 10})

    expect(watch.locator(".live-dot")).to_have_text("REPLAY")
    expect(watch.locator("#ended")).to_be_hidden()
    expect(watch.locator("#comments li", has_text="bought it")).to_be_visible(timeout=20_000)
    shown = watch.evaluate("window.liveroomReplay.shown")
    comments = [s for s in shown if s["type"] == "comment"]
    assert [c["text"] for c in comments] == ["first!", "how much?", "bought it"]
    for s in shown:
        assert s["at_ms"] >= s["offset_ms"]  # never before its moment in the recording
    assert comments[2]["offset_ms"] - comments[0]["offset_ms"] >= 1500
    expect(watch.locator("#pinned")).to_contain_text("Coupons at 8")
