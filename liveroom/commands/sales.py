"""Shop frames on the room socket: the host pins products and runs sales; viewers click
products and grab. The work is in liveroom.sales.service; this maps frames to it.

Refusals (rules.sale.SaleError) and outages go to the socket's one error path. A
start_sale's terms are checked by the same rules as the merchant API's create, so a
wrong or out-of-range term answers `bad_sale` on both surfaces; one that names its
`sale_id` may be sent again (the second answers `sale_exists`).
"""

from __future__ import annotations

import time
from typing import Any

from liveroom.commands import handles
from liveroom.errors import Refusal
from liveroom.protocol import Command, Field, Spec, register
from liveroom.rules import clicks
from liveroom.sales.store import now_ms
from liveroom.session import Session

_SKU = Field(str, max_len=64)
_SALE = Field(str, max_len=64)
_TERM = Field(object, required=False)  # checked by rules.sale.build_sale

register("pin_product", Spec({"sku": _SKU}, host_only=True))
register("unpin_product", Spec({"sku": _SKU}, host_only=True))
register(
    "start_sale",
    Spec(
        {
            "sku": _SKU,
            "stock": _TERM,
            "price_fen": _TERM,
            "limit_per_user": _TERM,
            "starts_in_s": _TERM,
            "starts_at": _TERM,
            "duration_s": _TERM,
            "ends_at": _TERM,
            "early_access_s": _TERM,
            "member_tiers": _TERM,
            "hold_s": _TERM,
            "sale_id": Field(str, required=False, max_len=64),
        },
        host_only=True,
    ),
)
register("end_sale", Spec({"sale_id": _SALE}, host_only=True))
register("product_click", Spec({"sku": _SKU}))
register(
    "grab",
    Spec(
        {
            "sale_id": _SALE,
            "qty": Field(int, required=False, min_value=1, max_value=1000),
            "request_id": Field(str, max_len=64),
        }
    ),
)


@handles("pin_product")
async def pin_product(session: Session, cmd: Command) -> dict[str, Any]:
    svc = session.node.sales
    return await svc.pin(session.room_id, cmd.args["sku"], session.ident.uid)


@handles("unpin_product")
async def unpin_product(session: Session, cmd: Command) -> dict[str, Any]:
    svc = session.node.sales
    return await svc.unpin(session.room_id, cmd.args["sku"], session.ident.uid)


@handles("start_sale")
async def start_sale(session: Session, cmd: Command) -> dict[str, Any]:
    svc = session.node.sales
    sale = await svc.create_sale(session.room_id, dict(cmd.args), session.ident.uid)
    return {"sale": sale.public(now_ms())}


@handles("end_sale")
async def end_sale(session: Session, cmd: Command) -> dict[str, Any]:
    svc = session.node.sales
    sale = await svc.end_sale(session.room_id, cmd.args["sale_id"], session.ident.uid)
    return {"sale": sale.public(now_ms())}


@handles("product_click")
async def product_click(session: Session, cmd: Command) -> None:
    """Counted once per product per `clicks.REPEAT_S` for a connection; repeats are acked
    (a tap is never refused) and not counted."""
    sku = cmd.args["sku"]
    if session.clicks is None:
        session.clicks = {}
    if clicks.counts(session.clicks, sku, time.monotonic()):
        await session.node.sales.click(session.room_id, sku)
        session.node.on_product_click(session, sku)
    return None


@handles("grab")
async def grab(session: Session, cmd: Command) -> dict[str, Any]:
    if session.ident.is_anonymous:
        raise Refusal("login_required", "anonymous viewers cannot grab")
    svc = session.node.sales
    reply = await svc.grab(
        session.room_id,
        session.ident,
        cmd.args["sale_id"],
        cmd.args.get("qty", 1),
        cmd.args["request_id"],
    )
    return reply.public()
