"""Locust users that watch and run a liveroom show over the real WebSocket protocol.

Viewers join with signed tokens, watch (most of the time), comment, tap likes in batches,
enter open lucky draws and grab during flash sales; one host user runs the show: announces,
pins, starts sales and draws. Sales and draws are features a server may not have: a user
that gets `unknown_type` stops trying that action, so the file runs against any build.

A bounded headless run against a local server, with Locust's CSV output:

    .venv/bin/python -m liveroom serve --port 18510 &
    .venv/bin/locust -f loadtest/locustfile.py --headless -u 200 -r 50 -t 30s \\
        --host http://127.0.0.1:18510 --room show1 --csv out/locust

Tokens are signed with LIVEROOM_SECRET (the server's), else the development secret. At the
start the products the host puts on sale are created (or replaced) through the signed
merchant API, with LIVEROOM_MERCHANT_SECRET, else the token secret: flash sales run against
a fresh server with nothing set up. The viewer comment rate of a real audience is a few per
minute each; the server's per-user limit (LIVEROOM_COMMENT_RATE, 1/s with a burst of 5) is
never hit by this mix. Custom metrics (see liveclient.py): DELIVERY "event latency", RECV per
frame type, WS "grab", SALE "hold won" and "sale started".
"""

from __future__ import annotations

import json
import logging
import os
import random
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from locust import User, between, events, task

sys.path.insert(0, str(Path(__file__).resolve().parent))

from liveclient import RoomSocket, ws_url

from liveroom import tokens
from liveroom.merchant.auth import signed_headers
from liveroom.settings import DEV_SECRET

log = logging.getLogger("loadtest")

COMMENTS = [
    "主播好！",
    "这个颜色有吗？",
    "上链接！",
    "多少钱？",
    "已下单",
    "can you show the back?",
    "想要 +1",
    "会员价是多少",
]
PRODUCTS = ["tea set", "silk scarf", "rice cooker", "face cream", "running shoes"]
SKUS = {name: "lt-" + name.replace(" ", "-") for name in PRODUCTS}
TIERS = ["", "", "", "member", "vip"]
SOURCES = ["wecom_group", "moments", "share", "official_account"]


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument("--room", default="locust", help="room id to load")
    parser.add_argument(
        "--liveroom-secret",
        default=os.environ.get("LIVEROOM_SECRET", DEV_SECRET),
        help="token signing secret (LIVEROOM_SECRET)",
    )
    parser.add_argument(
        "--merchant-secret",
        default=os.environ.get("LIVEROOM_MERCHANT_SECRET", ""),
        help="merchant API key for creating the products (LIVEROOM_MERCHANT_SECRET; "
        "default: the token secret, as the server does)",
    )


@events.test_start.add_listener
def _create_products(environment: Any, **_: Any) -> None:
    """The products the host's flash sales sell, created as a merchant backend would."""
    opts = environment.parsed_options
    host = (environment.host or "").rstrip("/")
    if not host:
        return
    key = getattr(opts, "merchant_secret", "") or getattr(opts, "liveroom_secret", DEV_SECRET)
    for name, sku in SKUS.items():
        path = f"/api/products/{sku}"
        body = json.dumps({"title": name, "price_fen": random.randint(990, 29900)}).encode()
        headers = {"Content-Type": "application/json", **signed_headers(key, "PUT", path, body)}
        req = urllib.request.Request(host + path, data=body, method="PUT", headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=10):
                pass
        except (urllib.error.URLError, OSError) as exc:
            detail = exc.read().decode(errors="replace") if hasattr(exc, "read") else exc
            log.error("could not create product %s (flash sales will fail): %s", sku, detail)
            return


class _RoomUser(User):
    abstract = True
    role = "viewer"

    def on_start(self) -> None:
        opts = self.environment.parsed_options
        room = getattr(opts, "room", "locust") if opts else "locust"
        secret = getattr(opts, "liveroom_secret", DEV_SECRET) if opts else DEV_SECRET
        self.uid = f"{self.role[0]}-{uuid.uuid4().hex[:10]}"
        token = tokens.mint_for(
            secret,
            self.uid,
            room=room,
            role=self.role,
            nick=self.uid,
            tier=random.choice(TIERS) if self.role == "viewer" else "",
            src=random.choice(SOURCES),
            ttl_s=3 * 3600,
        )
        self.sock = RoomSocket(self.environment.events.request.fire, ws_url(self.host, room, token))
        self.sock.connect()

    def on_stop(self) -> None:
        sock = getattr(self, "sock", None)
        if sock is not None:
            sock.close()


