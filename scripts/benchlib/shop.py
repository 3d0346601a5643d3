"""What the flash-sale benchmark needs from the shop: a product, and the sale read back.

Products come from the merchant backend in production, so the benchmark creates one the same
way: a signed `PUT /api/products/{sku}` (liveroom.merchant.auth signs it).
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import msgpack
from websockets.sync.client import connect

from liveroom import tokens
from liveroom.merchant.auth import signed_headers


def put_product(base_url: str, sku: str, key: str, title: str = "", price_fen: int = 990) -> dict:
    path = f"/api/products/{sku}"
    body = json.dumps({"title": title or f"bench {sku}", "price_fen": price_fen}).encode()
    headers = {"Content-Type": "application/json", **signed_headers(key, "PUT", path, body)}
    req = urllib.request.Request(base_url + path, data=body, method="PUT", headers=headers)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def create_product(srv: Any, sku: str, key: str) -> dict:
    return put_product(srv.url, sku, key)


def read_welcome(port: int, secret: str, room: str = "bench") -> dict[str, Any]:
    """A fresh viewer's welcome: it carries each sale's `available` as the server sees it."""
    token = tokens.mint_for(secret, "bench-auditor", room=room, ttl_s=600)
    url = f"ws://127.0.0.1:{port}/ws/rooms/{room}?token={token}"
    with connect(url, subprotocols=["liveroom.msgpack"], open_timeout=20, max_size=2**24) as ws:
        return msgpack.unpackb(ws.recv(timeout=20), raw=False)
