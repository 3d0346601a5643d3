"""Bad input to attribution and the analytics API: clear errors, and a join never breaks."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from liveroom import signed, tokens
from liveroom.settings import DEV_SECRET
from tests.sales.merchant import Merchant
from tests.support.client import Client
from tests.support.server import LiveServer

ROOM, OTHER = "bad-show", "other-show"
OWNER = {"kind": "koc", "id": "amy"}


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with LiveServer() as srv:
        yield srv


@pytest.fixture
async def merchant(server: LiveServer) -> AsyncIterator[Merchant]:
    m = Merchant(server.url, DEV_SECRET)
    yield m
    await m.close()


async def new_code(m: Merchant, room: str, channel: str = "wecom_group") -> str:
    body = {"owner": OWNER, "channel": channel}
    return (await m.ok("POST", f"/api/rooms/{room}/share-codes", body))["share_code"]["code"]


def error(resp: httpx.Response) -> tuple[int, str]:
    return resp.status_code, resp.json()["error"]["code"]


async def test_unknown_or_foreign_codes_never_break_a_join(
    server: LiveServer, merchant: Merchant
) -> None:
    mine = await new_code(merchant, ROOM)
    foreign = await new_code(merchant, OTHER)  # a real code, of another show
    cases = [
        (f"?ref={foreign}", "unknown_ref", "direct"),
        (f"?ref={foreign}&src=moments", "unknown_ref", "moments"),
        ("?ref=%3Cscript%3E", "bad_ref", "direct"),
        (f"?ref={'A' * 5000}", "bad_ref", "direct"),
        ("?ref=WXYZ6789&src=Not%20A%20Channel", "unknown_ref", "direct"),
    ]
    for query, code, src in cases:
        viewer = await Client.connect(server.ws_url(ROOM) + query)
        assert viewer.welcome is not None
        shown = viewer.welcome["attribution"]
        assert (shown["ref"], shown["src"], shown["ignored"]["code"]) == ("", src, code), query
        assert shown["ignored"]["message"]
        await viewer.close()
    token = tokens.mint_for(DEV_SECRET, "u1", room=ROOM, ref=foreign)  # signed, but foreign
    viewer = await Client.connect(server.ws_url(ROOM, token))
    assert viewer.welcome is not None
    assert viewer.welcome["attribution"]["ignored"]["code"] == "unknown_ref"
    assert (await viewer.request({"t": "comment", "text": "still here"}))["t"] == "ack"
    await viewer.close()
    # a link cannot override what the signed token says
    token = tokens.mint_for(DEV_SECRET, "u2", room=ROOM, ref=mine)
    viewer = await Client.connect(server.ws_url(ROOM, token) + f"&ref={foreign}")
    assert viewer.welcome is not None and viewer.welcome["attribution"]["ref"] == mine
    await viewer.close()


async def test_forged_ref_claims_are_refused(server: LiveServer, merchant: Merchant) -> None:
    mine = await new_code(merchant, ROOM)
    honest = tokens.mint_for(DEV_SECRET, "u3", room=ROOM)
    body, sig = honest.split(".")
    claims = json.loads(signed.unb64(body))  # anyone can read and rewrite the claims...
    forged = signed.b64(json.dumps({**claims, "ref": mine}).encode()) + "." + sig  # not sign
    claims = {"uid": "u4", "room": ROOM, "role": "viewer", "exp": 2**40, "ref": 7}
    as_number = signed.seal(DEV_SECRET, claims)  # signed by the backend, but not a code
    for token, why in ((forged, "signature"), (as_number, "'ref' must be a string")):
        viewer = await Client.connect(server.ws_url(ROOM, token), welcome=False)
        frame = await viewer.expect("error")
        assert frame["code"] == "token_invalid" and why in frame["message"]
        assert (await viewer.closed())[0] == 4001


async def test_reports_of_rooms_that_had_no_show(merchant: Merchant) -> None:
    for method, path in (
        ("GET", "/api/rooms/never-was/report"),
        ("GET", "/api/rooms/never-was/export.csv"),
        ("GET", "/api/rooms/never-was/export.ndjson"),
        ("GET", f"/api/rooms/{ROOM}/share-codes/WXYZ6789"),
        ("GET", "/api/viewers/nobody"),
        ("GET", "/api/segments/vip"),
    ):
        resp = await merchant.call(method, path)
        assert resp.status_code == 404, (path, resp.text)
        assert resp.json()["error"]["code"].startswith("no_such_")
    resp = await merchant.call("POST", "/api/rooms/never-was/report/rebuild", {})
    assert error(resp) == (404, "no_such_room")
    assert error(await merchant.call("GET", "/api/rooms/bad%20room/report")) == (400, "bad_room")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"owner": OWNER},
        {"owner": {"kind": "boss", "id": "x"}, "channel": "moments"},
        {"owner": {"kind": "koc", "id": "x" * 129}, "channel": "moments"},
        {"owner": OWNER, "channel": "WeCom Group"},
        {"owner": OWNER, "channel": "moments", "label": 5},
        {"owner": OWNER, "channel": "moments", "code": "MINE0001"},
    ],
)
async def test_a_bad_share_code_request_is_refused(merchant: Merchant, body: dict) -> None:
    resp = await merchant.call("POST", f"/api/rooms/{ROOM}/share-codes", body)
    assert error(resp) == (400, "bad_share_code")
    assert resp.json()["error"]["message"]


async def test_bad_segment_queries(merchant: Merchant) -> None:
    for query in ("count=0", "count=x", "cursor=nope", "as_of=-5", "cursor=1.2.3"):
        resp = await merchant.call("GET", f"/api/segments/new?{query}")
        assert error(resp) == (400, "bad_request"), query
    resp = await merchant.call("POST", f"/api/rooms/{ROOM}/report/rebuild", {"apply": "yes"})
    assert error(resp) == (400, "bad_request")


async def test_the_report_page_data_needs_the_rooms_host_token(server: LiveServer) -> None:
    viewer = tokens.mint_for(DEV_SECRET, "u1", room=ROOM)
    other_host = tokens.mint_for(DEV_SECRET, "h", room=OTHER, role="host")
    host = tokens.mint_for(DEV_SECRET, "h", room=ROOM, role="host")
    async with httpx.AsyncClient(base_url=server.url) as http:
        path = f"/rooms/{ROOM}/report.json"
        assert error(await http.get(path)) == (401, "token_required")
        for token, want in (
            ("nonsense", (401, "token_invalid")),
            (viewer, (403, "forbidden")),
            (other_host, (403, "token_wrong_room")),
        ):
            got = await http.get(path, headers={"Authorization": f"Bearer {token}"})
            assert error(got) == want
        ok = await http.get(path, headers={"Authorization": f"Bearer {host}"})
        assert ok.status_code in (200, 404)  # 404: this room's figures are not made yet
        page = await http.get(f"/report?room={ROOM}&token={host}")
        assert page.status_code == 200 and "report.js" in page.text
