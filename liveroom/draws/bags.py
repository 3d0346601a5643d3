"""Lucky bags (福袋): draws whose prize each winner receives at the close, automatically.

A lucky bag is a draw with `prize.kind`:
- `coupon` (+ `template_id`): when the draw starts, a hidden drop of `winners_count`
  coupons of the template is created (node.coupons: not announced, not claimable by a
  viewer's frame); at the close one coupon is claimed for each winner;
- `product` (+ `sku`): a hidden sale of `winners_count` units at price 0, one per user;
  at the close one unit is grabbed for each winner: a free hold, checked out in the
  mini-program with the checkout ticket that rides in the winner's `draw_won` frame.

Both go through the flash-sale reservation machinery (sale_grab.lua): every claim is a grab
with the request id `lucky.<draw_id>`, so a close retried by the sweeper (or by a second
process) gets the same answers and never issues twice, and the stock (`winners_count`)
bounds what a bag can ever give. The hidden drop or sale is named after the draw
(store.bag_id), so a retried start finds it too, and it is ended once the winners have
theirs. Who wins stays the draw's commit-reveal decision: the record verifies as before.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from liveroom.draws.store import COUPON_PRIZE, PRODUCT_PRIZE, Draw, bag_id
from liveroom.errors import Refusal, Unavailable
from liveroom.rules import sale as sale_rules
from liveroom.tokens import Identity

if TYPE_CHECKING:
    from liveroom.coupons.service import CouponService
    from liveroom.sales.service import SalesService

log = logging.getLogger("liveroom.draws")


def request_id(draw_id: str) -> str:
    """The one request id of every claim of a draw's bag (the answer is kept per winner)."""
    return f"lucky.{draw_id}"


@dataclass(frozen=True)
class Award:
    """What one winner received: the fields added to their `draw_won` frame, and the
    personal frames that go with it (a coupon's `coupon` frame)."""

    won: dict[str, Any]
    frames: tuple[dict[str, Any], ...] = ()


class LuckyBags:
    def __init__(self, sales: SalesService, coupons: CouponService) -> None:
        self.sales = sales
        self.coupons = coupons

    async def open(self, d: Draw, by: str, *, again: bool = False) -> None:
        """Set the prizes aside before the draw starts; refused (the drop's and the sale's
        own refusals: no_such_template, template_exhausted, no_such_product, ...) when they
        cannot be. `again`: the start may be one sent again, whose first try set the bag
        aside and failed before the draw was stored: the bag found is that one."""
        try:
            await self._open(d, by)
        except Refusal as err:
            if not (again and err.code in ("drop_exists", "sale_exists")):
                raise

    async def _open(self, d: Draw, by: str) -> None:
        prize = d.prize
        if prize.kind == COUPON_PRIZE:
            # a hidden drop does not ask the template's member tiers: the draw's own
            # eligibility chose who may win
            raw = {"template_id": prize.template_id, "drop_id": bag_id(d.id)}
            await self.coupons.create_drop(
                d.room_id, {**raw, "count": d.winners_count}, by, hidden=True
            )
        elif prize.kind == PRODUCT_PRIZE:
            raw = {
                "sku": prize.sku,
                "sale_id": bag_id(d.id),
                "stock": d.winners_count,
                "price_fen": 0,
                "limit_per_user": 1,
                "hold_s": sale_rules.MAX_HOLD_S,
            }
            await self.sales.create_sale(d.room_id, raw, by, hidden=True)

    async def award(self, d: Draw, winners: list[Mapping[str, str]]) -> dict[str, Award]:
        """Each winner's prize, claimed at once for all (one grab batch); the same answers
        whenever it runs again. A winner the machinery refuses (it should not happen: the
        bag holds one unit per winner) gets the refusal's code in `prize_error`."""
        if not d.prize.kind:
            return {}
        got = await asyncio.gather(
            *(self._take(d, w["uid"], w.get("nick", "")) for w in winners),
            return_exceptions=True,
        )
        out: dict[str, Award] = {}
        for winner, result in zip(winners, got, strict=True):
            if isinstance(result, Refusal):
                log.error("lucky bag %s/%s: %s refused: %s", d.room_id, d.id, winner, result)
                out[winner["uid"]] = Award({"prize_error": result.code})
            elif isinstance(result, BaseException):
                raise result  # an outage: the close is retried, and answers stay the same
            else:
                out[winner["uid"]] = result
        await self._close(d)
        return out

    async def _take(self, d: Draw, uid: str, nick: str) -> Award:
        ident = Identity(uid=uid, nick=nick, room=d.room_id)
        if d.prize.kind == COUPON_PRIZE:
            claim = await self.coupons.claim(d.room_id, bag_id(d.id), ident, request_id(d.id))
            coupon = {"t": "coupon", "drop_id": bag_id(d.id), **claim.public()}
            del coupon["duplicate"]
            return Award({"coupon": claim.coupon, "coupon_ticket": claim.ticket}, (coupon,))
        reply = await self.sales.grab_prize(d.room_id, ident, bag_id(d.id), request_id(d.id))
        public = reply.public()
        return Award({"hold": public["hold"], "checkout": public["checkout"]})

    async def _close(self, d: Draw) -> None:
        """No more can come out of the bag (its answers stay kept for retries)."""
        if d.prize.kind == COUPON_PRIZE:
            await self.coupons.stop_drop(d.room_id, bag_id(d.id), d.by)
        else:
            await self.sales.end_sale(d.room_id, bag_id(d.id), d.by)

    async def cancelled(self, d: Draw) -> None:
        """A cancelled draw's bag gives nothing: it is ended unopened."""
        if d.prize.kind:
            await self._close(d)

    async def held(self, d: Draw, uid: str) -> dict[str, Any]:
        """For a winner's welcome (`draws_won`): a product prize's hold and checkout while
        the grab's answer is kept (the hold's life and a minute); nothing once it is gone
        (the bag is ended: nothing new can be taken). Coupons are in the welcome's
        `coupons`."""
        if d.prize.kind != PRODUCT_PRIZE:
            return {}
        try:
            return (await self._take(d, uid, "")).won
        except (Refusal, Unavailable):
            return {}  # the welcome goes on without it
