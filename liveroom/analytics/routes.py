"""HTTP for analytics: the merchant API (signed, like every /api route) and the data of the
host's report page (`/report`), which authenticates with the host token it was opened with.

Merchant API (docs/merchant-api.md, *Share codes*, *The show report*, *Viewer segments*):
share codes of a room, the report, exports of the room's commerce stream, a rebuild of
the figures from it, viewer profiles and segments.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from liveroom import inputs, tokens
from liveroom.analytics import export
from liveroom.engine.base import now_ms
from liveroom.errors import Refusal, Unavailable, error_response, unavailable
from liveroom.merchant.routes import ApiError, signed
from liveroom.rules import attribution as rules
from liveroom.rules import segments as seg
from liveroom.ws import ROOM_ID

if TYPE_CHECKING:
    from liveroom.analytics.service import Analytics
    from liveroom.node import Node

MAX_UID = 128
MAX_CODES_PER_ROOM = 10_000
PAGE_DEFAULT, PAGE_MAX = 100, 1000
_CURSOR = re.compile(r"^([0-9]{1,9})\.([0-9]{1,15})\Z")
REPORT_PAGE = Path(__file__).resolve().parents[1] / "static" / "report.html"


def _analytics(request: Request) -> Analytics:
    node: Node = request.app.state.node
    return node.analytics


# share codes -------------------------------------------------------------------------------
def _code_body(request: Request, code: rules.ShareCode) -> dict[str, Any]:
    settings = request.app.state.node.settings
    base = settings.public_url or str(request.base_url)
    return {**code.public(), "links": rules.links(code, base, settings.share_page)}


async def create_code(request: Request, data: dict[str, Any]) -> Response:
    analytics = _analytics(request)
    room_id = request.path_params["room_id"]
    if len(await analytics.store.codes(room_id)) >= MAX_CODES_PER_ROOM:
        raise ApiError("bad_share_code", f"a show has at most {MAX_CODES_PER_ROOM} share codes")
    while True:  # 31^8 codes: a clash is rare, and a retry is cheap
        try:
            code = rules.build_code(data, room_id=room_id, code=rules.new_code(), now=now_ms())
        except rules.ShareCodeError as err:
            raise ApiError(err.code, err.message) from None
        if await analytics.store.add_code(code):
            break
    analytics.forget_codes(room_id)
    return JSONResponse({"share_code": _code_body(request, code)}, 201)


async def list_codes(request: Request, data: Any) -> Response:
    codes = await _analytics(request).store.codes(request.path_params["room_id"])
    return JSONResponse({"share_codes": [_code_body(request, c) for c in codes]})


async def get_code(request: Request, data: Any) -> Response:
    p = request.path_params
    code = await _analytics(request).store.code(p["room_id"], p["code"])
    if code is None:
        raise ApiError("no_such_code", f"no share code {p['code']!r} in this room")
    return JSONResponse({"share_code": _code_body(request, code)})


# the report and exports --------------------------------------------------------------------
async def get_report(request: Request, data: Any) -> Response:
    room_id = request.path_params["room_id"]
    out = await _analytics(request).report(room_id)
    if out is None:
        raise ApiError("no_such_room", f"no show figures for room {room_id!r}")
    return JSONResponse({"report": out})


async def rebuild(request: Request, data: dict[str, Any]) -> Response:
    apply = data.get("apply", False)
    if not isinstance(apply, bool) or set(data) - {"apply"}:
        raise ApiError("bad_request", 'the body is {} or {"apply": true|false}')
    room_id = request.path_params["room_id"]
    analytics = _analytics(request)
    if not await analytics.store.known(room_id) and not await _has_events(request, room_id):
        raise ApiError("no_such_room", f"no show figures for room {room_id!r}")
    return JSONResponse({"rebuild": await analytics.rebuild(room_id, apply=apply)})


async def _has_events(request: Request, room_id: str) -> bool:
    return bool(await request.app.state.node.stream.read(room_id, "0-0", 1))


def _export(kind: str) -> Callable[[Request, Any], Awaitable[Response]]:
    async def handler(request: Request, data: Any) -> Response:
        room_id = request.path_params["room_id"]
        stream = request.app.state.node.stream
        if not await _has_events(request, room_id):
            raise ApiError("no_such_room", f"room {room_id!r} has no commerce events")
        if kind == "csv":
            body, media = export.events_csv(stream, room_id), "text/csv; charset=utf-8"
        else:
            body, media = export.events_ndjson(stream, room_id), "application/x-ndjson"
        headers = {"Content-Disposition": f'attachment; filename="{room_id}-events.{kind}"'}
        return StreamingResponse(body, media_type=media, headers=headers)

    return handler


# viewers and segments ----------------------------------------------------------------------
def _as_of(request: Request) -> int:
    """Segments as of a moment (unix ms; default now): who will have drifted away by then."""
    raw = request.query_params.get("as_of")
    if raw is None:
        return now_ms()
    as_of = inputs.ascii_int(raw, 0, 10**15 - 1)
    if as_of is None:
        raise ApiError("bad_request", "'as_of' must be unix milliseconds")
    return as_of


async def get_viewer(request: Request, data: Any) -> Response:
    uid = request.path_params["uid"]
    if not 0 < len(uid) <= MAX_UID:
        raise ApiError("bad_request", f"a uid is 1-{MAX_UID} characters")
    analytics = _analytics(request)
    as_of = _as_of(request)
    profile = await analytics.store.profile(uid)
    if profile is None:
        raise ApiError("no_such_viewer", f"no profile for viewer {uid!r}")
    return JSONResponse({"viewer": profile.public(as_of, analytics.thresholds), "as_of": as_of})


async def list_segments(request: Request, data: Any) -> Response:
    th = _analytics(request).thresholds
    return JSONResponse({"segments": list(seg.SEGMENTS), "thresholds": th.public()})


def _segment(request: Request) -> str:
    name = request.path_params["segment"]
    if name not in seg.SEGMENTS:
        raise ApiError("no_such_segment", f"segments are {', '.join(seg.SEGMENTS)}")
    return name


async def segment_page(request: Request, data: Any) -> Response:
    name = _segment(request)
    q = request.query_params
    count = inputs.ascii_int(q.get("count", str(PAGE_DEFAULT)), 1, PAGE_MAX)
    if count is None:
        raise ApiError("bad_request", f"'count' must be 1..{PAGE_MAX}")
    offset, now = 0, _as_of(request)
    if "cursor" in q:
        match = _CURSOR.match(q["cursor"])
        if match is None:
            raise ApiError("bad_request", "'cursor' must be a `next` this call returned")
        offset, now = int(match[1]), int(match[2])
    analytics = _analytics(request)
    th = analytics.thresholds
    found, nxt = await analytics.store.segment_page(name, th, now, offset, count)
    return JSONResponse(
        {
            "segment": name,
            "as_of": now,
            "viewers": [p.public(now, th) for p in found],
            "next": None if nxt is None else f"{nxt}.{now}",
        }
    )


async def segment_export(request: Request, data: Any) -> Response:
    name = _segment(request)
    analytics = _analytics(request)
    body = export.segment_csv(analytics.store, name, analytics.thresholds, _as_of(request))
    headers = {"Content-Disposition": f'attachment; filename="segment-{name}.csv"'}
    return StreamingResponse(body, media_type="text/csv; charset=utf-8", headers=headers)


# the host's report page --------------------------------------------------------------------
def _host_error(code: str, message: str) -> Response:
    return error_response(Refusal(code, message))


def host_token(
    handler: Callable[[Request, Any], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """For the report page: `Authorization: Bearer <host token of the room>`."""

    async def endpoint(request: Request) -> Response:
        node: Node = request.app.state.node
        room_id = request.path_params["room_id"]
        if not ROOM_ID.match(room_id):
            return _host_error("bad_room", "room id must be 1-64 of A-Z a-z 0-9 _ . -")
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _host_error("token_required", "send Authorization: Bearer <host token>")
        try:
            ident = tokens.verify(node.settings.secret, token.strip(), room_id)
        except tokens.TokenError as err:
            return error_response(err)
        if not ident.is_host:
            return _host_error("forbidden", "the report needs a host token")
        try:
            return await handler(request, None)
        except Refusal as err:
            return error_response(err)
        except Unavailable:
            return error_response(unavailable())

    return endpoint


async def report_page(request: Request) -> Response:
    return FileResponse(REPORT_PAGE)


def analytics_routes() -> list[Route]:
    room = "/api/rooms/{room_id}"
    return [
        Route(f"{room}/share-codes", signed(create_code), methods=["POST"]),
        Route(f"{room}/share-codes", signed(list_codes), methods=["GET"]),
        Route(f"{room}/share-codes/{{code}}", signed(get_code), methods=["GET"]),
        Route(f"{room}/report", signed(get_report), methods=["GET"]),
        Route(f"{room}/report/rebuild", signed(rebuild), methods=["POST"]),
        Route(f"{room}/export.ndjson", signed(_export("ndjson")), methods=["GET"]),
        Route(f"{room}/export.csv", signed(_export("csv")), methods=["GET"]),
        Route("/api/viewers/{uid}", signed(get_viewer), methods=["GET"]),
        Route("/api/segments", signed(list_segments), methods=["GET"]),
        Route("/api/segments/{segment}", signed(segment_page), methods=["GET"]),
        Route("/api/segments/{segment}/export.csv", signed(segment_export), methods=["GET"]),
        # the host's report page and what it reads
        Route("/report", report_page, methods=["GET"]),
        Route("/rooms/{room_id}/report.json", host_token(get_report), methods=["GET"]),
        Route("/rooms/{room_id}/export.csv", host_token(_export("csv")), methods=["GET"]),
        Route("/rooms/{room_id}/export.ndjson", host_token(_export("ndjson")), methods=["GET"]),
    ]
