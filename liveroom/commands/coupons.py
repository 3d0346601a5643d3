"""Coupon frames on the room socket: the host drops coupons and stops a drop; a viewer
claims. The work is in liveroom.coupons.service; this maps frames to it.

A pass-phrase drop needs no frame to claim: its phrase is an ordinary comment (see
CouponService.on_comment). A drop_coupon's terms are checked by the same rules as the
merchant API's create (rules.coupon.build_drop), so a bad term answers `bad_drop` on both
surfaces; refusals and outages go to the socket's one error path. A claim is idempotent by
its request_id (send it again after `unavailable`); a drop_coupon that names its drop_id
may be sent again too (the second answers `drop_exists`).
"""

from __future__ import annotations

from typing import Any

from liveroom.commands import handles
from liveroom.protocol import Command, Field, Spec, register
from liveroom.session import Session

_ID = Field(str, max_len=64)
_TERM = Field(object, required=False)  # checked by rules.coupon.build_drop

register(
    "drop_coupon",
    Spec(
        {
            "template_id": _ID,
            "count": Field(int, min_value=1, max_value=1_000_000),
            "drop_id": Field(str, required=False, max_len=64),
            "duration_s": _TERM,
            "ends_at": _TERM,
            "starts_in_s": _TERM,
            "starts_at": _TERM,
            "early_access_s": _TERM,
            "member_tiers": _TERM,
            "phrase": Field(str, required=False, max_len=50),
        },
        host_only=True,
    ),
)
register("stop_drop", Spec({"drop_id": _ID}, host_only=True))
register("claim", Spec({"drop_id": _ID, "request_id": _ID}))


@handles("drop_coupon")
async def drop_coupon(session: Session, cmd: Command) -> dict[str, Any]:
    svc = session.node.coupons
    drop = await svc.create_drop(session.room_id, dict(cmd.args), session.ident.uid)
    return {"drop": drop.public()}


@handles("stop_drop")
async def stop_drop(session: Session, cmd: Command) -> dict[str, Any]:
    svc = session.node.coupons
    drop = await svc.stop_drop(session.room_id, cmd.args["drop_id"], session.ident.uid)
    return {"drop": drop.public()}


@handles("claim")
async def claim(session: Session, cmd: Command) -> dict[str, Any]:
    svc = session.node.coupons
    args = cmd.args
    result = await svc.claim_by_frame(
        session.room_id, args["drop_id"], session.ident, args["request_id"]
    )
    return result.public()


register(
    "drop_claims",
    Spec(
        {"drop_id": _ID, "limit": Field(int, required=False, min_value=1, max_value=500)},
        host_only=True,
    ),
)
CLAIMS_SHOWN = 50  # the host panel's list; the merchant API has every claim


@handles("drop_claims")
async def drop_claims(session: Session, cmd: Command) -> dict[str, Any]:
    """Who claimed, for the host watching a drop: the newest `limit` coupons of the drop
    and how many there are in all."""
    claims = await session.node.coupons.claims(session.room_id, cmd.args["drop_id"])
    limit = cmd.args.get("limit", CLAIMS_SHOWN)
    return {"drop_id": cmd.args["drop_id"], "claimed": len(claims), "claims": claims[::-1][:limit]}
