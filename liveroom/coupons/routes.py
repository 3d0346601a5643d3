"""The merchant API's coupon calls (signed like every /api call): templates, drops in a
room, and redeeming a coupon ticket. Described in liveroom/merchant/openapi.py and
docs/merchant-api.md."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from liveroom.merchant.routes import ApiError, int_param, signed
from liveroom.rules import sale as sale_rules
from liveroom.ws import ROOM_ID

if TYPE_CHECKING:
    from liveroom.coupons.service import CouponService, Drop


MAX_OFFSET = 10**9


def _svc(request: Request) -> CouponService:
    return request.app.state.node.coupons


def _drop_body(drop: Drop) -> dict[str, Any]:
    """The drop as the room sees it, with its counters (redeemed: coupons redeemed)."""
    return {**drop.public(), "claimed": drop.sale.sold, "redeemed": drop.sale.redeemed}


# templates ---------------------------------------------------------------------------------
async def put_template(request: Request, data: dict[str, Any]) -> Response:
    svc = _svc(request)
    template_id = request.path_params["template_id"]
    if template_id == "redeem":  # POST /api/coupons/redeem is the redemption
        raise ApiError("bad_coupon", "'redeem' cannot be a template id", term="template_id")
    stored = await svc.put_template(data, template_id)
    return JSONResponse({"template": await svc.template_view(stored)})


async def list_templates(request: Request, data: Any) -> Response:
    svc = _svc(request)
    views = [await svc.template_view(s) for s in await svc.templates.list()]
    return JSONResponse({"templates": views})


async def get_template(request: Request, data: Any) -> Response:
    svc = _svc(request)
    stored = await svc.template(request.path_params["template_id"])
    return JSONResponse({"template": await svc.template_view(stored)})


# drops -------------------------------------------------------------------------------------
async def create_drop(request: Request, data: dict[str, Any]) -> Response:
    drop = await _svc(request).create_drop(request.path_params["room_id"], data, "merchant")
    return JSONResponse({"drop": _drop_body(drop)}, 201)


async def list_drops(request: Request, data: Any) -> Response:
    drops = await _svc(request).drops(request.path_params["room_id"])
    return JSONResponse({"drops": [_drop_body(d) for d in drops]})


async def get_drop(request: Request, data: Any) -> Response:
    """The drop with who claimed, oldest first: every claim from `offset`, or a page of
    `count` of them; `total` claims in all, `next` the following page's offset."""
    p = request.path_params
    svc = _svc(request)
    offset = int_param(request, "offset", 0, MAX_OFFSET)
    count = int_param(request, "count", MAX_OFFSET, MAX_OFFSET)  # none given: all of them
    drop = await svc.drop(p["room_id"], p["drop_id"])
    claims = await svc.claims(p["room_id"], p["drop_id"])
    page = claims[offset : offset + count]
    body = {"drop": _drop_body(drop), "claims": page, "total": len(claims)}
    return JSONResponse({**body, "next": offset + len(page)})


async def stop_drop(request: Request, data: Any) -> Response:
    p = request.path_params
    drop = await _svc(request).stop_drop(p["room_id"], p["drop_id"], "merchant")
    return JSONResponse({"drop": _drop_body(drop)})


# the hand-off ------------------------------------------------------------------------------
async def redeem(request: Request, data: dict[str, Any]) -> Response:
    """Redeem a coupon ticket by an order: idempotent by order_id, at most once, within
    its validity; with the order's spend_fen (and skus), checked against its terms."""
    if "ticket" not in data:
        raise ApiError("bad_request", "'ticket' is required")
    order_id = data.get("order_id")
    if not isinstance(order_id, str) or not 0 < len(order_id) <= 128:
        raise ApiError("bad_request", "'order_id' must be a string of 1-128 characters")
    room_id = data.get("room_id")
    if room_id is not None and (not isinstance(room_id, str) or not ROOM_ID.match(room_id)):
        raise ApiError("bad_room", "room id must be 1-64 of A-Z a-z 0-9 _ . -")
    spend = data.get("spend_fen")
    if spend is not None and (
        isinstance(spend, bool)
        or not isinstance(spend, int)
        or not 0 <= spend <= sale_rules.MAX_PRICE_FEN
    ):
        raise ApiError(
            "bad_request", f"'spend_fen' must be an integer 0..{sale_rules.MAX_PRICE_FEN}"
        )
    skus = data.get("skus")
    if skus is not None and (
        not isinstance(skus, list)
        or len(skus) > 500
        or not all(isinstance(s, str) and sale_rules.is_safe_id(s) for s in skus)
    ):
        raise ApiError("bad_request", "'skus' must be a list of skus")
    done = await _svc(request).redeem(data["ticket"], order_id, room_id, spend, skus)
    return JSONResponse(done.public())


def coupon_routes() -> list[BaseRoute]:
    tpl = "/api/coupons/{template_id}"
    drops = "/api/rooms/{room_id}/drops"
    return [
        Route("/api/coupons", signed(list_templates), methods=["GET"]),
        Route("/api/coupons/redeem", signed(redeem), methods=["POST"]),
        Route(tpl, signed(get_template), methods=["GET"]),
        Route(tpl, signed(put_template), methods=["PUT"]),
        Route(drops, signed(list_drops), methods=["GET"]),
        Route(drops, signed(create_drop), methods=["POST"]),
        Route(drops + "/{drop_id}", signed(get_drop), methods=["GET"]),
        Route(drops + "/{drop_id}/stop", signed(stop_drop), methods=["POST"]),
    ]
