"""Schemathesis over the served /api/openapi.json, every request signed.

The schema is loaded from `liveroom.merchant.openapi.OPENAPI` at collection (the lazy
fixture loader of schemathesis 4 does not run under pytest 9), and a test checks that the
server serves exactly that document.

Schemathesis generates requests from the OpenAPI description (valid ones and, in negative
mode, ones the description forbids) and checks the answers against it: no server error,
only documented status codes, response bodies and content types as described. So the
description stays true to the server, and the server never answers a 5xx.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
import requests
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from liveroom.merchant import auth
from liveroom.merchant.openapi import OPENAPI
from tests.conftest import REDIS_URL, wipe_prefix
from tests.fuzz.conftest import FUZZ, put_product
from tests.fuzz.strategies import KNOWN_SKU
from tests.support.server import LiveServer

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


class Signed(requests.auth.AuthBase):
    """Signs the request exactly as prepared: method, path and query as sent, body bytes."""

    def __init__(self, key: str) -> None:
        self.key = key

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        body = r.body or b""
        raw = body.encode() if isinstance(body, str) else body
        assert r.method is not None
        r.headers.update(auth.signed_headers(self.key, r.method, r.path_url, raw))
        return r


@pytest.fixture(scope="module")
def api_server() -> Iterator[LiveServer]:
    prefix = f"lrfuzz-{uuid.uuid4().hex[:10]}"
    env = {"LIVEROOM_KEY_PREFIX": prefix, "LIVEROOM_REDIS_URL": REDIS_URL}
    try:
        with LiveServer(env=env) as srv:
            put_product(srv, KNOWN_SKU)
            yield srv
    finally:
        wipe_prefix(REDIS_URL, prefix)


schema = schemathesis.openapi.from_dict(json.loads(json.dumps(OPENAPI)))


def test_the_fuzzed_description_is_the_served_one(api_server: LiveServer) -> None:
    served = requests.get(api_server.url + "/api/openapi.json", timeout=10)
    assert served.status_code == 200
    assert served.json() == json.loads(json.dumps(OPENAPI))


@schema.parametrize()
@FUZZ
def test_every_operation_conforms_and_never_fails(
    case: schemathesis.Case, api_server: LiveServer
) -> None:
    response = case.call(base_url=api_server.url, auth=Signed(api_server.secret), timeout=20)
    checks = CHECKS
    meta = case.meta
    if meta is not None and any(
        loc == ParameterLocation.HEADER and info.mode.is_negative
        for loc, info in meta.components.items()
    ):  # the signer wrote the headers a negative case left out or mangled
        checks = [c for c in CHECKS if c is not negative_data_rejection]
    case.validate_response(response, checks=checks)
