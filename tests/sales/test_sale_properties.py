"""Property: random sequences of grab / confirm / cancel / expire / end keep every
invariant, on the memory store and on Redis, and both stores give the same answers
(the Lua scripts and the Python rules are one decision)."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liveroom.rules import sale as rules
from liveroom.sales.memory_store import MemorySaleStore
from liveroom.sales.redis_store import RedisSaleStore
from liveroom.sales.store import GrabRequest, SaleStore
from tests.sales.conftest import PRODUCT, T0

ROOM = "prop"
SALE = "s"
LIMIT = 2
STOCK = 5
FINAL_EVENTS = {"hold_paid", "hold_cancelled", "hold_expired"}
_examples = itertools.count()


@dataclass(frozen=True)
class Grab:
    user: int
    member: bool
    qty: int
    req: int
    dt: int


@dataclass(frozen=True)
class Burst:
    """Grabs that reach the store together (one batch: one Lua call on Redis)."""

    grabs: tuple[Grab, ...]
    dt: int


@dataclass(frozen=True)
class Confirm:
    hold: int
    order: int
    dt: int


@dataclass(frozen=True)
class Cancel:
    hold: int
    dt: int


@dataclass(frozen=True)
class Expire:
    dt: int


@dataclass(frozen=True)
class End:
    dt: int


DT = st.integers(0, 1500)
GRAB = st.builds(Grab, st.integers(0, 4), st.booleans(), st.integers(1, 3), st.integers(0, 2), DT)
OPS = st.one_of(
    GRAB,
    st.builds(Burst, st.lists(GRAB, min_size=1, max_size=6).map(tuple), DT),
    st.builds(Confirm, st.integers(0, 9), st.integers(0, 3), DT),
    st.builds(Cancel, st.integers(0, 9), DT),
    st.builds(Expire, DT),
    st.builds(End, st.integers(0, 20_000)),
)


class Run:
    """One store driven through a sequence; answers normalized to compare across stores."""

    def __init__(self, store: SaleStore) -> None:
        self.store = store
        self.hold_ids: list[str] = []  # in creation order: hold n is the same on both stores
        self.answers: dict[tuple[int, int], Any] = {}

    def norm(self, hold_id: str | None) -> int | None:
        return None if hold_id is None else self.hold_ids.index(hold_id)

    async def setup(self) -> None:
        raw = {
            "stock": STOCK,
            "limit_per_user": LIMIT,
            "hold_s": 2,
            "starts_in_s": 1,
            "early_access_s": 1,
            "member_tiers": ["member"],
        }
        cfg = rules.build_sale(raw, PRODUCT, sale_id=SALE, room_id=ROOM, now=T0)
        await self.store.create_sale(cfg)

    def record(self, op: Grab, out: Any) -> Any:
        if out.hold is not None and out.hold.hold_id not in self.hold_ids:
            self.hold_ids.append(out.hold.hold_id)
        answer = (
            self.norm(out.hold.hold_id if out.hold else None),
            out.refusal.code if out.refusal else None,
        )
        key = (op.user, op.req)
        if key in self.answers:  # the same request id: the same answer
            assert out.duplicate and self.answers[key] == answer
        else:
            assert not out.duplicate
            self.answers[key] = answer
        return ("grab", answer, out.refusal)

    async def step(self, op: Any, now: int) -> Any:
        s = self.store
        if isinstance(op, Grab):
            out = await s.grab(
                ROOM, SALE, f"u{op.user}", "member" if op.member else "", op.qty, f"r{op.req}", now
            )
            return self.record(op, out)
        if isinstance(op, Burst):
            reqs = [
                GrabRequest(SALE, f"u{g.user}", "member" if g.member else "", g.qty, f"r{g.req}")
                for g in op.grabs
            ]
            outs = await s.grab_many(ROOM, reqs, now)
            return [self.record(g, o) for g, o in zip(op.grabs, outs, strict=True)]
        if isinstance(op, Confirm | Cancel):
            if op.hold >= len(self.hold_ids):
                return ("skip",)
            hold_id = self.hold_ids[op.hold]
            before = await s.get_hold(ROOM, hold_id)
            assert before is not None
            if isinstance(op, Confirm):
                out = await s.confirm(ROOM, hold_id, f"o{op.order}", now)
                expected = rules.confirm_decision(before, f"o{op.order}", now)
            else:
                out = await s.cancel(ROOM, hold_id, now)
                expected = rules.cancel_decision(before, now)
            got = out.error or ("duplicate" if out.duplicate else "done")
            if expected in ("pay", "cancel"):
                assert got in ("done", rules.ORDER_CONFLICT)
            else:
                assert got in (expected, rules.ORDER_CONFLICT)
            return ("checkout", op.hold, got, out.hold.status if out.hold else None)
        if isinstance(op, Expire):
            res = await s.sweep(ROOM, now)
            return ("expire", sorted(self.norm(h.hold_id) for h in res.expired))
        await s.end_sale(ROOM, SALE, now)
        return ("end",)

    async def check(self) -> tuple[int, int, int]:
        s = self.store
        sale = await s.get_sale(ROOM, SALE)
        assert sale is not None
        holds = await s.holds(ROOM, SALE)
        assert rules.invariant_violations(sale, await s.takens(ROOM, SALE), holds) == []
        finals: dict[str, int] = {}
        for e in await s.stream.read(ROOM, count=10_000):
            if e["type"] in FINAL_EVENTS:
                finals[e["hold_id"]] = finals.get(e["hold_id"], 0) + 1
        assert all(n == 1 for n in finals.values()), "a hold ended more than once"
        ended = {h.hold_id for h in holds if h.status in rules.FINAL}
        assert set(finals) == ended
        return sale.available, sale.held, sale.sold


async def _run(ops: list[Any], redis_url: str, prefix: str) -> None:
    memory = Run(MemorySaleStore())
    redis_store = RedisSaleStore.from_url(redis_url, prefix)
    redis = Run(redis_store)
    try:
        await memory.setup()
        await redis.setup()
        now = T0
        for op in ops:
            now += op.dt if not isinstance(op, End) else 0
            at = now + op.dt if isinstance(op, End) else now
            m = await memory.step(op, at)
            r = await redis.step(op, at)
            assert m == r, (op, m, r)
            assert await memory.check() == await redis.check()
    finally:
        await redis_store.close()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=st.lists(OPS, min_size=1, max_size=40))
def test_random_sequences_keep_invariants_on_both_stores(
    ops: list[Any], redis_url: str, key_prefix: str
) -> None:
    asyncio.run(_run(ops, redis_url, f"{key_prefix}:ex{next(_examples)}"))
