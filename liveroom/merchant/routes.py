"""The merchant HTTP API. Every route but /api/openapi.json needs a signed request
(liveroom.merchant.auth). Errors are JSON: {"error": {"code", "message"}} with a status
that says whose move it is (errors.STATUS): 400 fix the request, 401 fix the signature,
404 unknown id, 409 the hold or sale is in a state that forbids it, 503 `unavailable`:
send the same call again later, 500 `internal`: a bug (logged).

Everything a caller sends passes the edge checks of liveroom.inputs before a handler runs:
the body's JSON (depth bounded before parsing, then no text UTF-8 cannot hold, no number
outside 64 bits), the path parameters, and the query parameters each route reads.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from liveroom import inputs
from liveroom.engine.base import new_event
from liveroom.errors import Refusal, Unavailable, error_response, internal_error, unavailable
from liveroom.merchant import auth
from liveroom.merchant.openapi import OPENAPI
from liveroom.rules import sale as rules
from liveroom.rules import social_proof
from liveroom.rules.sale import CheckoutOutcome, Hold
from liveroom.sales.service import SalesService
from liveroom.sales.store import now_ms
from liveroom.shows.model import SHOW_FIELDS
from liveroom.ws import ROOM_ID

if TYPE_CHECKING:
    from liveroom.node import Node

log = logging.getLogger("liveroom.merchant")
MAX_BODY = 64 * 1024

Handler = Callable[[Request, Any], Awaitable[Response]]


class ApiError(Refusal):
    pass


def int_param(request: Request, name: str, default: int, top: int) -> int:
    """A query parameter of ASCII digits 0..top (a page's offset or count), or 400."""
    value = inputs.ascii_int(request.query_params.get(name, str(default)), 0, top)
    if value is None:
        raise ApiError("bad_request", f"'{name}' must be an integer 0..{top}")
    return value


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
            body = await _read_body(request)
            path = _signed_path(request)
            nonce = auth.verify(
                node.settings.merchant_key, request.method, path, request.headers, body
            )
            if not await node.nonces.claim(nonce, auth.NONCE_TTL_S):
                raise ApiError("replayed_request", "this nonce was already used")
            data = _body(body)
            if request.method in ("POST", "PUT"):
                if not body.strip():
                    data = {}  # a call that needs no body may send none (but not `null`)
                if not isinstance(data, dict):
                    raise ApiError("bad_request", "the body must be a JSON object")
            why = inputs.problem(dict(request.path_params))
            if why is not None:
                raise ApiError("bad_request", f"path: {why}")
            room_id = request.path_params.get("room_id")
            if room_id is not None and not ROOM_ID.match(room_id):
                raise ApiError("bad_room", "room id must be 1-64 of A-Z a-z 0-9 _ . -")
            return await handler(request, data)
        except Refusal as err:
            return error_response(err)
        except Unavailable as exc:
            log.warning("%s %s: store unavailable (%s)", request.method, request.url.path, exc)
            return error_response(unavailable())
        except Exception:
            err = internal_error(log, "%s %s failed", request.method, request.url.path)
            return error_response(err)

    return endpoint


async def _read_body(request: Request) -> bytes:
    """The body, read no further than MAX_BODY: a huge one is refused, not buffered."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise ApiError("too_large", f"body over {MAX_BODY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _body(body: bytes) -> Any:
    """The JSON body, or None for no body; refused when it is not JSON or holds what no
    store can keep (liveroom.inputs)."""
    if not body:
        return None
    try:
        data = inputs.loads(body)
    except ValueError as exc:
        raise ApiError("bad_json", f"the body is not JSON: {exc}") from None
    why = inputs.problem(data)
    if why is not None:
        raise ApiError("bad_request", why)
    return data


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
    show = await node.shows.merchant_view(room_id)
    return JSONResponse(
        {
            "room": {**room.public(), "keywords": room.keywords},
            "bag": bag,
            "clicks": clicks,
            "show": show,
        }
    )


async def put_room(request: Request, data: dict[str, Any]) -> Response:
    """Title, anonymous access, blocked keywords and how purchases are shown; the room
    sees it as a `room` event.
    The show's fields (start time, cover, streams, reminders...) go to the show feature."""
    node: Node = request.app.state.node
    room_id = request.path_params["room_id"]
    changes: dict[str, Any] = {}
    show_data = {k: v for k, v in data.items() if k in SHOW_FIELDS}
    data = {k: v for k, v in data.items() if k not in SHOW_FIELDS}
    unknown = set(data) - {"title", "allow_anonymous", "keywords", "social_proof"}
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
    if "social_proof" in data:
        try:
            changes["social_proof"] = social_proof.check_mode(data["social_proof"])
        except social_proof.SocialProofError as err:
            raise ApiError("bad_request", f"'social_proof': {err}") from None
    if not changes and not show_data:
        raise ApiError("bad_request", "nothing to change")
    if show_data:  # first: a refused show field changes nothing
        await node.shows.configure(room_id, show_data, "merchant")
    seq = 0
    if changes:
        public = {k: v for k, v in changes.items() if k != "keywords"}  # keywords stay private
        stored = await node.engine.publish(
            room_id, new_event("room", by="merchant", **public), room_changes=changes
        )
        seq = stored["seq"]
    room = await node.engine.room(room_id)
    return JSONResponse(
        {
            "room": {**room.public(), "keywords": room.keywords},
            "seq": seq,
            "show": await node.shows.merchant_view(room_id),
        }
    )


# sales ---------------------------------------------------------------------------------------
def _sale_body(sale: rules.Sale) -> dict[str, Any]:
    return {"sale": {**sale.public(now_ms()), **sale.counters()}}


async def create_sale(request: Request, data: dict[str, Any]) -> Response:
    sale = await _svc(request).create_sale(request.path_params["room_id"], data, "merchant")
    return JSONResponse(_sale_body(sale), 201)


async def list_sales(request: Request, data: Any) -> Response:
    sales = await _svc(request).store.list_sales(request.path_params["room_id"])
    sales = [s for s in sales if s.config.kind == rules.PRODUCT]  # drops: /drops
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
    after = inputs.stream_id(request.query_params.get("after", "0-0"))
    if after is None:
        raise ApiError(
            "bad_request",
            "'after' must be an event id like 1764000000000-0 (two integers below 2**64)",
        )
    count = inputs.ascii_int(request.query_params.get("count", "100"), 1, 1000)
    if count is None:
        raise ApiError("bad_request", "'count' must be 1..1000")
    stream = request.app.state.node.stream
    events = await stream.read(request.path_params["room_id"], after, count)
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
        raise rules.SaleError(rules.HOLD_CANCELLED, hold=_hold_body(hold))
    if hold.status == rules.EXPIRED or rules.is_due(hold, now_ms()):
        raise rules.SaleError(rules.HOLD_EXPIRED, hold=_hold_body(hold))
    sale = await svc.sale(hold.room_id, hold.sale_id)
    cfg = sale.config
    product = {"sku": cfg.sku, "title": cfg.title, "image": cfg.image, "appid": cfg.appid}
    return JSONResponse({"hold": _hold_body(hold), "product": product})


def _checkout_response(outcome: CheckoutOutcome) -> Response:
    hold = _hold_body(outcome.hold) if outcome.hold else None
    if outcome.error:
        raise rules.SaleError(outcome.error, **({"hold": hold} if hold else {}))
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
