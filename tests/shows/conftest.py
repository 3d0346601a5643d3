"""Servers with short job timings and a loopback WeCom stand-in allowed as webhook host."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.wecom import FakeWeCom

# Short offsets and leases put the clock in the test's hands: a show starts seconds from
# now, a lost claim is taken over in 3 s, a failed post is retried within a second.
FAST = {
    "LIVEROOM_WECOM_HOSTS": "127.0.0.1",
    "LIVEROOM_JOBS_POLL_S": "0.1",
    "LIVEROOM_JOBS_LEASE_S": "3",
    "LIVEROOM_JOBS_RETRY_BASE_S": "0.3",
    "LIVEROOM_WECOM_WINDOW_S": "1",
    "LIVEROOM_PUBLIC_URL": "https://live.example.com",
    "LIVEROOM_LOG_LEVEL": "info",
}


@pytest.fixture
def wecom() -> Iterator[FakeWeCom]:
    with FakeWeCom() as fake:
        yield fake
