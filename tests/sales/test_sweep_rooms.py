"""Which rooms the full sweep visits: a room whose selling is over leaves the list, and
its next sale brings it back (both engines, the node as liveroom/node.py builds it)."""

from __future__ import annotations

from liveroom.node import Node
from liveroom.tokens import Identity

ROOM = "sweep-room"


async def test_a_room_whose_selling_is_over_leaves_the_full_sweep(node: Node) -> None:
    """Every process sweeps every listed room every 5 s: a room kept there after its show,
    for ever, would make that work grow with every show a brand ever ran."""
    sales = node.sales
    await sales.put_product({"sku": "tea", "title": "Tea", "price_fen": 100})
    sale = await sales.create_sale(ROOM, {"sku": "tea", "stock": 3}, "host")
    reply = await sales.grab(ROOM, Identity(uid="amy"), sale.config.sale_id, 1, "g")
    await sales.sweep(full=True)
    assert ROOM in await sales.store.rooms_with_sales()  # live, and a hold to pay
    await sales.end_sale(ROOM, sale.config.sale_id, "host")
    await sales.sweep(full=True)
    assert ROOM in await sales.store.rooms_with_sales()  # the hold may still expire
    await sales.store.confirm(ROOM, reply.hold.hold_id, "order-1", reply.hold.created_at + 1)
    await sales.sweep(full=True)
    assert ROOM not in await sales.store.rooms_with_sales()
    again = await sales.create_sale(ROOM, {"sku": "tea", "stock": 3, "duration_s": 60}, "host")
    assert ROOM in await sales.store.rooms_with_sales()
    await sales.sweep(full=True)
    assert ROOM in await sales.store.rooms_with_sales()
    assert (await sales.store.get_sale(ROOM, again.config.sale_id)) is not None
