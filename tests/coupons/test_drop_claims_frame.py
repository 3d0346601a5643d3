"""The host's `drop_claims` frame: who claimed a drop, as the host panel lists it. A real
server (memory and Redis), real sockets."""

from __future__ import annotations

import pytest

from liveroom import tokens
from tests.sales.merchant import Merchant
from tests.support.client import Client
from tests.support.server import LiveServer

ROOM = "claims"
TEMPLATE = {
    "title": "¥5 off",
    "kind": "amount_off",
    "amount_fen": 500,
    "valid_days": 3,
    "total": 50,
}


@pytest.fixture
async def merchant(merchant: Merchant) -> Merchant:
    """The shared merchant client (tests/conftest.py), with what this module needs."""
    await merchant.ok("PUT", "/api/coupons/five", TEMPLATE)
    return merchant


async def connect(srv: LiveServer, uid: str, **kw: str) -> Client:
    return await Client.connect(srv.ws_url(ROOM, tokens.mint_for(srv.secret, uid, room=ROOM, **kw)))


async def test_the_host_sees_who_claimed_newest_first(
    live_server: LiveServer, merchant: Merchant
) -> None:
    host = await connect(live_server, "host", role="host")
    drop = (await host.request({"t": "drop_coupon", "template_id": "five", "count": 10}))["drop"]
    drop_id = drop["drop_id"]
    empty = await host.request({"t": "drop_claims", "drop_id": drop_id})
    assert (empty["t"], empty["claimed"], empty["claims"]) == ("ack", 0, [])

    viewers = [await connect(live_server, f"v{i}") for i in range(4)]
    for i, v in enumerate(viewers):
        ack = await v.request({"t": "claim", "drop_id": drop_id, "request_id": f"r{i}"})
        assert ack["t"] == "ack", ack
    got = await host.request({"t": "drop_claims", "drop_id": drop_id})
    assert got["claimed"] == 4 and got["drop_id"] == drop_id
    assert sorted(c["uid"] for c in got["claims"]) == ["v0", "v1", "v2", "v3"]
    times = [c["issued_at"] for c in got["claims"]]
    assert times == sorted(times, reverse=True)  # newest first
    assert all(c["drop_id"] == drop_id and c["status"] == "issued" for c in got["claims"])
    # the merchant API tells the same claims
    body = await merchant.ok("GET", f"/api/rooms/{ROOM}/drops/{drop_id}")
    assert sorted(c["coupon_id"] for c in body["claims"]) == sorted(
        c["coupon_id"] for c in got["claims"]
    )
    newest = await host.request({"t": "drop_claims", "drop_id": drop_id, "limit": 2})
    assert (newest["claimed"], newest["claims"]) == (4, got["claims"][:2])

    refused = await viewers[0].request({"t": "drop_claims", "drop_id": drop_id})
    assert (refused["t"], refused["code"]) == ("error", "forbidden")
    missing = await host.request({"t": "drop_claims", "drop_id": "d_nope"})
    assert (missing["t"], missing["code"]) == ("error", "no_such_drop")
    bad = await host.request({"t": "drop_claims", "drop_id": drop_id, "limit": 0})
    assert (bad["t"], bad["code"]) == ("error", "bad_field")
    for c in (host, *viewers):
        await c.close()
