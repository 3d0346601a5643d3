"""Hypothesis strategies for hostile client input: values, frames, and merchant requests.

Frame strategies are built from protocol.SPECS, so a frame type added later is fuzzed
without touching this file. Each field gets either a value of its declared kind (often
valid, to reach the handlers' deeper paths) or a hostile one: lone surrogates, NULs,
bidi marks, huge strings, deep nesting, the wrong type, huge integers, NaN and infinities.
"""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import strategies as st

from liveroom import commands, protocol

commands.load_all()  # every feature's frame types in SPECS

# ids the fuzz server knows (a product, a room), so some frames get past "no such" answers
KNOWN_SKU = "tea-01"
KNOWN_IDS = [KNOWN_SKU, "u1", "host1", "s_x", "d_x", "h_x"]

surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
surrogate_text = st.builds(
    lambda a, s, b: a + s + b, st.text(max_size=10), surrogates, st.text(max_size=10)
)

edge_text = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "a\x00b",
            "\ud800",
            "x\udfff",
            "\ud83d",  # half an emoji
            "\u202eRTL override",
            "\u200f\u200e\u200d",
            "\ufeffBOM",
            "ＶＸ 加微信",
            "🎉" * 300,
            "x" * 5000,
            "\n\r\t",
            "%00",
            "../../etc/passwd",
            "{{7*7}}",
            "'; DROP TABLE--",
            "\\u0000",
            "NaN",
            "-0",
            "0" * 30,
            "²³",
        ]
    ),
    st.text(max_size=80),
    st.text(alphabet=surrogates, min_size=1, max_size=4),
    surrogate_text,
    st.sampled_from(KNOWN_IDS),
)

edge_numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1, 2**64, 10**30]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 1e308, 5e-324]),
)

scalars = st.one_of(st.none(), st.booleans(), edge_numbers, edge_text)


def nested(depth: int) -> Any:
    out: Any = 1
    for i in range(depth):
        out = [out] if i % 2 else {"k": out}
    return out


hostile = st.one_of(
    scalars,
    st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(edge_text, inner, max_size=4)
        ),
        max_leaves=12,
    ),
    st.sampled_from([17, 40, 200, 1200]).map(nested),
    st.just([None] * 3000),
)


def of_kind(f: protocol.Field) -> st.SearchStrategy[Any]:
    """A value of the field's declared kind: mostly plausible, sometimes at the edges."""
    kinds = f.kind if isinstance(f.kind, tuple) else (f.kind,)
    options: list[st.SearchStrategy[Any]] = []
    for kind in kinds:
        if kind is str:
            size = f.max_len or 100
            options += [st.text(max_size=size), st.sampled_from(KNOWN_IDS), edge_text]
        elif kind is int:
            lo = int(f.min_value) if f.min_value is not None else -(2**63)
            hi = int(f.max_value) if f.max_value is not None else 2**63 - 1
            options += [st.integers(lo, hi), st.integers(lo - 2, hi + 2)]
        elif kind is list:
            options.append(st.lists(edge_text, max_size=(f.max_len or 10) + 1))
        elif kind is dict:
            options.append(st.dictionaries(edge_text, hostile, max_size=5))
            options.append(st.fixed_dictionaries({"title": edge_text}, optional={"x": hostile}))
        elif kind is type(None):
            options.append(st.none())
        else:  # object: anything at all (the feature's own rules check it)
            options += [st.integers(-5, 2_000_000), hostile]
    return st.one_of(*options)


rids = st.one_of(
    st.none(),
    st.integers(0, 2**63),
    st.text(max_size=70),
    edge_text,
    st.sampled_from([True, 1.5, [1], {"a": 1}, 2**64, 2**70, -(2**63) - 1]),
)


