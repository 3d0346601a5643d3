"""Lucky draws end to end: real `liveroom serve` processes, real sockets, real Redis."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from liveroom import tokens
from liveroom.draws import claim
from liveroom.rules import draw as rules
from tests.support.client import Client
from tests.support.server import ROOT, LiveServer, free_port

ROOM = "drawroom"
PRIZE = {"title": "Silk scarf", "image": "https://cdn.example/scarf.png", "claim_path": "/p/claim"}


@pytest.fixture
def two_servers(redis_url: str, key_prefix: str) -> Iterator[tuple[LiveServer, LiveServer]]:
    env = {"LIVEROOM_REDIS_URL": redis_url, "LIVEROOM_KEY_PREFIX": key_prefix}
    with LiveServer(env=env, port=free_port()) as a:
        with LiveServer(env=env, port=free_port()) as b:
            yield a, b


@pytest.fixture
def memory_server(key_prefix: str) -> Iterator[LiveServer]:
    env = {"LIVEROOM_REDIS_URL": "", "LIVEROOM_KEY_PREFIX": key_prefix}
    with LiveServer(env=env, port=free_port()) as srv:
        yield srv


async def join(srv: LiveServer, uid: str, *, tier: str = "", host: bool = False) -> Client:
    token = tokens.mint_for(
        srv.secret, uid, room=ROOM, role="host" if host else "viewer", tier=tier, nick=f"N-{uid}"
    )
    return await Client.connect(srv.ws_url(ROOM, token))


def fetch(srv: LiveServer, draw_id: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{srv.url}/api/draws/{ROOM}/{draw_id}", timeout=10) as resp:
        return json.loads(resp.read())


def verify_with_cli(srv: LiveServer, draw_id: str) -> tuple[int, dict[str, Any]]:
    url = f"{srv.url}/api/draws/{ROOM}/{draw_id}"
    proc = subprocess.run(
        [sys.executable, "-m", "liveroom", "verify-draw", "--url", url, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return proc.returncode, json.loads(proc.stdout)


def is_draw(etype: str, draw_id: str | None = None) -> Any:
    return lambda e: e.get("type") == etype and draw_id in (None, e.get("draw_id"))


async def event(client: Client, etype: str, draw_id: str, timeout: float = 10) -> dict:
    """The room event, whether it already came in a frame skipped while awaiting a reply."""
    match = is_draw(etype, draw_id)
    for frame in client.seen:
        for e in frame.get("events", []) if frame.get("t") == "tick" else []:
            if match(e):
                return e
    return await client.events(match, timeout)


async def comment_entry(client: Client, text: str) -> dict[str, Any]:
    """Comment, and return the private draw_entry frame it caused (it may beat the ack)."""
    before = len(client.seen)
    sent = await client.request({"t": "comment", "text": text})
    assert sent["t"] == "ack"  # the comment itself is an ordinary comment
    for frame in client.seen[before:]:
        if frame.get("t") == "draw_entry":
            return frame
    return await client.expect("draw_entry")


async def close_all(*clients: Client) -> None:
    await asyncio.gather(*(c.close() for c in clients))


async def test_button_draw_across_two_processes_is_verifiable(
    two_servers: tuple[LiveServer, LiveServer],
) -> None:
    a, b = two_servers
    host = await join(a, "host", host=True)
    viewers = [await join(a if i % 2 else b, f"v{i}") for i in range(6)]
    watcher = await join(b, "watcher-on-b")
    started_ack = await host.request(
        {"t": "start_draw", "prize": PRIZE, "winners": 3, "duration_s": 600}
    )
    assert started_ack["t"] == "ack"
    draw_id = started_ack["draw_id"]
    started = await event(watcher, "draw_started", draw_id)
    assert started["commitment"] == started_ack["commitment"]
    assert started["mode"] == "button" and started["winners_count"] == 3
    assert started["by"] == "host" and started["prize"] == PRIZE
    assert "seed" not in started

    acks = await asyncio.gather(
        *(v.request({"t": "enter_draw", "draw_id": draw_id}) for v in viewers)
    )
    assert all(ack["t"] == "ack" and ack["entered"] for ack in acks)
    assert sorted(ack["entrants"] for ack in acks) == [1, 2, 3, 4, 5, 6]  # one shared count
    again = await viewers[0].request({"t": "enter_draw", "draw_id": draw_id})
    assert again["t"] == "ack" and again["duplicate"] is True and again["entrants"] == 6
    # the live entrant count reaches viewers on both processes as state
    await watcher.until(lambda f: f.get("draw", {}).get(draw_id) == 6)
    assert fetch(a, draw_id)["entrants_count"] == 6
    assert "seed" not in fetch(a, draw_id)  # nothing revealed while open

    closed_ack = await host.request({"t": "close_draw", "draw_id": draw_id})
    assert closed_ack["t"] == "ack"
    closed = await event(watcher, "draw_closed", draw_id)
    assert closed["entrants_count"] == 6
    assert hashlib.sha256(closed["seed"].encode()).hexdigest() == started["commitment"]
    winners = [w["uid"] for w in closed["winners"]]
    assert len(set(winners)) == 3 and set(winners) <= {f"v{i}" for i in range(6)}
    assert all(w["nick"] == f"N-{w['uid']}" for w in closed["winners"])

    # every viewer sees the same result; winners (on either process) got a claim ticket
    for i, v in enumerate(viewers):
        await event(v, "draw_closed", draw_id)
        won = [f for f in v.seen if f.get("t") == "draw_won"]
        if f"v{i}" in winners:
            assert len(won) == 1 and won[0]["draw_id"] == draw_id
            ticket = won[0]["claim"]["ticket"]
            assert won[0]["claim"]["path"] == f"/p/claim?ticket={ticket}"
            claims = claim.verify_claim(a.secret, ticket)
            assert (claims["uid"], claims["draw"], claims["room"]) == (f"v{i}", draw_id, ROOM)
        else:
            assert won == []

    # anyone can recompute the result from the public record
    record = fetch(b, draw_id)
    assert record["state"] == "closed" and record["seed"] == closed["seed"]
    assert record["entrants"] == sorted(f"v{i}" for i in range(6))
    assert [w["uid"] for w in record["winners"]] == winners
    status, report = verify_with_cli(a, draw_id)
    assert status == 0 and report["ok"] and report["winners"] == winners
    assert report["commitment_matches"] and report["winners_match"]

    late = await viewers[1].request({"t": "enter_draw", "draw_id": draw_id})
    assert (late["t"], late["code"]) == ("error", "draw_closed")
    twice = await host.request({"t": "close_draw", "draw_id": draw_id})
    assert (twice["t"], twice["code"]) == ("error", "draw_closed")
    await close_all(host, watcher, *viewers)


async def test_phrase_draw_enters_commenters_and_closes_itself(
    two_servers: tuple[LiveServer, LiveServer],
) -> None:
    a, b = two_servers
    host = await join(b, "host", host=True)
    members = [await join(a if i % 2 else b, f"m{i}", tier="member") for i in range(4)]
    outsider = await join(a, "outsider")
    ack = await host.request(
        {
            "t": "start_draw",
            "prize": PRIZE,
            "winners": 2,
            "duration_s": 8,  # long enough for every entry below on a busy machine
            "mode": "phrase",
            "phrase": "好物666",
            "eligibility": {"members_only": True},
        }
    )
    draw_id = ack["draw_id"]
    started = await event(members[0], "draw_started", draw_id)
    assert started["phrase"] == "好物666" and started["eligibility"]["members_only"]

    texts = ["好物666", "我要 好物６６６！", "ＨＡＯ 好物 666", "好物666 好物666"]
    entries = [await comment_entry(m, text) for m, text in zip(members, texts, strict=True)]
    assert all(e["draw_id"] == draw_id and e["entered"] is True for e in entries)
    entry0 = entries[0]
    dup = await comment_entry(members[0], "好物666 again")
    assert dup["entered"] is True and dup["duplicate"] is True and dup["entrants"] == 4
    # a comment without the phrase enters nobody
    other = await members[0].request({"t": "comment", "text": "好物 is nice"})
    assert other["t"] == "ack"

    # not a member: refused, privately, with the reason
    refused = await comment_entry(outsider, "好物666")
    assert refused["entered"] is False and refused["code"] == "not_eligible_member"
    # a phrase draw cannot be entered with the button
    button = await members[1].request({"t": "enter_draw", "draw_id": draw_id})
    assert (button["t"], button["code"]) == ("error", "wrong_entry_mode")

    # nobody closes it: the countdown does
    closed = await event(outsider, "draw_closed", draw_id, timeout=20)
    assert closed["entrants_count"] == 4
    assert closed.get("by") is None
    assert [f for f in members[0].seen if f.get("t") == "draw_entry"] == [entry0, dup]
    expected = rules.pick_winners(closed["seed"], [f"m{i}" for i in range(4)], 2)
    assert [w["uid"] for w in closed["winners"]] == expected
    status, report = verify_with_cli(b, draw_id)
    assert status == 0 and report["winners"] == expected
    # after the close the phrase is just a comment (a draw_entry would come before the ack)
    before = len(members[2].seen)
    late = await members[2].request({"t": "comment", "text": "好物666"})
    assert late["t"] == "ack"
    assert not [f for f in members[2].seen[before:] if f.get("t") == "draw_entry"]
    await close_all(host, outsider, *members)


async def test_a_start_sent_again_with_its_draw_id_starts_one_draw(
    two_servers: tuple[LiveServer, LiveServer],
) -> None:
    """The host's panel lost its connection while a start was on the way and sends it again
    from wherever it reconnects, maybe twice at once: one draw, one announcement."""
    a, b = two_servers
    hosts = [await join(a if i % 2 else b, "host", host=True) for i in range(8)]
    watcher = await join(b, "watcher")
    start = {"t": "start_draw", "prize": PRIZE, "winners": 1, "duration_s": 600}
    answers = await asyncio.gather(*(h.request({**start, "draw_id": "tea-1"}) for h in hosts))
    [ack] = [r for r in answers if r["t"] == "ack"]
    assert ack["draw_id"] == "tea-1"
    # a repeat that comes while the first is still telling the room is asked to resend
    assert {r["code"] for r in answers if r["t"] == "error"} <= {"draw_exists", "unavailable"}
    resent = [
        h.request({**start, "draw_id": "tea-1"})
        for h, r in zip(hosts, answers, strict=True)
        if r.get("code") == "unavailable"
    ]
    answers = [r for r in answers if r.get("code") != "unavailable"] + list(
        await asyncio.gather(*resent)
    )
    refused = [r for r in answers if r["t"] == "error"]
    assert len(refused) == 7 and {r["code"] for r in refused} == {"draw_exists"}
    assert {r["draw"]["commitment"] for r in refused} == {ack["commitment"]}
    assert all(r["draw"]["state"] == "open" for r in refused)
    # closed: the same id still finds it, and starts nothing
    assert (await hosts[0].request({"t": "close_draw", "draw_id": "tea-1"}))["t"] == "ack"
    late = await hosts[1].request({**start, "draw_id": "tea-1"})
    assert (late["code"], late["draw"]["state"]) == ("draw_exists", "closed")
    await event(watcher, "draw_closed", "tea-1")  # after any start, in the room's order
    started = [
        e
        for f in watcher.seen
        if f.get("t") == "tick"
        for e in f.get("events", [])
        if e.get("type") == "draw_started"
    ]
    assert [e["draw_id"] for e in started] == ["tea-1"]
    # a start without an id is a new draw each time; a bad id is refused
    unnamed = [await hosts[0].request(start) for _ in range(2)]
    assert len({r["draw_id"] for r in unnamed}) == 2
    for bad in ("", "x" * 61, "tea 1", "茶", 7):
        r = await hosts[0].request({**start, "draw_id": bad})
        assert (r["t"], r["code"]) == ("error", "bad_field"), bad
    await close_all(watcher, *hosts)


async def test_ineligible_and_bad_entries_get_a_reason(
    two_servers: tuple[LiveServer, LiveServer],
) -> None:
    a, b = two_servers
    host = await join(a, "host", host=True)
    member = await join(b, "mem", tier="member")
    vip = await join(a, "vip", tier="vip")
    anon = await Client.connect(b.ws_url(ROOM))
    vip_only = await host.request(
        {"t": "start_draw", "prize": PRIZE, "winners": 1, "duration_s": 600,
         "eligibility": {"tiers": ["vip"]}}
    )  # fmt: skip
    long_watch = await host.request(
        {"t": "start_draw", "prize": PRIZE, "winners": 1, "duration_s": 600,
         "eligibility": {"min_watch_s": 3600}}
    )  # fmt: skip
    r = await member.request({"t": "enter_draw", "draw_id": vip_only["draw_id"]})
    assert (r["t"], r["code"]) == ("error", "not_eligible_member")
    r = await vip.request({"t": "enter_draw", "draw_id": vip_only["draw_id"]})
    assert r["t"] == "ack" and r["entered"]
    r = await member.request({"t": "enter_draw", "draw_id": long_watch["draw_id"]})
    assert (r["t"], r["code"]) == ("error", "not_eligible_watch_time")
    r = await anon.request({"t": "enter_draw", "draw_id": vip_only["draw_id"]})
    assert (r["t"], r["code"]) == ("error", "login_required")
    r = await vip.request({"t": "enter_draw", "draw_id": "nope"})
    assert (r["t"], r["code"]) == ("error", "draw_not_found")
    r = await vip.request({"t": "start_draw", "prize": PRIZE, "winners": 1, "duration_s": 5})
    assert (r["t"], r["code"]) == ("error", "forbidden")
    for bad in (
        {"prize": {"title": ""}, "winners": 1, "duration_s": 60},
        {"prize": PRIZE, "winners": 0, "duration_s": 60},
        {"prize": PRIZE, "winners": 1, "duration_s": 60, "mode": "dice"},
        {"prize": PRIZE, "winners": 1, "duration_s": 60, "mode": "phrase"},
        {"prize": PRIZE, "winners": 1, "duration_s": 60, "eligibility": {"min_watch_s": -5}},
    ):
        r = await host.request({"t": "start_draw", **bad})
        assert (r["t"], r["code"]) == ("error", "bad_field"), bad
    # the host cancels; the seed is revealed, nobody wins, entries stop
    cancel = await host.request({"t": "cancel_draw", "draw_id": vip_only["draw_id"]})
    assert cancel["t"] == "ack"
    cancelled = await event(member, "draw_cancelled", vip_only["draw_id"])
    assert "winners" not in cancelled
    record = fetch(a, vip_only["draw_id"])
    assert record["state"] == "cancelled" and record["winners"] == []
    assert hashlib.sha256(record["seed"].encode()).hexdigest() == record["commitment"]
    r = await vip.request({"t": "enter_draw", "draw_id": vip_only["draw_id"]})
    assert (r["t"], r["code"]) == ("error", "draw_closed")
    r = await host.request({"t": "close_draw", "draw_id": vip_only["draw_id"]})
    assert (r["t"], r["code"], r["state"]) == ("error", "draw_closed", "cancelled")
    await close_all(host, member, vip, anon)


async def test_welcome_shows_a_draw_under_way(memory_server: LiveServer) -> None:
    host = await join(memory_server, "host", host=True)
    early = await join(memory_server, "early")
    ack = await host.request({"t": "start_draw", "prize": PRIZE, "winners": 1, "duration_s": 600})
    await early.request({"t": "enter_draw", "draw_id": ack["draw_id"]})
    late = await join(memory_server, "late")
    assert late.welcome is not None
    [shown] = late.welcome["draws"]
    assert shown["draw_id"] == ack["draw_id"] and shown["entrants"] == 1
    assert shown["commitment"] == ack["commitment"] and "seed" not in shown
    assert shown["entered"] is False
    early_again = await join(memory_server, "early")  # a second device, or a reconnect
    assert early_again.welcome is not None and early_again.welcome["draws"][0]["entered"]
    await early_again.close()
    await late.request({"t": "enter_draw", "draw_id": ack["draw_id"]})
    done = await host.request({"t": "close_draw", "draw_id": ack["draw_id"]})
    won_by = done["winners"][0]["uid"]
    assert won_by in ("early", "late")
    winner = early if won_by == "early" else late
    await winner.expect("draw_won")
    # a winner who drops and comes back still gets the ticket, in the welcome
    back = await join(memory_server, won_by)
    assert back.welcome is not None
    [again] = back.welcome["draws_won"]
    assert again["draw_id"] == ack["draw_id"] and again["prize"]["title"] == PRIZE["title"]
    assert claim.verify_claim(memory_server.secret, again["claim"]["ticket"])["uid"] == won_by
    assert back.welcome["draws"] == []
    await back.close()
    status, report = verify_with_cli(memory_server, ack["draw_id"])
    assert status == 0 and report["winners"] == [won_by]
    await close_all(host, early, late)


def test_public_record_errors(memory_server: LiveServer) -> None:
    for path, code in ((f"/api/draws/{ROOM}/nope", 404), ("/api/draws/bad%20room/x", 400)):
        with pytest.raises(urllib.request.HTTPError) as err:
            urllib.request.urlopen(memory_server.url + path, timeout=10)
        assert err.value.code == code
        assert "error" in json.loads(err.value.read())


async def test_a_crowd_entering_at_once_is_counted_exactly(
    two_servers: tuple[LiveServer, LiveServer],
) -> None:
    """200 viewers on two processes press the button at the same moment; 50 of them also
    from a second device on the other process."""
    a, b = two_servers
    host = await join(a, "host", host=True)
    crowd = await asyncio.gather(*(join(a if i % 2 else b, f"c{i:03d}") for i in range(200)))
    twins = await asyncio.gather(*(join(b if i % 2 else a, f"c{i:03d}") for i in range(50)))
    ack = await host.request({"t": "start_draw", "prize": PRIZE, "winners": 5, "duration_s": 600})
    draw_id = ack["draw_id"]
    await asyncio.gather(*(event(c, "draw_started", draw_id) for c in crowd + twins))
    presses = crowd + twins
    replies = await asyncio.gather(
        *(c.request({"t": "enter_draw", "draw_id": draw_id}) for c in presses)
    )
    assert all(r["t"] == "ack" and r["entered"] for r in replies)
    assert sum(not r["duplicate"] for r in replies) == 200
    assert sorted(r["entrants"] for r in replies if not r["duplicate"]) == list(range(1, 201))
    await crowd[0].until(lambda f: f.get("draw", {}).get(draw_id) == 200, timeout=15)
    closed = await host.request({"t": "close_draw", "draw_id": draw_id})
    assert closed["entrants_count"] == 200 and len(closed["winners"]) == 5
    record = fetch(b, draw_id)
    assert record["entrants"] == [f"c{i:03d}" for i in range(200)]
    expected = rules.pick_winners(record["seed"], record["entrants"], 5)
    assert [w["uid"] for w in closed["winners"]] == expected
    # every device of every winner, on either process, gets the ticket
    winner_devices = [c for c in crowd + twins if c.welcome["you"]["uid"] in expected]
    for device in winner_devices:
        if not any(f.get("t") == "draw_won" for f in device.seen):
            await device.expect("draw_won")
    await close_all(host, *crowd, *twins)
