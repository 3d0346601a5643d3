"""Lucky bags (福袋): a draw whose winners receive a coupon or a product at the close, on
the node as liveroom/node.py builds it, on both engines.

What a winner relies on: the prize lands with them (their coupons; a free hold they can
check out), a retried close gives nobody anything twice, and the draw still verifies.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from liveroom.coupons import ticket as coupon_ticket
from liveroom.draws import service as draw_service
from liveroom.draws import verify_cli
from liveroom.draws.store import bag_id
from liveroom.engine.base import Personal
from liveroom.errors import Refusal, Unavailable
from liveroom.node import Node
from liveroom.rules import draw as rules
from liveroom.sales import ticket as checkout_ticket
from liveroom.tokens import Identity
from liveroom.types import Join

ROOM = "bags"
TEMPLATE = {"title": "20 off", "kind": "amount_off", "amount_fen": 2000, "valid_days": 7}
PRODUCT = {"sku": "tea-gift", "title": "Gift tea", "price_fen": 5800, "appid": "wxp"}
VIEWERS = [Identity(uid=f"u{i}", nick=f"Viewer {i}", room=ROOM) for i in range(6)]


class Personals:
    """Every personal frame the room's subscribers are handed, by uid."""

    def __init__(self) -> None:
        self.frames: list[Personal] = []

    def __call__(self, room_id: str, kind: str, payload: Any) -> None:
        if kind == "personal":
            self.frames.append(payload)

    def of(self, uid: str, t: str) -> list[dict[str, Any]]:
        return [p.frame for p in self.frames if p.uid == uid and p.frame["t"] == t]

    async def until(self, n: int) -> None:
        async with asyncio.timeout(10):
            while len(self.frames) < n:  # noqa: ASYNC110 - the sink is a plain callback
                await asyncio.sleep(0.02)


@pytest.fixture
async def personals(node: Node) -> Personals:
    sink = Personals()
    await node.engine.subscribe(ROOM, sink)
    return sink


async def start(node: Node, prize: dict[str, Any], winners: int = 3) -> str:
    args = {"prize": prize, "winners": winners, "duration_s": 600}
    d = await node.draws.start_draw(ROOM, "host", args)
    for v in VIEWERS:
        await node.draws.enter(ROOM, v, d.id, rules.BUTTON)
    return d.id


