"""A live server per engine for the fuzz suites, shared by a module's tests.

`LIVEROOM_FUZZ_EXAMPLES` sets how many Hypothesis examples each fuzz test runs (default 80,
derandomized: the 27 tests take about 26 s on two cores); `LIVEROOM_FUZZ_RANDOM=1` draws
fresh examples. Last deep run (1000, random, both engines): 8,000 socket examples with
49,445 hostile frames, 10,000 signed merchant calls, 16,000 schemathesis cases over the 16
operations; 27 passed in 344 s, nothing found.
"""

from __future__ import annotations

import json
import os
import urllib.request
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from liveroom.merchant.auth import signed_headers
from tests.conftest import REDIS_URL, wipe_prefix
from tests.fuzz.strategies import KNOWN_SKU
from tests.support.server import LiveServer

FUZZ_EXAMPLES = int(os.environ.get("LIVEROOM_FUZZ_EXAMPLES", "80"))

FUZZ = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("LIVEROOM_FUZZ_RANDOM", "") == "",
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
        HealthCheck.function_scoped_fixture,
    ],
    print_blob=True,
)


def put_product(srv: LiveServer, sku: str) -> None:
    path = f"/api/products/{sku}"
    body = json.dumps({"title": "Fuzz tea", "price_fen": 990, "appid": "wx1"}).encode()
    headers = {"Content-Type": "application/json", **signed_headers(srv.secret, "PUT", path, body)}
    req = urllib.request.Request(srv.url + path, data=body, method="PUT", headers=headers)
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200


@pytest.fixture(scope="module", params=["memory", "redis"])
def fuzz_server(request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    prefix = f"lrfuzz-{uuid.uuid4().hex[:10]}"
    env = {"LIVEROOM_KEY_PREFIX": prefix, "LIVEROOM_REDIS_URL": ""}
    if request.param == "redis":
        env["LIVEROOM_REDIS_URL"] = REDIS_URL
    try:
        with LiveServer(env=env) as srv:
            put_product(srv, KNOWN_SKU)
            yield srv
    finally:
        if request.param == "redis":
            wipe_prefix(REDIS_URL, prefix)
