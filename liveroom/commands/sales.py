"""Shop frames on the room socket: the host pins products and runs sales; viewers click
products and grab. The work is in liveroom.sales.service; this maps frames to it."""

from __future__ import annotations

import logging
from typing import Any

from liveroom.commands import handles
from liveroom.errors import Unavailable
from liveroom.protocol import Command, Field, ProtocolError, Spec, register
from liveroom.sales.service import SaleRefused
from liveroom.sales.store import now_ms
from liveroom.session import Session

log = logging.getLogger("liveroom.sales")
RETRY_AFTER_S = 1.0

_SKU = Field(str, max_len=64)
_SALE = Field(str, max_len=64)
_SECONDS = Field(int, required=False, min_value=0, max_value=30 * 86400)

register("pin_product", Spec({"sku": _SKU}, host_only=True))
register("unpin_product", Spec({"sku": _SKU}, host_only=True))
register(
    "start_sale",
    Spec(
        {
            "sku": _SKU,
            "stock": Field(int, min_value=1, max_value=1_000_000),
            "price_fen": Field(int, required=False, min_value=0, max_value=100_000_000),
            "limit_per_user": Field(int, required=False, min_value=1, max_value=1000),
            "starts_in_s": _SECONDS,
            "starts_at": Field(int, required=False, min_value=0),
            "duration_s": Field(int, required=False, min_value=1, max_value=30 * 86400),
            "early_access_s": Field(int, required=False, min_value=0, max_value=86400),
            "member_tiers": Field(list, required=False, max_len=10),
            "hold_s": Field(int, required=False, min_value=1, max_value=3600),
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


async def _call(cmd: Command, coro: Any) -> Any:
    """Run a service call; refusals and outages become error frames for this rid."""
    try:
        return await coro
    except SaleRefused as err:
        perr = ProtocolError(err.code, err.message, cmd.rid)
        perr.extra.update(err.extra)
        raise perr from None
    except Unavailable as exc:
        log.warning("%s answered retry: %s", cmd.type, exc)
        perr = ProtocolError("retry", "the sale service is unavailable; retry", cmd.rid)
        perr.extra["retry_after"] = RETRY_AFTER_S
        raise perr from None


@handles("pin_product")
async def pin_product(session: Session, cmd: Command) -> dict[str, Any]:
    svc = session.node.sales
    return await _call(cmd, svc.pin(session.room_id, cmd.args["sku"], session.ident.uid))


@handles("unpin_product")
async def unpin_product(session: Session, cmd: Command) -> dict[str, Any]:
    svc = session.node.sales
    return await _call(cmd, svc.unpin(session.room_id, cmd.args["sku"], session.ident.uid))


@handles("start_sale")
async def start_sale(session: Session, cmd: Command) -> dict[str, Any]:
    svc = session.node.sales
    sale = await _call(cmd, svc.create_sale(session.room_id, dict(cmd.args), session.ident.uid))
    return {"sale": sale.public(now_ms())}


@handles("end_sale")
async def end_sale(session: Session, cmd: Command) -> dict[str, Any]:
    svc = session.node.sales
    sale = await _call(cmd, svc.end_sale(session.room_id, cmd.args["sale_id"], session.ident.uid))
    return {"sale": sale.public(now_ms())}


@handles("product_click")
async def product_click(session: Session, cmd: Command) -> None:
    await _call(cmd, session.node.sales.click(session.room_id, cmd.args["sku"]))
    session.node.on_product_click(session, cmd.args["sku"])
    return None


@handles("grab")
async def grab(session: Session, cmd: Command) -> dict[str, Any]:
    if session.ident.is_anonymous:
        raise ProtocolError("login_required", "anonymous viewers cannot grab", cmd.rid)
    svc = session.node.sales
    reply = await _call(
        cmd,
        svc.grab(
            session.room_id,
            session.ident,
            cmd.args["sale_id"],
            cmd.args.get("qty", 1),
            cmd.args["request_id"],
        ),
    )
    return reply.public()
