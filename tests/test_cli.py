"""The `liveroom` command line as a developer uses it."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

from liveroom import tokens
from liveroom.settings import DEV_SECRET
from tests.support.client import Client
from tests.support.server import ROOT, LiveServer


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "liveroom", *args],
        cwd=ROOT,
        env={**os.environ, "LIVEROOM_SECRET": DEV_SECRET, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_token_command_mints_a_verifiable_token() -> None:
    out = run("token", "--user", "u9", "--room", "r1", "--host", "--tier", "vip")
    ident = tokens.verify(DEV_SECRET, out.stdout.strip(), "r1")
    assert (ident.uid, ident.role, ident.tier) == ("u9", "host", "vip")


def test_api_command_signs_merchant_calls() -> None:
    with LiveServer(env={"LIVEROOM_REDIS_URL": ""}) as srv:
        product = {"sku": "tea-01", "title": "Longjing 250g", "price_fen": 16800}
        made = run("api", "POST", "/api/products", json.dumps(product), "--url", srv.url)
        assert made.returncode == 0, made.stderr
        got = run("api", "GET", "/api/products/tea-01", "--url", srv.url)
        assert json.loads(got.stdout)["product"]["price_fen"] == 16800
        missing = run("api", "GET", "/api/products/nope", "--url", srv.url)
        assert missing.returncode != 0 and "404" in missing.stderr
        forged = run("api", "GET", "/api/products", "--url", srv.url, "--secret", "wrong")
        assert forged.returncode != 0 and "401" in forged.stderr


def test_analytics_rebuild_compares_the_live_figures_with_the_stream() -> None:
    with LiveServer(env={"LIVEROOM_REDIS_URL": ""}) as srv:
        token = tokens.mint_for(DEV_SECRET, "u1", room="r1")
        code = run("token", "--user", "u2", "--room", "r1", "--ref", "ABCD2345")
        assert tokens.verify(DEV_SECRET, code.stdout.strip(), "r1").ref == "ABCD2345"

        async def visit() -> None:
            viewer = await Client.connect(srv.ws_url("r1", token))
            await viewer.close()

        asyncio.run(visit())
        for _ in range(40):  # the visit is folded with the next flush (a second)
            out = run("analytics", "rebuild", "--room", "r1", "--url", srv.url)
            if out.returncode == 0 and "viewers 1" in out.stdout:
                break
        assert out.returncode == 0, out.stderr
        assert "events folded; viewers 1," in out.stdout and "agree" in out.stdout
        missing = run("analytics", "rebuild", "--room", "nope", "--url", srv.url)
        assert missing.returncode == 2 and "no_such_room" in missing.stderr