class Viewer(_RoomUser):
    """Mostly watching; acts on what the show puts in front of them."""

    weight = 50
    wait_time = between(1, 3)

    def on_start(self) -> None:
        super().on_start()
        self.grabbed: set[str] = set()
        self.entered: set[str] = set()

    @task(10)
    def watch(self) -> None:
        """Frames arrive on the reader greenlet; watching is just being there."""

    @task(2)
    def comment(self) -> None:
        if self.sock.alive:
            self.sock.request("comment", {"t": "comment", "text": random.choice(COMMENTS)})

    @task(5)
    def like(self) -> None:
        if self.sock.alive:
            n = random.randint(1, 20)
            t0 = time.perf_counter()
            self.sock.send({"t": "like", "n": n})
            self.environment.events.request.fire(
                request_type="WS",
                name="like batch",
                response_time=(time.perf_counter() - t0) * 1000,
                response_length=n,
                exception=None,
                context={},
            )

    @task(6)
    def grab(self) -> None:
        """During a flash sale, grab at once: that is the moment every viewer acts."""
        if "grab" in self.sock.unsupported or not self.sock.alive:
            return
        open_sales = [s for s in self.sock.sales if s not in self.grabbed]
        if not open_sales:
            return
        sale_id = random.choice(open_sales)
        self.grabbed.add(sale_id)
        t0 = time.perf_counter()
        answer = self.sock.request(
            "grab", {"t": "grab", "sale_id": sale_id, "qty": 1, "request_id": uuid.uuid4().hex}
        )
        if answer is not None and answer.get("t") == "ack":
            hold = answer.get("hold") or {}
            self.environment.events.request.fire(
                request_type="SALE",
                name="hold won",
                response_time=(time.perf_counter() - t0) * 1000,
                response_length=int(hold.get("qty") or answer.get("qty") or 1),
                exception=None,
                context={},
            )

    @task(3)
    def enter_draw(self) -> None:
        if "enter_draw" in self.sock.unsupported or not self.sock.alive:
            return
        open_draws = [d for d in self.sock.draws if d not in self.entered]
        if not open_draws:
            return
        draw_id = random.choice(open_draws)
        self.entered.add(draw_id)
        self.sock.request("enter_draw", {"t": "enter_draw", "draw_id": draw_id})


class Host(_RoomUser):
    """One host runs the show: talks, pins products, starts sales and draws now and then."""

    role = "host"
    fixed_count = 1
    wait_time = between(2, 4)

    def on_start(self) -> None:
        """A show opens with something to act on: a pinned product, a draw and a sale."""
        super().on_start()
        self.pin()
        self.start_draw()
        self.start_sale()

    @task(3)
    def announce(self) -> None:
        self.sock.request("announce", {"t": "announce", "text": "欢迎来到直播间！关注不迷路"})

    @task(2)
    def pin(self) -> None:
        self.sock.request("pin", {"t": "pin", "text": f"now showing: {random.choice(PRODUCTS)}"})

    @task(2)
    def start_sale(self) -> None:
        if "start_sale" not in self.sock.unsupported:
            t0 = time.perf_counter()
            answer = self.sock.request("start_sale", {"t": "start_sale", **sale_terms()})
            if answer is not None and answer.get("t") == "ack":
                self.environment.events.request.fire(
                    request_type="SALE",
                    name="sale started",
                    response_time=(time.perf_counter() - t0) * 1000,
                    response_length=int((answer.get("sale") or {}).get("stock") or 0),
                    exception=None,
                    context={},
                )

    @task(1)
    def start_draw(self) -> None:
        if "start_draw" not in self.sock.unsupported:
            self.sock.request("start_draw", {"t": "start_draw", **draw_terms()})


def sale_terms() -> dict[str, Any]:
    """A short flash sale of a few units: most viewers who grab will find it sold out."""
    sku = SKUS[random.choice(PRODUCTS)]
    return {"sku": sku, "stock": 20, "limit_per_user": 1, "duration_s": 60}


def draw_terms() -> dict[str, Any]:
    return {"prize": {"title": "50 yuan coupon"}, "winners": 3, "duration_s": 10}
