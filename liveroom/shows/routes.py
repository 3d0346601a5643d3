"""HTTP routes of shows: the public page data and replay, and the merchant's calls
(cancel, subscribers, group messages, series). Schedule, edit and reschedule go through
PUT /api/rooms/{room_id} (liveroom/merchant/routes.py hands the show's fields here)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from liveroom.errors import Refusal, Unavailable, error_response, unavailable
from liveroom.jobs import now_ms
from liveroom.merchant.routes import ApiError, int_param, signed
from liveroom.rules import show as rules
from liveroom.ws import ROOM_ID

if TYPE_CHECKING:
    from liveroom.shows.service import ShowService


def _svc(request: Request) -> ShowService:
    return request.app.state.node.shows


_BAD_ROOM = Refusal("bad_room", "room id must be 1-64 of A-Z a-z 0-9 _ . -")


async def page_data(request: Request) -> Response:
    """Public (no signature): what the viewer page shows of a show. Never webhooks."""
    room_id = request.path_params["room_id"]
    if not ROOM_ID.match(room_id):
        return error_response(_BAD_ROOM)
    try:
        return JSONResponse({"show": await _svc(request).public(room_id)})
    except Unavailable:
        return error_response(unavailable())


async def replay(request: Request) -> Response:
    """Public: a page of the show's kept events, each with `offset_ms` into the recording."""
    room_id = request.path_params["room_id"]
    if not ROOM_ID.match(room_id):
        return error_response(_BAD_ROOM)
    try:
        after = int_param(request, "after", 0, 2**62)
        count = int_param(request, "count", 500, 1000)
        return JSONResponse(await _svc(request).replay(room_id, after, max(1, count)))
    except ApiError as err:
        return error_response(err)
    except Unavailable:
        return error_response(unavailable())


async def cancel_show(request: Request, data: Any) -> Response:
    out = await _svc(request).cancel(request.path_params["room_id"], "merchant")
    return JSONResponse(out)


async def subscribers(request: Request, data: Any) -> Response:
    offset = int_param(request, "offset", 0, 10**9)
    count = int_param(request, "count", 100, 1000)
    room_id = request.path_params["room_id"]
    subs, total = await _svc(request).store.subscribers(room_id, offset, count)
    listed = [
        {"uid": s.uid, "nick": s.nick, "tier": s.tier, "src": s.src, "ts": s.ts} for s in subs
    ]
    return JSONResponse({"subscribers": listed, "total": total, "next": offset + len(listed)})


async def messages(request: Request, data: Any) -> Response:
    return JSONResponse(await _svc(request).host_status(request.path_params["room_id"]))


# series --------------------------------------------------------------------------------------
async def _series_body(svc: ShowService, series_id: str) -> dict[str, Any]:
    series = await svc.store.get_series(series_id)
    if series is None:
        raise ApiError("no_such_series", "no such series")
    episodes = []
    for room_id, starts_at in await svc.store.episodes(series_id):
        show = await svc.store.get(room_id)
        status = show.status if show else ""
        episodes.append({"room_id": room_id, "starts_at": starts_at, "status": status})
    return {"series": {**series.public(), "episodes": episodes}}


async def _save_series(request: Request, data: dict[str, Any], series_id: str) -> Response:
    from liveroom.shows.model import parse_series

    svc = _svc(request)
    if data.get("series_id", series_id) != series_id:
        raise ApiError("bad_request", "the body's series_id differs from the path's")
    try:
        series = parse_series(data, series_id, now_ms(), svc.hosts)
    except rules.ShowError as err:
        raise ApiError(err.code, err.message) from None
    await svc.put_series(series)
    return JSONResponse(await _series_body(svc, series_id))


async def create_series(request: Request, data: dict[str, Any]) -> Response:
    series_id = data.get("series_id")
    if not isinstance(series_id, str):
        raise ApiError("bad_series", "'series_id' is required")
    return await _save_series(request, data, series_id)


async def put_series(request: Request, data: dict[str, Any]) -> Response:
    return await _save_series(request, data, request.path_params["series_id"])


async def get_series(request: Request, data: Any) -> Response:
    return JSONResponse(await _series_body(_svc(request), request.path_params["series_id"]))


async def list_series(request: Request, data: Any) -> Response:
    return JSONResponse({"series": [s.public() for s in await _svc(request).store.list_series()]})


async def delete_series(request: Request, data: Any) -> Response:
    """No more episodes are scheduled; the next one already scheduled is cancelled."""
    svc = _svc(request)
    series_id = request.path_params["series_id"]
    if await svc.store.get_series(series_id) is None:
        raise ApiError("no_such_series", "no such series")
    await svc.store.delete_series(series_id)
    for room_id, _ in await svc.store.episodes(series_id):
        show = await svc.store.get(room_id)
        if show is not None and show.status == rules.SCHEDULED:
            await svc.cancel(room_id, "merchant")
    return JSONResponse({"deleted": series_id})


def show_routes() -> list[BaseRoute]:
    return [
        Route("/api/shows/{room_id}", page_data, methods=["GET"]),
        Route("/api/shows/{room_id}/replay", replay, methods=["GET"]),
        Route("/api/rooms/{room_id}/cancel", signed(cancel_show), methods=["POST"]),
        Route("/api/rooms/{room_id}/subscribers", signed(subscribers), methods=["GET"]),
        Route("/api/rooms/{room_id}/messages", signed(messages), methods=["GET"]),
        Route("/api/series", signed(list_series), methods=["GET"]),
        Route("/api/series", signed(create_series), methods=["POST"]),
        Route("/api/series/{series_id}", signed(get_series), methods=["GET"]),
        Route("/api/series/{series_id}", signed(put_series), methods=["PUT"]),
        Route("/api/series/{series_id}", signed(delete_series), methods=["DELETE"]),
    ]
