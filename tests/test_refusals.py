"""One refusal type and one way onto each wire (issue 8): liveroom.errors."""

from __future__ import annotations

import json

import httpx
import pytest

from liveroom import errors, tokens
from liveroom.draws.service import DrawRefused
from liveroom.merchant.auth import AuthError
from liveroom.merchant.routes import ApiError
from liveroom.protocol import ProtocolError
from liveroom.rules import sale as sale_rules
from liveroom.rules.comments import CommentRejected
from liveroom.rules.draw import DrawRuleError
from liveroom.tokens import TokenError
from tests.support.client import Client
from tests.support.server import LiveServer


@pytest.mark.parametrize(
    "kind",
    [
        ProtocolError,
        sale_rules.SaleError,
        sale_rules.Refusal,
        DrawRefused,
        DrawRuleError,
        TokenError,
        ApiError,
        AuthError,
        CommentRejected,
    ],
)
def test_every_refusal_is_one_type(kind: type) -> None:
    assert issubclass(kind, errors.Refusal)
    err = kind("some_code", "why")
    frame = errors.error_frame(err, "r1")
    assert frame == {"t": "error", "code": "some_code", "message": "why", "rid": "r1"}
    resp = errors.error_response(err)
    assert resp.status_code == 400
    assert json.loads(resp.body) == {"error": {"code": "some_code", "message": "why"}}


def test_a_grab_refusal_is_built_once_with_its_figures() -> None:
    """The store's answer (rules or the Lua script) is what the viewer gets, plus sale_id."""
    refusal = sale_rules.Refusal(sale_rules.SOLD_OUT, available=0)
    sent = refusal.with_extra(sale_id="s1")
    assert errors.error_frame(sent) == {
        "t": "error",
        "code": "sold_out",
        "message": "sold out",
        "available": 0,
        "sale_id": "s1",
    }
    assert refusal.extra == {"available": 0}  # the stored answer is not changed
    assert isinstance(sent, sale_rules.Refusal)


def test_statuses_come_from_one_table() -> None:
    cases = {
        "bad_sale": 400,
        "bad_signature": 401,
        "no_such_hold": 404,
        "draw_not_found": 404,
        "hold_expired": 409,
        "too_large": 413,
        "internal": 500,
    }
    for code, status in cases.items():
        assert errors.error_response(errors.Refusal(code, "x")).status_code == status


def test_an_outage_is_one_answer_on_both_surfaces() -> None:
    frame = errors.error_frame(errors.unavailable(), 9)
    assert frame["code"] == "unavailable" and frame["retry_after"] > 0 and frame["rid"] == 9
    resp = errors.error_response(errors.unavailable())
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "1"
    assert json.loads(resp.body)["error"]["code"] == "unavailable"


async def test_refusals_of_well_formed_frames_do_not_close_the_socket(
    live_server: LiveServer,
) -> None:
    """Only malformed frames count towards the 4009 limit: an anonymous viewer tapping
    comment 30 times gets 30 `login_required` answers and stays connected."""
    async with await Client.connect(live_server.ws_url("calm")) as anon:
        for _ in range(30):
            err = await anon.request({"t": "comment", "text": "hi"})
            assert err["code"] == "login_required"
        assert (await anon.request({"t": "ping"}))["t"] == "pong"


async def test_public_draw_record_errors_have_the_merchant_api_shape(
    live_server: LiveServer,
) -> None:
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        missing = await http.get("/api/draws/calm/nope")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "draw_not_found"
        bad = await http.get("/api/draws/calm/no%20pe")
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_request"


async def test_bad_since_on_a_logged_in_socket_too(live_server: LiveServer) -> None:
    token = tokens.mint_for(live_server.secret, "amy", room="calm")
    c = await Client.connect(live_server.ws_url("calm", token) + "&since=%C2%B2", welcome=False)
    assert (await c.recv())["code"] == "bad_since"
    assert (await c.closed())[0] == 4003
