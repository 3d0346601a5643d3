"""One bad grab in a batch fails that grab only (issue 8, part 3).

Grabs that reach a process together go to the store as one batch (one Lua call on Redis).
Before: one grab the store could not take failed the whole batch, so 20 bad grabs from one
viewer inside a burst of 150 good ones made 137 of the good ones fail with `internal`.
Now a batch that fails for any reason but an outage is retried grab by grab.
"""

from __future__ import annotations

import asyncio
import json
import random

from liveroom import tokens
from liveroom.errors import Unavailable
from liveroom.rules.sale import GrabOutcome
from liveroom.sales.batcher import GrabBatcher
from liveroom.sales.memory_store import MemorySaleStore
from liveroom.sales.store import GrabRequest, SaleStore, now_ms
from tests.sales.conftest import assert_invariants, make_sale
from tests.sales.merchant import Merchant
from tests.support.client import Client
from tests.support.server import LiveServer

ROOM = "burst"


async def test_a_grab_the_store_cannot_take_fails_alone(sale_store: SaleStore) -> None:
    """qty "x" slips past no edge in real traffic; here it stands for any grab a store
    chokes on (a Lua error on Redis, a TypeError in memory) in the middle of a batch."""
    await sale_store.create_sale(
        make_sale(room_id=ROOM, now=now_ms(), stock=1000, limit_per_user=1)
    )
    batcher = GrabBatcher(sale_store)
    good = [GrabRequest("s1", f"u{i}", "", 1, f"g{i}") for i in range(150)]
    bad = [GrabRequest("s1", "troll", "", "x", f"b{i}") for i in range(20)]  # type: ignore[arg-type]
    mixed = good + bad
    random.Random(7).shuffle(mixed)
    answers = await asyncio.gather(*(batcher.grab(ROOM, r) for r in mixed), return_exceptions=True)
    by_request = {r.request_id: a for r, a in zip(mixed, answers, strict=True)}
    for r in good:
        outcome = by_request[r.request_id]
        assert isinstance(outcome, GrabOutcome) and outcome.hold is not None, outcome
        assert outcome.hold.uid == r.uid
    for r in bad:
        assert isinstance(by_request[r.request_id], Exception)
        assert not isinstance(by_request[r.request_id], Unavailable)
    sale = await assert_invariants(sale_store, ROOM, "s1")
    assert (sale.held, sale.available) == (150, 850)
    await batcher.close()


class DownStore(MemorySaleStore):
    calls = 0

    async def grab_many(self, room_id: str, requests: list, now: int) -> list:
        self.calls += 1
        raise Unavailable("redis is away")


async def test_an_outage_still_fails_the_whole_batch_at_once() -> None:
    """An outage is what every grab would meet: the batch is not retried one by one."""
    store = DownStore()
    batcher = GrabBatcher(store)
    answers = await asyncio.gather(
        *(batcher.grab(ROOM, GrabRequest("s1", f"u{i}", "", 1, f"r{i}")) for i in range(50)),
        return_exceptions=True,
    )
    assert all(isinstance(a, Unavailable) for a in answers)
    assert store.calls <= 2  # one call per batch, not one per grab


async def test_burst_of_good_grabs_with_hostile_ones_over_real_sockets(
    live_server: LiveServer,
) -> None:
    """150 viewers grab while one viewer sends 20 grabs with a request id no store can
    write (a lone surrogate, sent as a JSON escape): every good grab is answered with its
    hold, every bad one with bad_field, none with internal."""
    srv = live_server
    m = Merchant(srv.url, srv.secret)
    await m.ok("PUT", "/api/products/tea-01", {"title": "Tea", "price_fen": 100})
    sale = await m.ok(
        "POST", f"/api/rooms/{ROOM}/sales", {"sku": "tea-01", "stock": 500, "limit_per_user": 1}
    )
    await m.close()
    sid = sale["sale"]["sale_id"]

    def url(uid: str) -> str:
        return srv.ws_url(ROOM, tokens.mint_for(srv.secret, uid, room=ROOM))

    viewers = await asyncio.gather(
        *(Client.connect(url(f"v{i}"), fmt="json" if i % 2 else "msgpack") for i in range(150))
    )
    troll = await Client.connect(url("troll"))
    good = [
        v.send({"t": "grab", "sale_id": sid, "request_id": f"g{i}", "rid": f"g{i}"})
        for i, v in enumerate(viewers)
    ]
    bad_frames = [
        json.dumps({"t": "grab", "sale_id": sid, "request_id": f"b{i}\ud800", "rid": f"b{i}"})
        for i in range(20)
    ]
    bad = [troll.send_raw(f) for f in bad_frames]
    sends = good + bad
    random.Random(3).shuffle(sends)
    await asyncio.gather(*sends)

    answers = await asyncio.gather(
        *(v.until(lambda f, i=i: f.get("rid") == f"g{i}", 20) for i, v in enumerate(viewers))
    )
    assert [a["t"] for a in answers] == ["ack"] * 150, [a for a in answers if a["t"] != "ack"]
    refused: dict[str, dict] = {}

    def all_answered(frame: dict) -> bool:
        if frame.get("t") in ("ack", "error"):
            refused[frame.get("rid")] = frame
        return len(refused) == 20

    await troll.until(all_answered, 20)
    assert sorted(refused) == sorted(f"b{i}" for i in range(20))
    assert {(r["t"], r["code"]) for r in refused.values()} == {("error", "bad_field")}
    assert (await troll.request({"t": "ping"}))["t"] == "pong"
    await asyncio.gather(*(v.close() for v in [*viewers, troll]))
    assert "Traceback" not in srv.log(), srv.log()[-3000:]
