"""Real browser tests: Debian's chromium driven by Playwright against a real `liveroom serve`.

Sync Playwright keeps the tests linear and readable; a viewer that is not a page is a
plain `websockets` sync client, so no event loop is shared with the browser driver.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import connect

from tests.support.server import LiveServer, free_port

sync_api = pytest.importorskip("playwright.sync_api")
from tests.browser.pages import CHROMIUM, CHROMIUM_ARGS, Pages, Viewer  # noqa: E402

if not CHROMIUM.exists():
    pytest.skip("needs Debian's chromium at /usr/bin/chromium", allow_module_level=True)

# Waits, not speed claims: two shared cores under other test runs can take a while.
sync_api.expect.set_options(timeout=10_000)


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    """One memory-engine server per module; every test uses rooms of its own."""
    with LiveServer(port=free_port()) as srv:
        yield srv


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # Module scope, not session: sync Playwright keeps an event loop running in this thread
    # while it is open, which would break every pytest-asyncio test collected after it.
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def room() -> str:
    return f"br-{uuid.uuid4().hex[:8]}"


FAILURES = Path("/tmp/liveroom-browser-failures")
FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    report = yield
    if report.when == "call":
        item.stash[FAILED] = report.failed
    return report


@pytest.fixture
def pages(
    request: pytest.FixtureRequest, browser: Any, server: LiveServer, room: str
) -> Iterator[Pages]:
    p = Pages(browser, server, room)
    yield p
    if request.node.stash.get(FAILED, False):
        p.snapshot(FAILURES / request.node.name)  # what each page showed when it failed
    p.close()
    assert not p.page_errors, f"JavaScript errors in the pages: {p.page_errors}"


@pytest.fixture
def viewer(server: LiveServer, room: str) -> Iterator[Callable[..., Viewer]]:
    with contextlib.ExitStack() as stack:

        def open_viewer(token: str | None = None) -> Viewer:
            url = server.ws_url(room, token=token)
            return Viewer(stack.enter_context(connect(url, subprotocols=["liveroom.json"])))

        yield open_viewer
