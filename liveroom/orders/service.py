"""Orders seen in the room: when the merchant backend confirms a payment, the buyer is told
on every connection they have in the room, and the room sees that people buy.

One OrderFeed per process, told of each payment confirmed on this process (it is the
sales feature's PaymentListener). For each:
- the buyer's personal `order_paid` frame goes out through the engine's user-addressed
  delivery (engine.send_personal): every process hands it to the buyer's connections it
  holds, once each;
- the room's social proof is a `purchase` room event with the nick shown as the room's
  `social_proof` setting says (rules.social_proof.mask), paced by the engine
  (engine.publish_paced): at most one per room per `social_proof_s` across processes, the
  purchases in between folded into the next one's `others`. The newest purchase heads it.
  What waits is published when the slot opens: the process whose purchase had to wait
  arms a timer for that moment (any process may publish it; the engine makes sure one
  does, once). A process that dies before its timer leaves the count waiting in the
  engine, where the room's next purchase picks it up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from liveroom.engine.base import Engine, Paced, new_event, now_ms
from liveroom.rules.sale import Hold
from liveroom.rules.social_proof import mask
from liveroom.settings import Settings
from liveroom.types import Feature

log = logging.getLogger("liveroom.orders")

PACE = "purchase"  # the name of the room's purchase announcements in engine.publish_paced
# A timer that fires before the slot is open by the engine's clock (another host's clock
# runs ahead) tries again after at least this long.
MIN_WAIT_S = 0.05


def order_paid_frame(hold: Hold, title: str) -> dict[str, Any]:
    """The buyer's own confirmation: what was paid, for how much, when."""
    return {
        "t": "order_paid",
        "hold_id": hold.hold_id,
        "order_id": hold.order_id,
        "sale_id": hold.sale_id,
        "sku": hold.sku,
        "title": title,
        "qty": hold.qty,
        "total_fen": hold.qty * hold.price_fen,
        "ts": hold.ended_at,
    }


class OrderFeed(Feature):
    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self._timers: dict[str, asyncio.TimerHandle] = {}  # room -> flush of what waits
        self._running: set[asyncio.Task] = set()

    @property
    def window_ms(self) -> int:
        return int(self.settings.social_proof_s * 1000)

    async def stop(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        for task in list(self._running):
            task.cancel()
        for task in list(self._running):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # PaymentListener -----------------------------------------------------------------
    async def on_paid(self, hold: Hold, title: str, *, prize: bool = False) -> None:
        try:
            await self.engine.send_personal(hold.room_id, hold.uid, order_paid_frame(hold, title))
        except Exception:
            log.warning("order_paid for hold %s/%s not sent", hold.room_id, hold.hold_id)
        if prize:
            return  # a lucky bag's prize, not a purchase: the room saw the draw's winners
        try:
            await self._announce(hold, title)
        except Exception:
            log.warning("purchase of hold %s/%s not announced", hold.room_id, hold.hold_id)

    async def _announce(self, hold: Hold, title: str) -> None:
        room = await self.engine.room(hold.room_id)
        nick = mask(hold.nick, room.social_proof)
        if nick is None:
            return  # the room shows no purchases
        event = new_event("purchase", nick=nick, sku=hold.sku, title=title, qty=hold.qty)
        paced = await self.engine.publish_paced(hold.room_id, PACE, event, self.window_ms)
        self._follow(hold.room_id, paced)

    # what waits for the next slot ----------------------------------------------------
    def _follow(self, room_id: str, paced: Paced) -> None:
        if not paced.pending or room_id in self._timers:
            return
        delay = max(MIN_WAIT_S, (paced.next_at - now_ms()) / 1000)
        loop = asyncio.get_running_loop()
        self._timers[room_id] = loop.call_later(delay, self._spawn_flush, room_id)

    def _spawn_flush(self, room_id: str) -> None:
        self._timers.pop(room_id, None)
        task = asyncio.get_running_loop().create_task(self._flush(room_id))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _flush(self, room_id: str) -> None:
        try:
            paced = await self.engine.publish_paced(room_id, PACE, None, self.window_ms)
        except Exception:
            log.warning("room %s: waiting purchases not announced; trying again", room_id)
            paced = Paced(None, 1, now_ms() + self.window_ms)
        self._follow(room_id, paced)
