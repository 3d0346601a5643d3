"""Comments: ban, mute, slow mode, rate limit, duplicate client ids, deletes, snapshots."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from liveroom.engine.base import Engine, new_event
from tests.contract.conftest import MakeEngine, Recorder

_n = 0


def comment(uid: str = "amy", text: str = "hi", host: bool = False) -> dict[str, Any]:
    global _n
    _n += 1
    event = new_event("comment", id=f"c{_n}", uid=uid, nick=uid.title(), text=text)
    if host:
        event["host"] = True
    return event


async def test_an_accepted_comment_is_published_and_kept(engine: Engine) -> None:
    event = comment()
    result = await engine.post_comment("r", "amy", event, "m1")
    assert result.code == "" and not result.duplicate
    assert result.event == {**event, "seq": 1}
    assert await engine.events_since("r", 0) == [result.event]


async def test_a_retried_client_id_gets_the_original_comment(engine: Engine, peer: Engine) -> None:
    first = await engine.post_comment("r", "amy", comment(text="first"), "m1")
    again = await peer.post_comment("r", "amy", comment(text="retry"), "m1")
    assert again.duplicate and again.event == first.event
    # the same id from another user, or no id at all, is a new comment
    other = await engine.post_comment("r", "bob", comment("bob"), "m1")
    plain = await engine.post_comment("r", "amy", comment(), None)
    assert not other.duplicate and not plain.duplicate
    assert [e["seq"] for e in await engine.events_since("r", 0)] == [1, 2, 3]


async def test_concurrent_retries_publish_the_comment_once(engine: Engine, peer: Engine) -> None:
    results = await asyncio.gather(
        *((engine, peer)[i % 2].post_comment("r", "amy", comment(), "m1") for i in range(20))
    )
    originals = [r for r in results if not r.duplicate]
    assert len(originals) == 1
    assert all(r.event == originals[0].event for r in results)
    assert await engine.events_since("r", 0) == [originals[0].event]


async def test_a_retry_still_gets_its_comment_after_a_ban(engine: Engine) -> None:
    first = await engine.post_comment("r", "amy", comment(), "m1")
    await engine.publish("r", new_event("ban", uid="amy"), moderation=("amy", -1))
    again = await engine.post_comment("r", "amy", comment(), "m1")
    assert again.duplicate and again.event == first.event


async def test_client_ids_are_forgotten_after_the_dedup_ttl(make_engine: MakeEngine) -> None:
    eng = await make_engine(dedup_ttl_s=0.3)
    first = await eng.post_comment("r", "amy", comment(), "m1")
    await asyncio.sleep(0.45)
    later = await eng.post_comment("r", "amy", comment(), "m1")
    assert not later.duplicate and later.event["seq"] == first.event["seq"] + 1


async def test_banned_users_are_refused_until_unbanned(engine: Engine, peer: Engine) -> None:
    await engine.publish("r", new_event("ban", uid="amy"), moderation=("amy", -1))
    refused = await peer.post_comment("r", "amy", comment(), "m1")
    assert refused.event is None and refused.code == "banned" and refused.message
    assert (await engine.post_comment("r", "bob", comment("bob"), None)).event is not None
    await engine.publish("r", new_event("unban", uid="amy"), moderation=("amy", 0))
    assert (await peer.post_comment("r", "amy", comment(), "m1")).event is not None
    assert [e["type"] for e in await engine.events_since("r", 0)] == [
        "ban",
        "comment",
        "unban",
        "comment",
    ]


async def test_a_mute_holds_until_it_expires(engine: Engine, peer: Engine) -> None:
    until = time.time() + 0.8
    await engine.publish("r", new_event("mute", uid="amy"), moderation=("amy", until))
    refused = await peer.post_comment("r", "amy", comment(), None)
    assert refused.code == "muted" and 0 < refused.retry_after <= 0.8
    await asyncio.sleep(max(0.0, until - time.time()) + 0.05)
    assert (await peer.post_comment("r", "amy", comment(), None)).event is not None


async def test_slow_mode_spaces_each_users_comments(make_engine: MakeEngine) -> None:
    eng = await make_engine(comment_burst=10)
    await eng.publish("r", new_event("slow"), room_changes={"slow_mode": 1})
    assert (await eng.post_comment("r", "amy", comment(), None)).event is not None
    refused = await eng.post_comment("r", "amy", comment(), None)
    assert refused.code == "slow_mode" and 0 < refused.retry_after <= 1
    # others are not held back by amy, and the host is never held back
    assert (await eng.post_comment("r", "bob", comment("bob"), None)).event is not None
    for _ in range(3):
        assert (await eng.post_comment("r", "h", comment("h", host=True), None)).event
    await asyncio.sleep(refused.retry_after + 0.05)
    assert (await eng.post_comment("r", "amy", comment(), None)).event is not None


async def test_slow_mode_off_lets_comments_through(make_engine: MakeEngine) -> None:
    eng = await make_engine(comment_burst=10)
    await eng.publish("r", new_event("slow"), room_changes={"slow_mode": 30})
    await eng.post_comment("r", "amy", comment(), None)
    await eng.publish("r", new_event("slow"), room_changes={"slow_mode": 0})
    assert (await eng.post_comment("r", "amy", comment(), None)).event is not None


async def test_rate_limit_allows_a_burst_then_refills(make_engine: MakeEngine) -> None:
    eng = await make_engine(comment_rate=2.0, comment_burst=3)
    for _ in range(3):
        assert (await eng.post_comment("r", "amy", comment(), None)).event is not None
    refused = await eng.post_comment("r", "amy", comment(), None)
    assert refused.code == "rate_limited" and refused.retry_after == 0.5
    assert (await eng.post_comment("r", "bob", comment("bob"), None)).event is not None
    await asyncio.sleep(0.55)  # one token back at 2/s
    assert (await eng.post_comment("r", "amy", comment(), None)).event is not None
    assert (await eng.post_comment("r", "amy", comment(), None)).code == "rate_limited"
    assert [e["uid"] for e in await eng.events_since("r", 0)] == ["amy"] * 3 + ["bob", "amy"]


async def test_rate_limit_holds_across_processes_under_concurrency(
    make_engine: MakeEngine, engine_kind: str
) -> None:
    a = await make_engine(comment_rate=0.01, comment_burst=5)
    b = a if engine_kind == "memory" else await make_engine(comment_rate=0.01, comment_burst=5)
    results = await asyncio.gather(
        *((a, b)[i % 2].post_comment("r", "amy", comment(), None) for i in range(40))
    )
    assert sum(r.event is not None for r in results) == 5
    assert {r.code for r in results if r.event is None} == {"rate_limited"}


async def test_the_host_bypasses_the_rate_limit(make_engine: MakeEngine) -> None:
    eng = await make_engine(comment_rate=0.01, comment_burst=2)
    for _ in range(6):
        assert (await eng.post_comment("r", "h", comment("h", host=True), None)).event


async def test_refused_comments_take_no_seq(make_engine: MakeEngine) -> None:
    eng = await make_engine(comment_rate=0.01, comment_burst=1)
    await eng.post_comment("r", "amy", comment(), None)
    await eng.post_comment("r", "amy", comment(), None)
    assert (await eng.post_comment("r", "bob", comment("bob"), None)).event["seq"] == 2


async def test_deleting_a_comment_happens_once(engine: Engine, peer: Engine) -> None:
    posted = await engine.post_comment("r", "amy", comment(), None)
    assert await engine.comment_deleted("r", posted.event["id"]) is True
    assert await peer.comment_deleted("r", posted.event["id"]) is False
    # history is what happened; the delete is the host's separate event
    assert await engine.events_since("r", 0) == [posted.event]


async def test_snapshot_holds_the_last_standing_comments(make_engine: MakeEngine) -> None:
    eng = await make_engine(comment_burst=100)
    posted = []
    for i in range(8):
        posted.append((await eng.post_comment("r", "amy", comment(text=f"m{i}"), None)).event)
        await eng.publish("r", new_event("announce", text=f"a{i}"))
    await eng.comment_deleted("r", posted[6]["id"])
    await eng.add_likes("r", 9)
    await eng.report_presence("r", 4)
    snap = await eng.snapshot("r", 3)
    assert snap.comments == [posted[4], posted[5], posted[7]]
    assert (snap.seq, snap.likes, snap.viewers) == (16, 9, 4)
    assert snap.room.id == "r"
    assert (await eng.snapshot("r", 30)).comments == posted[:6] + posted[7:]


async def test_snapshot_finds_comments_behind_many_other_events(make_engine: MakeEngine) -> None:
    eng = await make_engine(history_size=1000)
    old = (await eng.post_comment("r", "amy", comment(), None)).event
    for i in range(400):
        await eng.publish("r", new_event("announce", n=i))
    assert (await eng.snapshot("r", 5)).comments == [old]


async def test_snapshot_of_a_fresh_room(engine: Engine) -> None:
    snap = await engine.snapshot("fresh", 30)
    assert (snap.seq, snap.likes, snap.viewers, snap.comments) == (0, 0, 0, [])


async def test_snapshot_without_recent_comments_has_none(engine: Engine) -> None:
    await engine.post_comment("r", "amy", comment(), None)
    assert (await engine.snapshot("r", 0)).comments == []


async def test_a_burst_of_comments_keeps_seq_order_answers_and_ids(
    make_engine: MakeEngine, engine_kind: str, recorder: Recorder
) -> None:
    """Comments arriving together (one batch, one script call and one pub/sub message on
    Redis) are each decided as if alone: a banned author and a flooding one are refused
    without failing their neighbours, a client id repeated inside the burst publishes once,
    and every process sees the accepted ones once each, in seq order, as the history has
    them."""
    engine = await make_engine(comment_rate=0.001, comment_burst=3)
    # another process (the memory engine is one process: the same one)
    listener = engine if engine_kind == "memory" else await make_engine(node_id="listener")
    await listener.subscribe("r", recorder)
    await engine.publish("r", new_event("ban", uid="eve"), moderation=("eve", -1))
    burst = []
    for i in range(60):
        uid = ("amy", "bob", "eve", "dan")[i % 4]
        client_id = f"m{(i // 4) % 5}" if uid == "amy" else f"b{i}"  # amy repeats her ids
        burst.append((uid, comment(uid, text=f"t{i}"), client_id))
    burst.append(("host", comment("host", text="from the host", host=True), None))
    results = await asyncio.gather(*(engine.post_comment("r", u, e, c) for u, e, c in burst))

    by_author: dict[str, list[Any]] = {}
    for (uid, _, _), result in zip(burst, results, strict=True):
        by_author.setdefault(uid, []).append(result)
    assert {r.code for r in by_author["eve"]} == {"banned"}
    # bob and dan: the bucket's three, then refusals, each for its own comment
    for uid in ("bob", "dan"):
        assert [r.code for r in by_author[uid]] == [""] * 3 + ["rate_limited"] * 12
    # amy cycles through 5 client ids: the first three are accepted, their repeats are
    # duplicates of them; the others are refused by the rate limit (and never kept)
    amy = [(c, r) for (u, _, c), r in zip(burst, results, strict=True) if u == "amy"]
    accepted = {c: r.event for c, r in amy if r.event is not None and not r.duplicate}
    assert len(accepted) == 3
    for client_id, result in amy:
        if result.duplicate:
            assert result.event == accepted[client_id]
        elif result.event is None:
            assert result.code == "rate_limited" and client_id not in accepted
    assert by_author["host"][0].event is not None

    published = [r.event for r in results if r.event is not None and not r.duplicate]
    seqs = sorted(e["seq"] for e in published)
    assert seqs == list(range(2, 2 + len(published)))  # seq 1 is the ban
    history = await engine.events_since("r", 1)
    assert history == sorted(published, key=lambda e: e["seq"])
    await recorder.until(lambda r: len(r.of("event")) == len(published) + 1)
    assert recorder.of("event")[1:] == history


async def test_moderation_read_together_answers_each_viewer(engine: Engine) -> None:
    """Viewers joining together have their moderation read together (one HMGET on Redis):
    each still gets its own."""
    until = time.time() + 600
    await engine.publish("r", new_event("ban", uid="u3"), moderation=("u3", -1))
    await engine.publish("r", new_event("mute", uid="u5"), moderation=("u5", until))
    mods = await asyncio.gather(*(engine.moderation("r", f"u{i}") for i in range(40)))
    assert [i for i, m in enumerate(mods) if m.banned] == [3]
    assert [i for i, m in enumerate(mods) if m.muted(time.time())] == [5]
    assert mods[5].muted_until == pytest.approx(until)
