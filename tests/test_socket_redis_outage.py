"""The room socket while Redis is down: clear retryable errors, then business as usual."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from liveroom import tokens
from tests.support.client import Client
from tests.support.redis_process import RedisProcess
from tests.support.server import LiveServer

ROOM = "outage"


@pytest.fixture
def redis_proc() -> Iterator[RedisProcess]:
    proc = RedisProcess().start()
    try:
        yield proc
    finally:
        proc.kill()


async def test_redis_down_gives_retryable_errors_and_recovers(redis_proc: RedisProcess) -> None:
    env = {"LIVEROOM_REDIS_URL": redis_proc.url, "LIVEROOM_KEY_PREFIX": "outage"}
    with LiveServer(env=env) as srv:
        url = srv.ws_url(ROOM, tokens.mint_for(srv.secret, "amy", room=ROOM))
        amy = await Client.connect(url)
        assert (await amy.request({"t": "comment", "text": "before", "id": "c0"}))["t"] == "ack"

        redis_proc.kill()
        err = await amy.request({"t": "comment", "text": "during", "id": "c1"})
        assert (err["t"], err["code"]) == ("error", "unavailable")
        assert err["retry_after"] > 0
        late = await Client.connect(url, welcome=False)
        frame = await late.recv()
        assert frame["code"] == "unavailable"
        assert (await late.closed())[0] == 1013

        redis_proc.start()
        ack = None
        for _ in range(50):  # the client retries the same comment id, as the error invites
            ack = await amy.request({"t": "comment", "text": "during", "id": "c1"})
            if ack["t"] == "ack":
                break
        assert ack is not None and ack["t"] == "ack"
        again = await Client.connect(url)
        assert [c["text"] for c in again.welcome["comments"]][-1:] == ["during"]
        await amy.close()
        await again.close()
