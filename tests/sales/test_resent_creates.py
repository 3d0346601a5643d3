"""A host's create sent again with the id it named (a sale, a coupon drop), after the first
try stored it and the store went away before the room was told: nothing is made twice,
and the room hears of it once it can. On the node as liveroom/node.py builds it, on both
engines."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from liveroom.errors import Refusal, Unavailable
from liveroom.node import Node

ROOM = "resent"
TEMPLATE = {"title": "10 off", "kind": "amount_off", "amount_fen": 1000, "valid_days": 7}


async def told(node: Node) -> list[dict[str, Any]]:
    """What the room was told: its events, as a viewer joining or resuming gets them."""
    return await node.engine.events_since(ROOM, 0) or []


async def lose_the_news(node: Node, create: Callable[[], Awaitable[Any]]) -> None:
    """The first try: stored, then the room's news cannot go out."""
    publish = node.engine.publish

    async def away(room_id: str, event: dict) -> dict:
        raise Unavailable("the store went away here")

    node.engine.publish = away  # type: ignore[method-assign]
    try:
        with pytest.raises(Unavailable):
            await create()
    finally:
        node.engine.publish = publish  # type: ignore[method-assign]


async def refused(create: Callable[[], Awaitable[Any]]) -> Refusal:
    with pytest.raises(Refusal) as info:
        await create()
    return info.value


@pytest.mark.parametrize("what", ["sale", "drop"])
async def test_a_create_sent_again_tells_the_room_and_makes_nothing_twice(
    node: Node, what: str
) -> None:
    await node.sales.put_product({"sku": "tea", "title": "Tea", "price_fen": 100})
    await node.coupons.put_template({**TEMPLATE, "total": 100}, "t10")
    if what == "sale":
        raw = {"sku": "tea", "stock": 5, "sale_id": "s-1"}

        def create() -> Awaitable[Any]:
            return node.sales.create_sale(ROOM, dict(raw), "host")
    else:
        raw = {"template_id": "t10", "count": 5, "drop_id": "s-1"}

        def create() -> Awaitable[Any]:
            return node.coupons.create_drop(ROOM, dict(raw), "host")

    await lose_the_news(node, create)
    assert await told(node) == []
    again = await refused(create)
    assert again.code == f"{what}_exists" and again.extra[what][f"{what}_id"] == "s-1"
    [news] = await told(node)
    assert (news["type"], news[what][f"{what}_id"], news["by"]) == (what, "s-1", "host")
    assert news[what]["status"] == "live"
    # one sale or drop, its stock taken once from the template
    assert [s.config.sale_id for s in await node.sales.store.list_sales(ROOM)] == ["s-1"]
    if what == "drop":
        stored = await node.coupons.template("t10")
        assert (stored.reserved, stored.left) == (5, 95)
    # ended, a create sent again tells the room nothing more
    if what == "sale":
        await node.sales.end_sale(ROOM, "s-1", "host")
    else:
        await node.coupons.stop_drop(ROOM, "s-1", "host")
    before = await told(node)
    assert (await refused(create)).code == f"{what}_exists"
    assert await told(node) == before


async def test_a_drop_whose_first_try_was_cut_short_reserves_once(node: Node) -> None:
    """The first try reserved the template's coupons and the store went away before the drop
    was stored: the create sent again makes the drop on that reservation, not a second."""
    await node.coupons.put_template({**TEMPLATE, "total": 100}, "t10")
    raw = {"template_id": "t10", "count": 30, "drop_id": "c-1"}
    store = node.coupons.store
    create_sale = store.create_sale

    async def away(cfg: Any) -> Any:
        raise Unavailable("the store went away here")

    store.create_sale = away  # type: ignore[method-assign]
    try:
        with pytest.raises(Unavailable):
            await node.coupons.create_drop(ROOM, dict(raw), "host")
    finally:
        store.create_sale = create_sale  # type: ignore[method-assign]
    assert await store.get_sale(ROOM, "c-1") is None
    drop = await node.coupons.create_drop(ROOM, dict(raw), "host")
    assert (drop.drop_id, drop.remaining) == ("c-1", 30)
    stored = await node.coupons.template("t10")
    assert (stored.reserved, stored.left) == (30, 70)
    # ended with nothing given out: all 30 go back, the template whole again
    await node.coupons.stop_drop(ROOM, "c-1", "host")
    stored = await node.coupons.template("t10")
    assert (stored.reserved, stored.left) == (0, 100)
