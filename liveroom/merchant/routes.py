"""The merchant HTTP API. Every route but /api/openapi.json needs a signed request
(liveroom.merchant.auth). Errors are JSON: {"error": {"code", "message"}} with a status
that says whose move it is: 400 fix the request, 401 fix the signature, 404 unknown id,
409 the hold or sale is in a state that forbids it, 503 retry the same call later."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from liveroom.engine.base import new_event
from liveroom.errors import Refusal, Unavailable
from liveroom.merchant import auth
from liveroom.merchant.openapi import OPENAPI
from liveroom.rules import sale as rules
from liveroom.rules.sale import CheckoutOutcome, Hold
from liveroom.sales.service import SaleRefused, SalesService
from liveroom.sales.store import now_ms
from liveroom.ws import ROOM_ID

if TYPE_CHECKING:
    from liveroom.node import Node

MAX_BODY = 64 * 1024
RETRY_AFTER_S = 1

_STATUS = {
    "missing_signature": 401,
    "bad_signature": 401,
    "bad_timestamp": 401,
    "bad_nonce": 401,
    "stale_request": 401,
    "replayed_request": 401,
    "no_such_product": 404,
    "no_such_sale": 404,
    "no_such_hold": 404,
    "no_such_room": 404,
    "no_such_code": 404,
    "no_such_viewer": 404,
    "no_such_segment": 404,
    "not_found": 404,
    "hold_expired": 409,
    "hold_cancelled": 409,
    "already_paid": 409,
    "order_conflict": 409,
    "sale_exists": 409,
    "too_large": 413,
    "retry": 503,
}

Handler = Callable[[Request, Any], Awaitable[Response]]


class ApiError(Refusal):
    pass


def _error(code: str, message: str, **extra: Any) -> JSONResponse:
    status = _STATUS.get(code, 400)
    headers = {"Retry-After": str(RETRY_AFTER_S)} if status == 503 else None
    return JSONResponse({"error": {"code": code, "message": message}, **extra}, status, headers)


def _signed_path(request: Request) -> str:
    """The request target exactly as sent (percent-encoding and all): what was signed."""
    raw = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string", b"")
    return (raw + (b"?" + query if query else b"")).decode("latin-1")


def signed(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Authenticate, parse the JSON body, run the handler, map failures to JSON errors."""

    async def endpoint(request: Request) -> Response:
        node: Node = request.app.state.node
        try:
            body = await request.body()
            if len(body) > MAX_BODY:
                raise ApiError("too_large", f"body over {MAX_BODY} bytes")
            path = _signed_path(request)
            try:
                nonce = auth.verify(
                    node.settings.merchant_key, request.method, path, request.headers, body
                )
            except auth.AuthError as err:
                raise ApiError(err.code, err.message) from None
            if not await node.nonces.claim(nonce, auth.NONCE_TTL_S):
                raise ApiError("replayed_request", "this nonce was already used")
            data: Any = None
            if body:
                try:
                    data = json.loads(body)
                except ValueError:
                    raise ApiError("bad_json", "the body is not JSON") from None
            if request.method in ("POST", "PUT") and not isinstance(data, dict):
                raise ApiError("bad_request", "the body must be a JSON object")
            room_id = request.path_params.get("room_id")
            if room_id is not None and not ROOM_ID.match(room_id):
                raise ApiError("bad_room", "room id must be 1-64 of A-Z a-z 0-9 _ . -")
            return await handler(request, data)
        except ApiError as err:
            return _error(err.code, err.message, **err.extra)
        except SaleRefused as err:
            return _error(err.code, err.message, **err.extra)
        except Unavailable:
            return _error("retry", "the store is unavailable; retry the same call")

    return endpoint


def _svc(request: Request) -> SalesService:
    return request.app.state.node.sales


def _field(data: dict[str, Any], name: str, max_len: int = 64) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not 0 < len(value) <= max_len:
        raise ApiError("bad_request", f"{name!r} must be a string of 1-{max_len} characters")
    return value


# products ------------------------------------------------------------------------------------
async def list_products(request: Request, data: Any) -> Response:
    products = await _svc(request).store.list_products()
    return JSONResponse({"products": [p.public() for p in products]})


async def create_product(request: Request, data: dict[str, Any]) -> Response:
    product = await _svc(request).put_product(data)
    return JSONResponse({"product": product.public()}, 201)


async def get_product(request: Request, data: Any) -> Response:
    product = await _svc(request).product(request.path_params["sku"])
    return JSONResponse({"product": product.public()})


async def put_product(request: Request, data: dict[str, Any]) -> Response:
    sku = request.path_params["sku"]
    if data.get("sku", sku) != sku:
        raise ApiError("bad_request", "the body's sku differs from the path's")
    product = await _svc(request).put_product(data, sku)
    return JSONResponse({"product": product.public()})