@st.composite
def frames(draw: st.DrawFn) -> dict[str, Any]:
    """A client frame: a known type (from SPECS) or not, each field valid-ish or hostile,
    fields missing or extra, with a rid of any shape."""
    frame_type = draw(st.one_of(st.sampled_from(sorted(protocol.SPECS)), edge_text, hostile))
    frame: dict[str, Any] = {"t": frame_type}
    spec = protocol.SPECS.get(frame_type) if isinstance(frame_type, str) else None
    for name, f in (spec.fields if spec else {}).items():
        choice = draw(st.sampled_from(["kind", "kind", "hostile", "missing"]))
        if choice == "kind":
            frame[name] = draw(of_kind(f))
        elif choice == "hostile":
            frame[name] = draw(hostile)
    if draw(st.booleans()):
        frame.update(draw(st.dictionaries(edge_text, hostile, max_size=3)))
    rid = draw(rids)
    if rid is not None:
        frame["rid"] = rid
    return frame


# whole messages: mostly frames, sometimes not a map, not decodable, or oversized
messages = st.one_of(
    frames(),
    frames(),
    frames(),
    hostile,
    st.binary(max_size=64),
    st.sampled_from([b"\xc1", b"\x92\x01", b"\xdd\xff\xff\xff\xff", b"{", "[" * 3000, "x" * 5000]),
)


def json_text(value: Any) -> str:
    """JSON as a hostile client writes it: surrogates as escapes, NaN as the bare word."""
    return json.dumps(value, ensure_ascii=True, allow_nan=True)


# merchant request bodies: valid-looking objects with hostile values, or hostile JSON text
body_objects = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "sku": edge_text,
            "title": edge_text,
            "price_fen": st.one_of(st.integers(0, 10**8), edge_numbers),
            "image": edge_text,
            "appid": edge_text,
            "page": edge_text,
            "stock": st.one_of(st.integers(-1, 10**6 + 1), edge_numbers),
            "limit_per_user": edge_numbers,
            "starts_at": edge_numbers,
            "starts_in_s": edge_numbers,
            "duration_s": edge_numbers,
            "ends_at": edge_numbers,
            "early_access_s": edge_numbers,
            "member_tiers": st.one_of(st.lists(edge_text, max_size=12), hostile),
            "hold_s": edge_numbers,
            "sale_id": edge_text,
            "allow_anonymous": st.one_of(st.booleans(), hostile),
            "keywords": st.one_of(st.lists(edge_text, max_size=5), hostile),
            "ticket": edge_text,
            "room_id": edge_text,
            "hold_id": edge_text,
            "order_id": edge_text,
        },
    ),
    st.dictionaries(edge_text, hostile, max_size=5),
)

raw_bodies = st.one_of(
    body_objects.map(lambda b: json_text(b).encode()),
    hostile.map(lambda b: json_text(b).encode()),
    st.binary(max_size=80),
    st.sampled_from(
        [
            b"",
            b"{",
            b"[" * 20_000 + b"]" * 20_000,
            b'{"a":' * 5000 + b"1" + b"}" * 5000,
            b'{"title": NaN}',
            b'{"price_fen": 1' + b"0" * 5000 + b"}",
            b'{"sku": "\xff\xfe"}',
            b"\xef\xbb\xbf{}",
            b"null",
            b"x" * 70_000,
        ]
    ),
)

path_segments = st.one_of(
    st.sampled_from([KNOWN_SKU, "fuzz", "s_x", "h_x", "%ED%A0%80", "%00", "%2F", "..", "²", "a b"]),
    st.text(alphabet="abcXYZ019_.-%~", min_size=1, max_size=70),
)

query_values = st.one_of(
    st.sampled_from(
        [
            "0-0",
            "1-1",
            "99999999999999999999999-0",
            f"{2**64 - 1}-{2**64 - 1}",
            "%C2%B2-0",
            "1-%C2%B2",
            "%C2%B2",
            "-1",
            "0",
            "1000",
            "1001",
            "held",
            "paid",
            "%ED%A0%80",
            "%00",
            "",
        ]
    ),
    st.text(alphabet="0123456789-", max_size=45),
)