def verify(record: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "record.json"
    path.write_text(json.dumps(record))
    names = ("url", "seed", "entrants", "winners", "expect", "commitment")
    args = argparse.Namespace(record=str(path), json=True, **dict.fromkeys(names))
    status, report = verify_cli.check(args)
    assert status == 0, report
    return report


async def test_a_coupon_bags_winners_hold_their_coupons(
    node: Node, personals: Personals, tmp_path: Path
) -> None:
    # a template for VIPs: the draw's eligibility, not the template's tiers, says who wins
    await node.coupons.put_template({**TEMPLATE, "total": 100, "member_tiers": ["vip"]}, "t20")
    prize = {"title": "Lucky bag: 20 off", "kind": "coupon", "template_id": "t20"}
    draw_id = await start(node, prize)
    # the bag is set aside, hidden: the room's welcome shows no drop, a claim frame finds none
    welcome: dict[str, Any] = {}
    await node.coupons.on_join(Join(ROOM, VIEWERS[0], resumed=False), welcome)
    assert welcome["drops"] == [] and welcome["coupons"] == []
    with pytest.raises(Refusal) as refused:
        await node.coupons.claim_by_frame(ROOM, bag_id(draw_id), VIEWERS[0], "sneak")
    assert refused.value.code == "no_such_drop"

    outcome = await node.draws.close(ROOM, draw_id, by="host")
    assert outcome is not None
    winners = [w["uid"] for w in outcome["winners"]]
    assert len(winners) == 3 and outcome["prize"]["kind"] == "coupon"
    await personals.until(6)  # a draw_won and a coupon frame per winner
    for uid in winners:
        [won] = personals.of(uid, "draw_won")
        [frame] = personals.of(uid, "coupon")
        assert won["draw_id"] == draw_id and won["coupon"] == frame["coupon"]
        assert won["coupon_ticket"] == frame["ticket"] and frame["drop_id"] == bag_id(draw_id)
        coupon = frame["coupon"]
        assert (coupon["uid"], coupon["template_id"], coupon["status"]) == (uid, "t20", "issued")
        assert coupon_ticket.verify(node.settings.merchant_key, frame["ticket"]["ticket"])
        mine = await node.coupons.coupons_of(ROOM, uid)
        assert [c["coupon"]["coupon_id"] for c in mine] == [coupon["coupon_id"]]
    losers = [v.uid for v in VIEWERS if v.uid not in winners]
    assert [await node.coupons.coupons_of(ROOM, uid) for uid in losers] == [[]] * 3
    assert not [p for p in personals.frames if p.uid in losers]
    drop = await node.coupons.drop(ROOM, bag_id(draw_id))
    assert drop.remaining == 0 and drop.public()["status"] == "ended"
    # the draw record still verifies: the winners are the seed's, whatever the prize
    record = await node.draws.record(ROOM, draw_id)
    assert record is not None and record["prize"]["template_id"] == "t20"
    assert verify(record, tmp_path)["winners"] == winners


async def test_a_product_bags_winners_get_a_free_hold_to_check_out(
    node: Node, personals: Personals, tmp_path: Path
) -> None:
    await node.sales.put_product(PRODUCT)
    prize = {"title": "Lucky bag: gift tea", "kind": "product", "sku": "tea-gift"}
    draw_id = await start(node, prize, winners=2)
    sale_id = bag_id(draw_id)
    with pytest.raises(Refusal) as refused:  # a viewer cannot grab the bag
        await node.sales.grab(ROOM, VIEWERS[0], sale_id, 1, "sneak")
    assert refused.value.code == "no_such_sale"
    welcome: dict[str, Any] = {}
    await node.sales.on_join(Join(ROOM, VIEWERS[0], resumed=False), welcome)
    assert welcome["sales"] == []
    assert (await node.sales.live_counts(ROOM))["stock"] == {}

    outcome = await node.draws.close(ROOM, draw_id, by="host")
    assert outcome is not None
    winners = [w["uid"] for w in outcome["winners"]]
    await personals.until(2)
    for uid in winners:
        [won] = personals.of(uid, "draw_won")
        hold, checkout = won["hold"], won["checkout"]
        assert (hold["sku"], hold["qty"], hold["price_fen"]) == ("tea-gift", 1, 0)
        assert checkout["appid"] == "wxp"
        assert (
            checkout_ticket.verify(node.settings.merchant_key, checkout["ticket"]).hold_id
            == (hold["hold_id"])
        )
        stored = await node.sales.hold(ROOM, hold["hold_id"])
        assert (stored.uid, stored.status, stored.nick) == (uid, "held", f"Viewer {uid[1:]}")
    sale = await node.sales.store.get_sale(ROOM, sale_id)
    assert sale is not None and (sale.held, sale.available) == (2, 0) and sale.ended_at
    # a winner coming back finds the checkout in the welcome's draws_won
    welcome = {}
    back = next(v for v in VIEWERS if v.uid == winners[0])
    await node.draws.on_join(Join(ROOM, back, resumed=False), welcome)
    [again] = [w for w in welcome["draws_won"] if w["draw_id"] == draw_id]
    assert again["hold"] == personals.of(back.uid, "draw_won")[0]["hold"]
    # paying the free hold tells the winner, as any order
    await node.sales.confirm(ROOM, again["hold"]["hold_id"], "gift-1")
    await personals.until(3)
    [paid] = personals.of(back.uid, "order_paid")
    assert (paid["total_fen"], paid["title"]) == (0, "Gift tea")
    events = await node.engine.events_since(ROOM, 0) or []
    assert not [e for e in events if e["type"] in ("sale", "purchase")]  # nothing shown
    record = await node.draws.record(ROOM, draw_id)
    assert record is not None and verify(record, tmp_path)["winners"] == winners


@pytest.mark.parametrize("kind", ["coupon", "product"])
async def test_a_retried_close_issues_nothing_twice(
    node: Node, personals: Personals, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The closer dies after handing out the prizes, before the draw counts as announced:
    the sweeper announces it again, and every winner has exactly what they had."""
    await node.coupons.put_template({**TEMPLATE, "total": 100}, "t20")
    await node.sales.put_product(PRODUCT)
    what = {"template_id": "t20"} if kind == "coupon" else {"sku": "tea-gift"}
    draw_id = await start(node, {"title": "Lucky bag", "kind": kind, **what})
    done = node.draws.store.done

    async def dies(room_id: str, d_id: str) -> None:
        raise ConnectionError("the closer's process died here")

    monkeypatch.setattr(node.draws.store, "done", dies)
    with pytest.raises(ConnectionError):
        await node.draws.close(ROOM, draw_id)
    monkeypatch.setattr(node.draws.store, "done", done)
    # the sweeper of a later moment: the draw's end has passed, and the announce grace
    later = draw_service.now_ms() + 601_000 + draw_service.ANNOUNCE_GRACE_MS
    monkeypatch.setattr(draw_service, "now_ms", lambda: later)
    await node.draws.sweep()
    await node.draws.sweep()  # announced now: nothing more
    closes = [e for e in await node.engine.events_since(ROOM, 0) or [] if e["draw_id"] == draw_id]
    assert [e["type"] for e in closes] == ["draw_started", "draw_closed", "draw_closed"]
    winners = [w["uid"] for w in closes[-1]["winners"]]
    frames_per_winner = 2 if kind == "coupon" else 1
    await personals.until(2 * 3 * frames_per_winner)
    for uid in winners:
        first, second = personals.of(uid, "draw_won")
        if kind == "coupon":
            assert first["coupon"] == second["coupon"]
            assert len(await node.coupons.coupons_of(ROOM, uid)) == 1
        else:
            assert first["hold"] == second["hold"]
    sale = await node.sales.store.get_sale(ROOM, bag_id(draw_id))
    assert sale is not None and sale.config.stock - sale.available == 3
    units = await node.sales.store.holds(ROOM, bag_id(draw_id))
    assert sorted(u.uid for u in units) == sorted(winners)


@pytest.mark.parametrize("kind", ["coupon", "product"])
async def test_a_start_sent_again_after_an_outage_fills_one_bag(
    node: Node, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bag was set aside, then the store went away before the draw was stored: the
    host's start, sent again with its draw id, starts the draw on that same bag."""
    await node.coupons.put_template({**TEMPLATE, "total": 100}, "t20")
    await node.sales.put_product(PRODUCT)
    what = {"template_id": "t20"} if kind == "coupon" else {"sku": "tea-gift"}
    args = {
        "prize": {"title": "Bag", "kind": kind, **what},
        "winners": 3,
        "duration_s": 600,
        "draw_id": "bag-1",
    }
    create = node.draws.store.create

    async def away(d: Any) -> bool:
        raise Unavailable("the store went away here")

    monkeypatch.setattr(node.draws.store, "create", away)
    with pytest.raises(Unavailable):
        await node.draws.start_draw(ROOM, "host", args)
    monkeypatch.setattr(node.draws.store, "create", create)
    d = await node.draws.start_draw(ROOM, "host", args)
    assert d.id == "bag-1"
    with pytest.raises(Refusal) as refused:
        await node.draws.start_draw(ROOM, "host", args)
    assert refused.value.code == "draw_exists"
    assert refused.value.extra["draw"]["commitment"] == d.commitment
    sale = await node.sales.store.get_sale(ROOM, bag_id("bag-1"))
    assert sale is not None and sale.config.stock == 3
    if kind == "coupon":
        assert (await node.coupons.template("t20")).reserved == 3  # set aside once
    started = [e for e in await node.engine.events_since(ROOM, 0) or []]
    assert [e["type"] for e in started] == ["draw_started"]


async def test_a_cancelled_bag_gives_nothing(node: Node) -> None:
    await node.coupons.put_template({**TEMPLATE, "total": 100}, "t20")
    draw_id = await start(node, {"title": "Bag", "kind": "coupon", "template_id": "t20"})
    assert await node.draws.cancel(ROOM, draw_id, "host") is not None
    drop = await node.coupons.drop(ROOM, bag_id(draw_id))
    assert drop.remaining == 3 and drop.public()["status"] == "ended"
    with pytest.raises(Refusal) as refused:
        await node.coupons.claim(ROOM, bag_id(draw_id), VIEWERS[0], "late")
    assert refused.value.code == "ended"


@pytest.mark.parametrize(
    ("prize", "code"),
    [
        ({"kind": "coupon", "template_id": "nope"}, "no_such_template"),
        ({"kind": "coupon", "template_id": "few"}, "template_exhausted"),
        ({"kind": "coupon"}, "bad_field"),
        ({"kind": "coupon", "template_id": "t20", "sku": "tea-gift"}, "bad_field"),
        ({"kind": "product", "sku": "nope"}, "no_such_product"),
        ({"kind": "product", "sku": "bad sku!"}, "bad_field"),
        ({"kind": "voucher", "sku": "tea-gift"}, "bad_field"),
        ({"sku": "tea-gift"}, "bad_field"),
    ],
)
async def test_a_bag_that_cannot_be_filled_starts_no_draw(
    node: Node, prize: dict[str, Any], code: str
) -> None:
    await node.coupons.put_template({**TEMPLATE, "total": 100}, "t20")
    await node.coupons.put_template({**TEMPLATE, "total": 2}, "few")
    await node.sales.put_product(PRODUCT)
    args = {"prize": {"title": "Bag", **prize}, "winners": 3, "duration_s": 60}
    with pytest.raises(Refusal) as refused:
        await node.draws.start_draw(ROOM, "host", args)
    assert refused.value.code == code
    assert await node.engine.events_since(ROOM, 0) == []
