"""Group messages of a show against a real HTTP stand-in for WeCom: every reminder, the live
notice and the sale and draw notices arrive exactly once with two `liveroom serve`
processes on one Redis, failures are retried, a killed sender loses nothing, a moved show's
reminders move, a cancelled show's are dropped, and no webhook key leaks."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable

from liveroom import tokens
from liveroom.jobs import now_ms
from tests.sales.merchant import Merchant
from tests.shows.conftest import FAST
from tests.support.client import Client
from tests.support.server import LiveServer
from tests.support.wecom import HANG, HTTP_502, RATE_LIMITED, FakeWeCom

KEY_A = "aaaaaaaa-1111-2222-3333-444444444444"
KEY_B = "bbbbbbbb-5555-6666-7777-888888888888"


async def until(pred: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def kinds(posts: list) -> Counter:
    """What each delivered post was, by the words our default templates start with."""
    out: Counter = Counter()
    for p in posts:
        content = p.body.get("text", p.body.get("markdown", {}))["content"]
        out[(p.key, content.split("】")[0].lstrip("【"))] += 1
    return out


def assert_wecom_json(body: dict, mention_all: bool) -> None:
    assert body["msgtype"] == "text"
    text = body["text"]
    assert isinstance(text["content"], str) and len(text["content"].encode()) <= 2048
    assert ("mentioned_list" in text) == mention_all
    if mention_all:
        assert text["mentioned_list"] == ["@all"]


async def test_every_message_arrives_once_from_two_processes(
    redis_url: str, key_prefix: str, wecom: FakeWeCom
) -> None:
    env = {**FAST, "LIVEROOM_REDIS_URL": redis_url, "LIVEROOM_KEY_PREFIX": key_prefix}
    wecom.script = {KEY_A: [HTTP_502], KEY_B: [RATE_LIMITED]}  # each robot's first post fails
    room = "tea-night"
    with LiveServer(env=env) as a, LiveServer(env=env) as b:
        merchant = Merchant(a.url, a.secret)
        try:
            starts_at = now_ms() + 7000
            body = {
                "title": "Tea night",
                "starts_at": starts_at,
                "cover": "https://cdn.example.com/cover.jpg",
                "reminders": {
                    "webhooks": [wecom.url(KEY_A), wecom.url(KEY_B)],
                    "offsets_s": [6, 4, 2],
                },
                "notices": {"sale": True, "draw": True},
            }
            answer = await merchant.ok("PUT", f"/api/rooms/{room}", body)
            assert answer["show"]["status"] == "scheduled"
            assert answer["show"]["reminders"]["offsets_s"] == [6, 4, 2]
            await until(lambda: len(wecom.delivered()) >= 6)  # three reminders, two groups
            host_token = tokens.mint_for(b.secret, "host", room=room, role="host")
            async with await Client.connect(b.ws_url(room, host_token)) as host:
                assert host.welcome["room"]["status"] == "scheduled"
                # delivered is not yet done: the sender still has to note it, and going live
                # cancels a reminder whose sender has not (its outcome is then ignored)
                deadline = time.monotonic() + 20
                while sum(
                    m["state"] == "done"
                    for m in (await host.request({"t": "show_status"}))["messages"]
                ) < 6:  # fmt: skip
                    assert time.monotonic() < deadline, "reminders not done"
                    await asyncio.sleep(0.05)
                assert (await host.request({"t": "go_live"}))["t"] == "ack"
                await merchant.ok(
                    "POST",
                    "/api/products",
                    {"sku": "tea-01", "title": "Longjing", "price_fen": 16800},
                )
                await merchant.ok(
                    "POST", f"/api/rooms/{room}/sales", {"sku": "tea-01", "stock": 50}
                )
                prize = {"prize": {"title": "Tea set"}, "winners": 1, "duration_s": 60}
                assert (await host.request({"t": "start_draw", **prize}))["t"] == "ack"
                await until(lambda: len(wecom.delivered()) >= 12)
                await asyncio.sleep(1.5)  # anything sent twice would have come by now
                status = await host.request({"t": "show_status"})
            delivered = wecom.delivered()
            assert kinds(delivered) == Counter(
                {
                    **{(k, "直播预告"): 3 for k in (KEY_A, KEY_B)},
                    **{(k, "正在直播"): 1 for k in (KEY_A, KEY_B)},
                    **{(k, "限时秒杀"): 1 for k in (KEY_A, KEY_B)},
                    **{(k, "福利抽奖"): 1 for k in (KEY_A, KEY_B)},
                }
            )
            assert len(wecom.posts) == 14  # and the two failed first posts, retried
            for p in delivered:
                reminder_or_live = "直播预告" in json.dumps(
                    p.body, ensure_ascii=False
                ) or "正在直播" in json.dumps(p.body, ensure_ascii=False)
                assert_wecom_json(p.body, mention_all=reminder_or_live)
                assert (
                    "Tea night" in p.body["text"]["content"]
                    or "Longjing" in p.body["text"]["content"]
                    or "Tea set" in p.body["text"]["content"]
                )
            assert (
                "https://live.example.com/watch?room=tea-night"
                in delivered[0].body["text"]["content"]
            )
            # each group's reminders at 6, 4 and 2 s before the start: never before it is due,
            # and not held back to go out at once (the first came before the last was due)
            for key in (KEY_A, KEY_B):
                sent = sorted(
                    p.at * 1000
                    for p in delivered
                    if p.key == key and "直播预告" in p.body["text"]["content"]
                )
                due = [starts_at - s * 1000 for s in (6, 4, 2)]
                assert all(at >= when for at, when in zip(sent, due, strict=True)), (sent, due)
                assert sent[0] < due[-1], (sent, due)
            messages = status["messages"]
            assert len(messages) == 12 and {m["state"] for m in messages} == {"done"}
            assert {m["attempts"] for m in messages} == {1, 2}
            events = (await merchant.ok("GET", f"/api/rooms/{room}/events?count=1000"))["events"]
            notices = Counter((e["status"]) for e in events if e["type"] == "show_notice")
            assert notices["sent"] == 12 and notices["retrying"] == 2
            types = [e["type"] for e in events]
            assert types.index("show_scheduled") < types.index("show_live")
            # the robots' keys are nowhere: API answers, the stream, the servers' logs
            shown = json.dumps(await merchant.ok("GET", f"/api/rooms/{room}")) + json.dumps(events)
            logs = a.log() + b.log()
            assert "retrying" in logs or "HTTP 502" in logs or "45009" in logs
            for key in (KEY_A, KEY_B):
                assert key not in shown and key not in logs
                assert key not in json.dumps(status)
        finally:
            await merchant.close()


async def test_a_sender_killed_mid_post_leaves_it_to_another(
    redis_url: str, key_prefix: str, wecom: FakeWeCom
) -> None:
    env = {**FAST, "LIVEROOM_REDIS_URL": redis_url, "LIVEROOM_KEY_PREFIX": key_prefix}
    wecom.script = {KEY_A: [HANG]}
    with LiveServer(env=env) as a:
        merchant = Merchant(a.url, a.secret)
        try:
            body = {
                "starts_at": now_ms() + 2500,
                "reminders": {"webhooks": [wecom.url(KEY_A)], "offsets_s": [2]},
            }
            await merchant.ok("PUT", "/api/rooms/kill-me", body)
        finally:
            await merchant.close()
        await until(lambda: len(wecom.posts) == 1)  # claimed, posting, held
        a.kill()
    with LiveServer(env=env):
        await until(lambda: len(wecom.delivered(KEY_A)) == 1)  # after the 3 s lease
        await asyncio.sleep(1)
    assert len(wecom.delivered(KEY_A)) == 1
    assert len(wecom.posts) == 2 and wecom.posts[0].body == wecom.posts[1].body
    assert not wecom.posts[0].delivered


async def test_rescheduling_moves_reminders_and_cancelling_drops_them(wecom: FakeWeCom) -> None:
    with LiveServer(env=FAST) as srv:
        merchant = Merchant(srv.url, srv.secret)
        try:
            t0 = now_ms()
            hooks = {"webhooks": [wecom.url(KEY_A)], "offsets_s": [60]}
            await merchant.ok(
                "PUT", "/api/rooms/moved", {"starts_at": t0 + 63_000, "reminders": hooks}
            )
            await merchant.ok(
                "PUT",
                "/api/rooms/called-off",
                {"starts_at": t0 + 63_000, "reminders": {**hooks, "webhooks": [wecom.url(KEY_B)]}},
            )
            moved = await merchant.ok("PUT", "/api/rooms/moved", {"starts_at": t0 + 66_000})
            assert moved["show"]["starts_at"] == t0 + 66_000
            off = await merchant.ok("POST", "/api/rooms/called-off/cancel", {})
            assert off["show"]["status"] == "cancelled"
            await until(lambda: len(wecom.posts) >= 1, timeout=15)
            sent_at = time.time() * 1000
            await asyncio.sleep(1)
            events = (await merchant.ok("GET", "/api/rooms/moved/events"))["events"]
        finally:
            await merchant.close()
    assert sent_at >= t0 + 6000 - 200  # at the new time, not the old (t0 + 3 s)
    assert [p.key for p in wecom.posts] == [KEY_A]
    assert [e["type"] for e in events] == ["show_scheduled", "show_rescheduled", "show_notice"]
