"""Orders seen in the room: the buyer's confirmation and the room's social proof."""

from liveroom.orders.service import OrderFeed

__all__ = ["OrderFeed"]
