"""User-addressed frames and paced announcements, on every engine.

`send_personal` is how a frame for one user (an order paid, a coupon claimed by comment)
reaches that user's connections on whichever process holds them; `publish_paced` is how a
room announcement (the social proof of purchases) goes out at most once per window across
processes without losing a count.
"""

from __future__ import annotations

import asyncio

from liveroom.engine.base import Engine, Personal, new_event
from tests.contract.conftest import Recorder


async def test_a_personal_frame_reaches_every_subscribed_process_once_in_order(
    engine: Engine, peer: Engine, recorder: Recorder
) -> None:
    await peer.subscribe("r", recorder)
    await engine.publish("r", new_event("announce", n=1))
    frame = {"t": "order_paid", "title": "龙井 {250g}", "qty": 2, "nested": {"a": [1, "b"]}}
    await engine.send_personal("r", "buyer-1", frame)
    await engine.publish("r", new_event("announce", n=2))
    await recorder.until(lambda r: len(r.of("event")) == 2)
    assert [k for _, k, _ in recorder.items] == ["event", "personal", "event"]
    assert recorder.of("personal") == [Personal("buyer-1", frame)]


async def test_a_personal_frame_is_no_room_event(engine: Engine, recorder: Recorder) -> None:
    """Not in history and no seq: a viewer reconnecting with `since` is not sent it again,
    and other viewers' seqs have no gap."""
    await engine.subscribe("r", recorder)
    await engine.send_personal("r", "u1", {"t": "order_paid"})
    await recorder.until(lambda r: bool(r.of("personal")))
    assert await engine.events_since("r", 0) == []
    assert (await engine.publish("r", new_event("x")))["seq"] == 1


async def test_a_personal_frame_goes_only_to_rooms_subscribed(
    engine: Engine, peer: Engine, recorder: Recorder
) -> None:
    await peer.subscribe("a", recorder)
    await engine.send_personal("b", "u1", {"t": "order_paid", "room": "b"})
    await engine.send_personal("a", "u1", {"t": "order_paid", "room": "a"})
    await recorder.until(lambda r: bool(r.of("personal")))
    await asyncio.sleep(0.1)
    assert recorder.of("personal") == [Personal("u1", {"t": "order_paid", "room": "a"})]


def purchase(i: int) -> dict:
    return new_event("purchase", nick=f"N{i}", sku="tea", title="Tea", qty=1)


async def test_the_first_paced_item_goes_out_at_once_and_the_next_wait(
    engine: Engine, recorder: Recorder
) -> None:
    await engine.subscribe("r", recorder)
    first = await engine.publish_paced("r", "purchase", purchase(1), 60_000)
    assert first.event is not None and first.pending == 0
    assert (first.event["nick"], first.event["others"], first.event["seq"]) == ("N1", 0, 1)
    second = await engine.publish_paced("r", "purchase", purchase(2), 60_000)
    third = await engine.publish_paced("r", "purchase", purchase(3), 60_000)
    assert (second.event, second.pending, third.event, third.pending) == (None, 1, None, 2)
    assert third.next_at == second.next_at >= first.event["ts"] + 59_000
    flush = await engine.publish_paced("r", "purchase", None, 60_000)
    assert (flush.event, flush.pending) == (None, 2)  # the window has not passed
    await recorder.until(lambda r: bool(r.of("event")))
    assert [e["nick"] for e in recorder.of("event")] == ["N1"]
    assert await engine.events_since("r", 0) == [first.event]


async def test_what_waits_goes_out_as_one_event_when_the_slot_opens(engine: Engine) -> None:
    await engine.publish_paced("r", "purchase", purchase(1), 300)
    for i in range(2, 6):
        assert (await engine.publish_paced("r", "purchase", purchase(i), 300)).event is None
    await asyncio.sleep(0.35)
    flushed = await engine.publish_paced("r", "purchase", None, 300)
    assert flushed.event is not None and flushed.pending == 0
    # the newest purchase is the headline and stands for the three before it
    assert (flushed.event["nick"], flushed.event["others"]) == ("N5", 3)
    assert flushed.event["type"] == "purchase" and flushed.event["qty"] == 1
    nothing = await engine.publish_paced("r", "purchase", None, 300)
    assert (nothing.event, nothing.pending) == (None, 0)
    assert len(await engine.events_since("r", 0) or []) == 2


async def test_paces_are_per_room_and_per_name(engine: Engine) -> None:
    assert (await engine.publish_paced("a", "purchase", purchase(1), 60_000)).event
    assert (await engine.publish_paced("b", "purchase", purchase(2), 60_000)).event
    assert (await engine.publish_paced("a", "other", purchase(3), 60_000)).event
    assert (await engine.publish_paced("a", "purchase", purchase(4), 60_000)).event is None


async def test_concurrent_paced_items_from_two_processes_are_each_counted_once(
    engine: Engine, peer: Engine, recorder: Recorder
) -> None:
    """400 items from two processes at once: every one counted once, whatever the timing,
    and at most one event per window (1 s) from the first to the flush of the last."""
    await engine.subscribe("r", recorder)
    loop = asyncio.get_running_loop()
    began = loop.time()
    results = await asyncio.gather(
        *(
            (engine if i % 2 else peer).publish_paced("r", "purchase", purchase(i), 1000)
            for i in range(400)
        )
    )
    events = [r.event for r in results if r.event is not None]
    assert events and events[0]["others"] == 0  # the first went out at once
    async with asyncio.timeout(10):  # flush what waits, as a process's timer does
        while True:
            flushed = await peer.publish_paced("r", "purchase", None, 1000)
            if flushed.event is not None:
                events.append(flushed.event)
            if flushed.pending == 0 and flushed.event is None:
                break
            await asyncio.sleep(0.05)
    took_s = loop.time() - began
    assert sum(1 + e["others"] for e in events) == 400
    assert len(events) <= 2 + took_s, (len(events), took_s)
    await recorder.until(lambda r: len(r.of("event")) == len(events))
    assert [e["seq"] for e in recorder.of("event")] == list(range(1, len(events) + 1))
