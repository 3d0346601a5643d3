"""The edge checks every client value passes (liveroom.inputs): plain unit tests."""

from __future__ import annotations

import json
import math

import pytest

from liveroom import inputs


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        0,
        -(2**63),
        2**64 - 1,
        1.5,
        "",
        "主播好 \u200f\u0000 🎉",
        {"t": "comment", "text": "hi", "nested": {"list": [1, "two", None]}},
    ],
)
def test_ordinary_values_pass(value: object) -> None:
    assert inputs.problem(value) is None


@pytest.mark.parametrize(
    ("value", "where"),
    [
        ("x\ud800", "the value"),
        ({"text": "\udfff"}, "field 'text'"),
        ({"prize": {"title": "a\ud83d"}}, "field 'prize.title'"),
        ({"keywords": ["ok", "\ud800"]}, "field 'keywords[1]'"),
        ({"n": 2**64}, "field 'n'"),
        ({"n": -(2**63) - 1}, "field 'n'"),
        ({"n": math.nan}, "field 'n'"),
        ({"n": math.inf}, "field 'n'"),
        ({"n": b"bytes"}, "field 'n'"),
    ],
)
def test_hostile_values_are_named(value: object, where: str) -> None:
    why = inputs.problem(value)
    assert why is not None and why.startswith(where), why


def test_map_keys_must_be_text() -> None:
    assert "key" in (inputs.problem({1: "x"}) or "")
    assert "key" in (inputs.problem({"a": {"\ud800": 1}}) or "")


def test_nesting_is_bounded() -> None:
    ok: object = "leaf"
    for _ in range(inputs.MAX_DEPTH):
        ok = [ok]
    assert inputs.problem(ok) is None
    assert "deeper" in (inputs.problem([ok]) or "")


def test_loads_refuses_deep_json_before_parsing_it() -> None:
    deep = b"[" * 50_000 + b"]" * 50_000  # json.loads alone: RecursionError
    with pytest.raises(ValueError, match="deeper"):
        inputs.loads(deep)
    with pytest.raises(ValueError, match="deeper"):
        inputs.loads('{"a":' * 17 + "1" + "}" * 17)


def test_loads_does_not_count_brackets_inside_strings() -> None:
    text = json.dumps({"title": "[[[[{{{{" * 100, "list": [[1]]})
    assert inputs.loads(text)["list"] == [[1]]
    assert inputs.loads(json.dumps({"q": '\\"[[[[[[[[[[[[[[[[[[[[['}))["q"].endswith("[")


def test_loads_keeps_json_errors_as_value_errors() -> None:
    for bad in (b"{nope", b"\xff\xfe\x00", b"[1,"):
        with pytest.raises(ValueError):
            inputs.loads(bad)


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("0", 0),
        ("42", 42),
        ("1000", 1000),
        ("1001", None),
        ("²", None),  # str.isdigit() says yes; int() raises
        ("٣", None),  # Arabic-Indic three: int() would take it
        ("-1", None),
        ("", None),
        (None, None),
        ("1" * 30, None),
    ],
)
def test_ascii_int(text: str | None, expect: int | None) -> None:
    assert inputs.ascii_int(text, 0, 1000) == expect


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("0-0", "0-0"),
        ("1764000000000-3", "1764000000000-3"),
        ("1764000000000", "1764000000000-0"),
        (f"{2**64 - 1}-0", f"{2**64 - 1}-0"),
        ("99999999999999999999999-0", None),  # past 64 bits: Redis "Invalid stream ID"
        (f"{2**64 - 1}-{2**64 - 1}", None),  # nothing comes after the last id
        ("²-0", None),
        ("1-²", None),
        ("1-", None),
        ("-1", None),
        ("a-b", None),
    ],
)
def test_stream_id(text: str, expect: str | None) -> None:
    assert inputs.stream_id(text) == expect
