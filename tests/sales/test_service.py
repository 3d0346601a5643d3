"""The sales service between store and room: coalesced stock, once-only room events."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from liveroom.engine.memory import MemoryEngine
from liveroom.errors import Unavailable
from liveroom.rules.sale import SaleError
from liveroom.sales.memory_store import MemorySaleStore
from liveroom.sales.service import SalesService
from liveroom.sales.store import now_ms
from liveroom.settings import Settings
from liveroom.tokens import Identity

ROOM = "svc"


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []

    def __call__(self, room_id: str, kind: str, payload: Any) -> None:
        self.seen.append((kind, payload))

    def seen_events(self) -> list[dict]:
        return [p for k, p in self.seen if k == "event"]

    def of(self, kind: str) -> list[Any]:
        return [p for k, p in self.seen if k == kind]


async def service(store: MemorySaleStore | None = None) -> tuple[SalesService, Recorder]:
    engine = MemoryEngine(Settings())
    rec = Recorder()
    await engine.subscribe(ROOM, rec)
    svc = SalesService(engine.settings, engine, store or MemorySaleStore())
    await svc.put_product({"sku": "tea", "title": "Tea", "price_fen": 100, "page": "p/buy"})
    return svc, rec


async def test_many_grabs_one_stock_update_with_the_latest_value() -> None:
    svc, rec = await service()
    sale = await svc.create_sale(ROOM, {"sku": "tea", "stock": 50, "limit_per_user": 1}, "host")
    await svc.flush_stock()
    assert rec.of("state") == [{"stock": {sale.config.sale_id: 50}}]
    for i in range(30):
        await svc.grab(ROOM, Identity(uid=f"u{i}"), sale.config.sale_id, 1, "r")
    await svc.flush_stock()
    await svc.flush_stock()  # nothing changed since: nothing sent
    assert rec.of("state")[1:] == [{"stock": {sale.config.sale_id: 20}}]


async def test_a_failed_stock_update_is_sent_next_tick() -> None:
    svc, rec = await service()
    sale = await svc.create_sale(ROOM, {"sku": "tea", "stock": 5}, "host")
    real = svc.engine.publish_state

    async def down(room_id: str, state: dict) -> None:
        raise Unavailable("redis away")

    svc.engine.publish_state = down  # type: ignore[method-assign]
    with pytest.raises(Unavailable):
        await svc.flush_stock()
    svc.engine.publish_state = real  # type: ignore[method-assign]
    await svc.flush_stock()
    assert rec.of("state") == [{"stock": {sale.config.sale_id: 5}}]


async def test_two_processes_announce_a_scheduled_start_once() -> None:
    shared = MemorySaleStore()
    first, rec1 = await service(shared)
    second, rec2 = await service(shared)
    soon = now_ms() + 30
    sale = await first.create_sale(ROOM, {"sku": "tea", "stock": 5, "starts_at": soon}, "host")
    assert not sale.started
    await asyncio.sleep(max(0, soon - now_ms()) / 1000 + 0.01)
    await second.sweep(full=True)
    await first.sweep(full=True)
    await second.sweep(full=True)
    events = [p for k, p in rec1.seen + rec2.seen if k == "event"]
    started = [e["sale_id"] for e in events if e["type"] == "sale_started"]
    assert started == [sale.config.sale_id]
    assert [e["type"] for e in rec2.seen_events()] == ["sale_started"]


async def test_refusals_carry_what_the_client_needs() -> None:
    svc, _ = await service()
    sale = await svc.create_sale(ROOM, {"sku": "tea", "stock": 1}, "host")
    sid = sale.config.sale_id
    reply = await svc.grab(ROOM, Identity(uid="a"), sid, 1, "r")
    assert reply.public()["checkout"]["path"].startswith("p/buy?ticket=")
    with pytest.raises(SaleError) as info:
        await svc.grab(ROOM, Identity(uid="b"), sid, 1, "r")
    assert (info.value.code, info.value.extra) == ("sold_out", {"sale_id": sid, "available": 0})
    with pytest.raises(SaleError) as info:
        await svc.create_sale(ROOM, {"sku": "nope", "stock": 1}, "host")
    assert info.value.code == "no_such_product"