async def delete_product(request: Request, data: Any) -> Response:
    if not await _svc(request).store.delete_product(request.path_params["sku"]):
        raise ApiError("no_such_product", "no such product")
    return JSONResponse({"deleted": request.path_params["sku"]})


# rooms ---------------------------------------------------------------------------------------
async def get_room(request: Request, data: Any) -> Response:
    node: Node = request.app.state.node
    room_id = request.path_params["room_id"]
    room = await node.engine.room(room_id)
    bag = await _svc(request).store.bag(room_id)
    clicks = await _svc(request).store.clicks(room_id)
    return JSONResponse(
        {"room": {**room.public(), "keywords": room.keywords}, "bag": bag, "clicks": clicks}
    )


async def put_room(request: Request, data: dict[str, Any]) -> Response:
    """Title, anonymous access and blocked keywords; the room sees it as a `room` event."""
    node: Node = request.app.state.node
    room_id = request.path_params["room_id"]
    changes: dict[str, Any] = {}
    unknown = set(data) - {"title", "allow_anonymous", "keywords"}
    if unknown:
        raise ApiError("bad_request", f"unknown room fields: {sorted(unknown)}")
    if "title" in data:
        if not isinstance(data["title"], str) or len(data["title"]) > 200:
            raise ApiError("bad_request", "'title' must be a string of at most 200")
        changes["title"] = data["title"]
    if "allow_anonymous" in data:
        if not isinstance(data["allow_anonymous"], bool):
            raise ApiError("bad_request", "'allow_anonymous' must be true or false")
        changes["allow_anonymous"] = data["allow_anonymous"]
    if "keywords" in data:
        kw = data["keywords"]
        if (
            not isinstance(kw, list)
            or len(kw) > 500
            or not all(isinstance(k, str) and 0 < len(k) <= 50 for k in kw)
        ):
            raise ApiError("bad_request", "'keywords' must be a list of 1-50 character strings")
        changes["keywords"] = kw
    if not changes:
        raise ApiError("bad_request", "nothing to change")
    public = {k: v for k, v in changes.items() if k != "keywords"}  # keywords stay private
    stored = await node.engine.publish(
        room_id, new_event("room", by="merchant", **public), room_changes=changes
    )
    room = await node.engine.room(room_id)
    return JSONResponse(
        {"room": {**room.public(), "keywords": room.keywords}, "seq": stored["seq"]}
    )


# sales ---------------------------------------------------------------------------------------
def _sale_body(sale: rules.Sale) -> dict[str, Any]:
    return {"sale": {**sale.public(now_ms()), **sale.counters()}}


async def create_sale(request: Request, data: dict[str, Any]) -> Response:
    sale = await _svc(request).create_sale(request.path_params["room_id"], data, "merchant")
    return JSONResponse(_sale_body(sale), 201)


async def list_sales(request: Request, data: Any) -> Response:
    sales = await _svc(request).store.list_sales(request.path_params["room_id"])
    return JSONResponse({"sales": [_sale_body(s)["sale"] for s in sales]})


async def get_sale(request: Request, data: Any) -> Response:
    p = request.path_params
    return JSONResponse(_sale_body(await _svc(request).sale(p["room_id"], p["sale_id"])))


async def end_sale(request: Request, data: Any) -> Response:
    p = request.path_params
    sale = await _svc(request).end_sale(p["room_id"], p["sale_id"], "merchant")
    return JSONResponse(_sale_body(sale))


async def sale_holds(request: Request, data: Any) -> Response:
    """Every hold of a sale with the per-user units: for reconciliation with orders."""
    p = request.path_params
    svc = _svc(request)
    sale = await svc.sale(p["room_id"], p["sale_id"])
    status = request.query_params.get("status")
    if status is not None and status not in (rules.HELD, *rules.FINAL):
        raise ApiError("bad_request", "'status' must be held, paid, cancelled or expired")
    holds = await svc.store.holds(p["room_id"], p["sale_id"])
    takens = await svc.store.takens(p["room_id"], p["sale_id"])
    listed = [_hold_body(h) for h in holds if status is None or h.status == status]
    return JSONResponse({**_sale_body(sale), "holds": listed, "units_by_user": takens})


async def room_events(request: Request, data: Any) -> Response:
    after = request.query_params.get("after", "0-0")
    ms, _, n = after.partition("-")
    if not ms.isdigit() or not (n or "0").isdigit():
        raise ApiError("bad_request", "'after' must be an event id like 1764000000000-0")
    count = request.query_params.get("count", "100")
    if not count.isdigit() or not 1 <= int(count) <= 1000:
        raise ApiError("bad_request", "'count' must be 1..1000")
    stream = request.app.state.node.stream
    events = await stream.read(request.path_params["room_id"], after, int(count))
    return JSONResponse({"events": events, "next": events[-1]["id"] if events else after})


