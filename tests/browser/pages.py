"""Helpers for the browser tests: the panel and watch pages, a raw viewer, ports."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import expect
from websockets.sync.client import ClientConnection

from liveroom import tokens
from liveroom.merchant.auth import signed_headers
from tests.support.server import LiveServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class LostAnswer:
    """A route for a page's room socket: the answer to the first frame of type `t` is lost
    with the connection (the server did it; the page never heard), then all passes.
    `sent` and `answers` keep every such frame and its answer, in order."""

    def __init__(self, t: str) -> None:
        self.t = t
        self.sent: list[dict[str, Any]] = []
        self.answers: list[dict[str, Any]] = []

    def install(self, page: Any) -> None:
        page.route_web_socket("**/ws/rooms/**", self._route)

    def _route(self, ws: Any) -> None:
        server = ws.connect_to_server()

        def from_page(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame.get("t") == self.t:
                self.sent.append(frame)
            server.send(message)

        def from_server(message: str | bytes) -> None:
            frame = json.loads(message)
            if self.sent and frame.get("rid") == self.sent[-1]["rid"]:
                self.answers.append(frame)
                if len(self.answers) == 1:
                    ws.close(code=1011, reason="")
                    return
            ws.send(message)

        ws.on_message(from_page)
        server.on_message(from_server)


class Pages:
    """Opens the panel and watch pages, each in its own browser context (its own user)."""

    def __init__(self, browser: Any, server: LiveServer, room: str) -> None:
        self.browser = browser
        self.server = server
        self.room = room
        self.contexts: list[Any] = []
        self.page_errors: list[str] = []

    def token(self, uid: str, *, host: bool = False, nick: str = "", tier: str = "") -> str:
        role = "host" if host else "viewer"
        return tokens.mint_for(
            self.server.secret, uid, room=self.room, role=role, nick=nick or uid, tier=tier
        )

    def _open(
        self, path: str, token: str, setup: Callable[[Any], None] | None = None, **context_args: Any
    ) -> Any:
        ctx = self.browser.new_context(**context_args)
        ctx.set_default_timeout(10_000)
        self.contexts.append(ctx)
        page = ctx.new_page()
        page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))
        page.on("dialog", lambda dialog: dialog.accept())
        if setup is not None:
            setup(page)  # e.g. routes that must be in place before the page loads
        query = f"room={self.room}" + (f"&token={token}" if token else "")
        page.goto(f"{self.server.url}{path}?{query}")
        return page

    def panel(self, token: str | None = None, setup: Callable[[Any], None] | None = None) -> Any:
        page = self._open("/panel", token or self.token("host", host=True, nick="Host"), setup)
        expect(page.locator("#conn")).to_have_text("connected")
        return page

    def watch(
        self, token: str = "", wait: bool = True, setup: Callable[[Any], None] | None = None
    ) -> Any:
        mobile = {"viewport": {"width": 390, "height": 780}, "is_mobile": True, "has_touch": True}
        page = self._open("/watch", token, setup, **mobile)
        if wait:  # for the welcome
            expect(page.locator("#title")).not_to_have_text("…")
        return page

    def merchant(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        """A signed merchant call, as the brand's backend makes it."""
        raw = b"" if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        headers.update(signed_headers(self.server.secret, method, path, raw))
        req = urllib.request.Request(
            f"{self.server.url}{path}", raw or None, headers, method=method
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def snapshot(self, where: Path) -> None:
        """Screenshots and texts of every open page, to see why a test failed."""
        where.mkdir(parents=True, exist_ok=True)
        n = 0
        for ctx in self.contexts:
            for page in ctx.pages:
                n += 1
                try:
                    page.screenshot(path=str(where / f"page{n}.png"), full_page=True)
                    (where / f"page{n}.txt").write_text(page.url + "\n\n" + page.inner_text("body"))
                except Exception as exc:  # a crashed page must not hide the real failure
                    (where / f"page{n}.txt").write_text(f"{page.url}: {exc}")

    def close(self) -> None:
        for ctx in self.contexts:
            ctx.close()


class Viewer:
    """A viewer that is not a page: a raw JSON WebSocket client."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.welcome = self.until(lambda f: f["t"] == "welcome")

    def send(self, frame: dict[str, Any]) -> None:
        self.ws.send(json.dumps(frame))

    def until(self, pred: Callable[[dict[str, Any]], bool], timeout: float = 10) -> dict:
        while True:
            frame = json.loads(self.ws.recv(timeout=timeout))
            if pred(frame):
                return frame

    def event(self, event_type: str) -> dict[str, Any]:
        """The next room event of this type, from whichever tick carries it."""
        while True:
            tick = self.until(lambda f: f["t"] in ("tick", "welcome"))
            for event in tick["events"]:
                if event["type"] == event_type:
                    return event


def merchant_call(server: LiveServer, method: str, path: str, body: Any = None) -> Any:
    """A signed merchant API call, as a merchant backend makes it."""
    raw = b"" if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    headers.update(signed_headers(server.secret, method, path, raw))
    req = urllib.request.Request(f"{server.url}{path}", raw or None, headers, method=method)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def create_product(server: LiveServer, **product: Any) -> dict[str, Any]:
    """Put a product in the catalogue the way a merchant backend does: a signed POST."""
    return merchant_call(server, "POST", "/api/products", product)["product"]
