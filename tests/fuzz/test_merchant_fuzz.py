"""Hostile signed requests to every merchant endpoint, on both engines.

Every route of the app's merchant API (taken from the served routes, so a new one is
fuzzed without touching this file) gets hostile path parameters, query parameters and
bodies (JSON with surrogate escapes, NaN, huge and deep values, invalid UTF-8, not JSON at
all), correctly signed so they reach the route. Whatever is sent: never a 5xx, never
`internal`, and afterwards the catalogue still lists and the room still serves.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.routing import Route

from liveroom.merchant import auth
from liveroom.merchant.openapi import OPENAPI
from liveroom.merchant.routes import merchant_routes
from tests.fuzz.conftest import FUZZ, FUZZ_EXAMPLES
from tests.fuzz.strategies import (
    KNOWN_IDS,
    edge_numbers,
    edge_text,
    hostile,
    json_text,
    path_segments,
    query_values,
    raw_bodies,
    surrogate_text,
)
from tests.fuzz.test_socket_fuzz import assert_room_serves
from tests.support.server import LiveServer

ENDPOINTS = sorted(
    (method, route.path)
    for route in merchant_routes()
    if isinstance(route, Route) and route.path != "/api/openapi.json"
    for method in (route.methods or ())
    if method != "HEAD"
)
QUERY_NAMES = ["after", "count", "status", "x"]


def signed_send(http: httpx.Client, key: str, method: str, target: str, body: bytes) -> Any:
    """Sign exactly the target and body httpx will send (it may re-encode the URL)."""
    request = http.build_request(method, target, content=body)
    sent_target = request.url.raw_path.decode("ascii")
    request.headers.update(auth.signed_headers(key, method, sent_target, body))
    request.headers["Content-Type"] = "application/json"
    return http.send(request)


def body_schema(method: str, template: str) -> dict[str, Any]:
    """The route's request body schema from the OpenAPI description (allOf merged)."""
    op = OPENAPI["paths"].get(template, {}).get(method.lower(), {})
    ref = op.get("requestBody", {}).get("content", {}).get("application/json", {})
    return _resolve(ref.get("schema", {}))


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return _resolve(OPENAPI["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]])
    if "allOf" in schema:
        props: dict[str, Any] = {}
        for part in schema["allOf"]:
            props.update(_resolve(part).get("properties", {}))
        return {"type": "object", "properties": props}
    return schema


def plausible(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    kind = schema.get("type")
    if kind == "integer":
        return st.integers(1, 10)
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(plausible(schema.get("items", {"type": "string"})), max_size=3)
    if kind == "object":
        return st.just({"title": "prize"})
    return st.sampled_from([*KNOWN_IDS, "t", "fuzz"])


# a value no store can keep, most often text with a lone surrogate: the poison of issue 8
poison = st.one_of(surrogate_text, surrogate_text, edge_text, edge_numbers, hostile)


@st.composite
def schema_bodies(draw: st.DrawFn, schema: dict[str, Any]) -> bytes:
    """A body shaped as the schema says: every field plausible but one hostile (so the
    request gets past the other checks), or several hostile, missing or extra."""
    props = schema.get("properties", {})
    body = {name: draw(plausible(prop)) for name, prop in props.items()}
    if props and draw(st.integers(0, 3)):
        body[draw(st.sampled_from(sorted(props)))] = draw(poison)
    else:
        for name in props:
            choice = draw(st.sampled_from(["keep", "hostile", "missing"]))
            if choice == "hostile":
                body[name] = draw(poison)
            elif choice == "missing":
                del body[name]
        body.update(draw(st.dictionaries(edge_text, hostile, max_size=2)))
    return json_text(body).encode()


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, bytes]:
    method, template = draw(st.sampled_from(ENDPOINTS))
    known = st.sampled_from(["fuzz", *KNOWN_IDS])
    segment = st.one_of(known, known, path_segments)
    path = re.sub(r"\{[a-z_]+\}", lambda _: draw(segment), template)
    query = draw(st.dictionaries(st.sampled_from(QUERY_NAMES), query_values, max_size=3))
    if query:
        path += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    schema = body_schema(method, template)
    if schema:
        body = draw(st.one_of(schema_bodies(schema), schema_bodies(schema), raw_bodies))
    else:
        body = draw(raw_bodies) if draw(st.integers(0, 9)) == 0 else b""
    return method, path, body


def test_every_endpoint_refuses_hostile_requests_cleanly(fuzz_server: LiveServer) -> None:
    srv = fuzz_server
    counts: dict[int, int] = {}
    with httpx.Client(base_url=srv.url, timeout=20) as http:

        @settings(FUZZ, max_examples=5 * FUZZ_EXAMPLES)  # a call costs far less than a socket
        @given(request=requests())
        def one_call(request: tuple[str, str, bytes]) -> None:
            method, target, body = request
            resp = signed_send(http, srv.secret, method, target, body)
            counts[resp.status_code] = counts.get(resp.status_code, 0) + 1
            assert resp.status_code < 500, (method, target, body[:200], resp.text[:500])
            if resp.headers.get("content-type", "").startswith("application/json"):
                data = resp.json()
                if isinstance(data, dict) and isinstance(data.get("error"), dict):
                    assert data["error"]["code"] != "internal", resp.text

        one_call()
        listed = signed_send(http, srv.secret, "GET", "/api/products", b"")
        assert listed.status_code == 200, listed.text
        for sale_room in ("fuzz", "s_x"):
            assert signed_send(http, srv.secret, "GET", f"/api/rooms/{sale_room}", b"").is_success
    assert_room_serves(srv, "fuzz")
    assert "Traceback" not in srv.log(), srv.log()[-4000:]
    print(f"merchant fuzz: {sum(counts.values())} calls over {len(ENDPOINTS)} endpoints, {counts}")