# checkout ------------------------------------------------------------------------------------
def _hold_body(hold: Hold) -> dict[str, Any]:
    return {**hold.public(), "total_fen": hold.qty * hold.price_fen}


async def _target(request: Request, data: dict[str, Any]) -> tuple[str, str]:
    """The hold a checkout call is about: from its ticket, or room_id + hold_id."""
    if "ticket" in data:
        t = _svc(request).read_ticket(data["ticket"])
        return t.room_id, t.hold_id
    room_id = _field(data, "room_id")
    if not ROOM_ID.match(room_id):
        raise ApiError("bad_room", "room id must be 1-64 of A-Z a-z 0-9 _ . -")
    return room_id, _field(data, "hold_id")


async def redeem(request: Request, data: dict[str, Any]) -> Response:
    """What the ticket is for: product, quantity, price, expiry (and the buyer's uid)."""
    svc = _svc(request)
    if "ticket" not in data:
        raise ApiError("bad_request", "'ticket' is required")
    t = svc.read_ticket(data["ticket"])
    hold = await svc.hold(t.room_id, t.hold_id)
    if hold.status == rules.CANCELLED:
        raise ApiError(
            rules.HOLD_CANCELLED, rules.MESSAGES[rules.HOLD_CANCELLED], hold=_hold_body(hold)
        )
    if hold.status == rules.EXPIRED or rules.is_due(hold, now_ms()):
        raise ApiError(
            rules.HOLD_EXPIRED, rules.MESSAGES[rules.HOLD_EXPIRED], hold=_hold_body(hold)
        )
    sale = await svc.sale(hold.room_id, hold.sale_id)
    cfg = sale.config
    product = {"sku": cfg.sku, "title": cfg.title, "image": cfg.image, "appid": cfg.appid}
    return JSONResponse({"hold": _hold_body(hold), "product": product})


def _checkout_response(outcome: CheckoutOutcome) -> Response:
    hold = _hold_body(outcome.hold) if outcome.hold else None
    if outcome.error:
        extra = {"hold": hold} if hold else {}
        return _error(outcome.error, rules.MESSAGES.get(outcome.error, outcome.error), **extra)
    return JSONResponse({"hold": hold, "duplicate": outcome.duplicate})


async def confirm(request: Request, data: dict[str, Any]) -> Response:
    """Payment done: idempotent by order id (the same confirmation twice is one sale)."""
    room_id, hold_id = await _target(request, data)
    order_id = _field(data, "order_id", 128)
    return _checkout_response(await _svc(request).confirm(room_id, hold_id, order_id))


async def cancel(request: Request, data: dict[str, Any]) -> Response:
    room_id, hold_id = await _target(request, data)
    return _checkout_response(await _svc(request).cancel(room_id, hold_id))


async def openapi_json(request: Request) -> Response:
    return JSONResponse(OPENAPI)


def merchant_routes() -> list[Route]:
    return [
        Route("/api/openapi.json", openapi_json, methods=["GET"]),
        Route("/api/products", signed(list_products), methods=["GET"]),
        Route("/api/products", signed(create_product), methods=["POST"]),
        Route("/api/products/{sku}", signed(get_product), methods=["GET"]),
        Route("/api/products/{sku}", signed(put_product), methods=["PUT"]),
        Route("/api/products/{sku}", signed(delete_product), methods=["DELETE"]),
        Route("/api/rooms/{room_id}", signed(get_room), methods=["GET"]),
        Route("/api/rooms/{room_id}", signed(put_room), methods=["PUT"]),
        Route("/api/rooms/{room_id}/sales", signed(list_sales), methods=["GET"]),
        Route("/api/rooms/{room_id}/sales", signed(create_sale), methods=["POST"]),
        Route("/api/rooms/{room_id}/sales/{sale_id}", signed(get_sale), methods=["GET"]),
        Route("/api/rooms/{room_id}/sales/{sale_id}/end", signed(end_sale), methods=["POST"]),
        Route("/api/rooms/{room_id}/sales/{sale_id}/holds", signed(sale_holds), methods=["GET"]),
        Route("/api/rooms/{room_id}/events", signed(room_events), methods=["GET"]),
        Route("/api/checkout/redeem", signed(redeem), methods=["POST"]),
        Route("/api/checkout/confirm", signed(confirm), methods=["POST"]),
        Route("/api/checkout/cancel", signed(cancel), methods=["POST"]),
    ]
