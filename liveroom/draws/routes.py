"""The merchant API's draw calls (signed like every /api call): a brand's backend starts a
lucky draw or bag in a room (say every fifteen minutes of a show), lists the open ones,
and closes or cancels one, as the host's frames do. The fields and refusals are the
frames' own (`protocol.fields_of`, DrawService); described in liveroom/merchant/openapi.py
and docs/merchant-api.md."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from liveroom import protocol
from liveroom.merchant.routes import signed

if TYPE_CHECKING:
    from liveroom.draws.service import DrawService

BY = "merchant"  # who the room's draw events say acted


def _svc(request: Request) -> DrawService:
    return request.app.state.node.draws


async def start_draw(request: Request, data: dict[str, Any]) -> Response:
    args = protocol.fields_of("start_draw", data)
    d = await _svc(request).start_draw(request.path_params["room_id"], BY, args)
    return JSONResponse({"draw": d.announcement()}, 201)


async def open_draws(request: Request, data: Any) -> Response:
    draws = await _svc(request).store.open_draws(request.path_params["room_id"])
    return JSONResponse({"draws": [d.announcement() for d in draws]})


async def close_draw(request: Request, data: Any) -> Response:
    return await _finish(request, cancel=False)


async def cancel_draw(request: Request, data: Any) -> Response:
    return await _finish(request, cancel=True)


async def _finish(request: Request, *, cancel: bool) -> Response:
    p = request.path_params
    outcome = await _svc(request).finish(p["room_id"], p["draw_id"], BY, cancel=cancel)
    return JSONResponse({"outcome": outcome})


def merchant_draw_routes() -> list[BaseRoute]:
    draws = "/api/rooms/{room_id}/draws"
    return [
        Route(draws, signed(open_draws), methods=["GET"]),
        Route(draws, signed(start_draw), methods=["POST"]),
        Route(draws + "/{draw_id}/close", signed(close_draw), methods=["POST"]),
        Route(draws + "/{draw_id}/cancel", signed(cancel_draw), methods=["POST"]),
    ]
