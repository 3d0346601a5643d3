"""The `liveroom` command line as a developer uses it."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

from liveroom import tokens
from liveroom.cli import lan_addresses, startup_banner
from liveroom.settings import DEV_SECRET, Settings
from tests.support.client import Client
from tests.support.server import ROOT, LiveServer, free_port


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


def test_api_finds_the_server_from_the_same_environment_as_serve() -> None:
    """No --url, no --secret: LIVEROOM_PORT and LIVEROOM_SECRET, as `liveroom serve` read."""
    env = {"LIVEROOM_REDIS_URL": "", "LIVEROOM_SECRET": "shop-secret-1"}
    with LiveServer(env=env) as srv:
        same = {"LIVEROOM_PORT": str(srv.port), "LIVEROOM_SECRET": "shop-secret-1"}
        made = run(
            "api", "PUT", "/api/products/tea-02", '{"title": "Tea", "price_fen": 1}', env=same
        )
        assert made.returncode == 0, made.stderr
        assert json.loads(made.stdout)["product"]["sku"] == "tea-02"
        # a wildcard LIVEROOM_HOST (what `serve --host 0.0.0.0` binds) is reached on loopback
        listed = run("api", "GET", "/api/products", env={**same, "LIVEROOM_HOST": "0.0.0.0"})
        assert listed.returncode == 0, listed.stderr


def test_api_says_when_the_secret_differs_from_the_servers() -> None:
    env = {"LIVEROOM_REDIS_URL": "", "LIVEROOM_SECRET": "shop-secret-1"}
    with LiveServer(env=env) as srv:
        wrong = run("api", "GET", "/api/products", env={"LIVEROOM_PORT": str(srv.port)})
        assert wrong.returncode != 0
        assert "Traceback" not in wrong.stderr
        assert "bad_signature" in wrong.stderr and "HTTP 401" in wrong.stderr
        assert "differs from the server's merchant secret" in wrong.stderr
        assert "the development secret" in wrong.stderr  # which key was used
        assert "LIVEROOM_MERCHANT_SECRET" in wrong.stderr  # which variable to set
        other = run(
            "api",
            "GET",
            "/api/products",
            env={"LIVEROOM_PORT": str(srv.port), "LIVEROOM_MERCHANT_SECRET": "nope"},
        )
        assert "signed with LIVEROOM_MERCHANT_SECRET" in other.stderr


def test_api_says_when_no_server_answers() -> None:
    port = free_port()  # nothing listens there
    out = run("api", "GET", "/api/products", env={"LIVEROOM_PORT": str(port)})
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    assert f"no liveroom server answers at http://127.0.0.1:{port}" in out.stderr
    assert "liveroom serve" in out.stderr


def test_token_reads_the_servers_secret_from_the_environment() -> None:
    out = run("token", "--user", "u1", "--room", "r1", env={"LIVEROOM_SECRET": "shop-secret-1"})
    assert tokens.verify("shop-secret-1", out.stdout.strip(), "r1").uid == "u1"
    assert "development secret" not in out.stderr
    dev = run("token", "--user", "u1", env={"LIVEROOM_SECRET": ""})
    assert tokens.verify(DEV_SECRET, dev.stdout.strip(), "r1").uid == "u1"
    assert "development secret" in dev.stderr


def test_serve_on_all_interfaces_prints_links_a_phone_can_open() -> None:
    banner = startup_banner(Settings(host="0.0.0.0", port=8123))
    assert "0.0.0.0" not in banner
    assert "http://127.0.0.1:8123/watch?room=demo" in banner
    lan = lan_addresses()
    for addr in lan:
        assert not addr.startswith("127.")
        assert f"http://{addr}:8123/panel?room=demo&token=" in banner
        assert f"http://{addr}:8123/watch?room=demo" in banner
    assert "from a phone" in banner if lan else "from a phone" not in banner
    assert startup_banner(Settings(host="::", port=8123)).count("0.0.0.0") == 0


def test_serve_links_without_the_dev_secret_carry_no_token() -> None:
    banner = startup_banner(Settings(secret="real-secret", port=8123))
    assert "token=ey" not in banner
    assert "liveroom token --host --room demo" in banner


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
