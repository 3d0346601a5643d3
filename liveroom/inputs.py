"""What a value from a client may be, checked once at the edge before anything stores it.

Pure. The room socket (every decoded frame, in `protocol.parse`) and the merchant API (every
JSON body, path and query parameter) run what clients send through here, so a hostile value
gets a clear refusal instead of poisoning a store:
- text that cannot be encoded as UTF-8 (a lone surrogate such as "\\ud800" is valid in a JSON
  escape, yet nothing downstream can write it: Redis, msgpack and our JSON answers all
  refuse it, so a stored one breaks every later read of the room or the catalogue);
- nesting deeper than anything a liveroom frame or body has (`MAX_DEPTH`), bounded *before*
  JSON parsing, which otherwise recurses into a RecursionError on a body of brackets;
- numbers outside 64 bits (msgpack, Redis and most client languages cannot hold them), NaN
  and infinities (not JSON), bytes, and map keys that are not strings;
- decimal parameters spelled in ASCII digits only (`"²".isdigit()` is True in Python, and
  `int("²")` raises), within the bounds the store accepts (a Redis stream id is two
  unsigned 64-bit integers).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_DEPTH = 16  # the deepest real frame or body is 3 (start_draw's eligibility.tiers)
U64_MAX = 2**64 - 1
I64_MIN = -(2**63)
I64_MAX = 2**63 - 1

_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_BRACKET = re.compile(rb"[\[\]{}]")


def _text_problem(text: str) -> str | None:
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "text that cannot be encoded as UTF-8 (a lone surrogate)"
    return None


def _where(path: tuple[str | int, ...]) -> str:
    if not path:
        return "the value"
    out = str(path[0])
    for part in path[1:]:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return f"field {out!r}"


def problem(value: Any, *, max_depth: int = MAX_DEPTH) -> str | None:
    """Why a decoded client value cannot be taken in (naming the field), or None.

    Allowed: None, booleans, integers from -2**63 to 2**64-1, finite floats, UTF-8 text,
    lists, and maps with text keys, nested at most `max_depth` deep. Runs on every frame,
    so the common case (a flat map of ASCII text and small integers) takes no detours.
    """
    return _walk(value, (), max_depth)


def _walk(item: Any, path: tuple[str | int, ...], budget: int) -> str | None:
    kind = type(item)
    if kind is str:
        why = _text_problem(item)
    elif kind is int:
        why = None if I64_MIN <= item <= U64_MAX else "a number outside 64 bits"
    elif item is None or kind is bool:
        return None
    elif kind is float:
        why = None if math.isfinite(item) else "a number that is not finite"
    elif kind is dict or kind is list:
        if budget == 0:
            return f"{_where(path)} is nested deeper than {len(path)}"
        pairs = item.items() if kind is dict else enumerate(item)
        for key, sub in pairs:
            if kind is dict and (type(key) is not str or _text_problem(key)):
                return f"{_where(path)} has a key that is not UTF-8 text"
            sub_kind = type(sub)
            if (sub_kind is str and sub.isascii()) or (
                sub_kind is int and I64_MIN <= sub <= U64_MAX
            ):
                continue  # the common case, without a call
            why = _walk(sub, (*path, key), budget - 1)
            if why is not None:
                return why
        return None
    else:
        why = f"a value of type {kind.__name__}"
    return None if why is None else f"{_where(path)} holds {why}"


def too_deep(data: bytes, max_depth: int = MAX_DEPTH) -> bool:
    """Whether JSON text nests arrays and objects deeper than max_depth (brackets inside
    strings do not count); cheap enough to run on every body before parsing it."""
    if data.count(b"[") + data.count(b"{") <= max_depth:
        return False
    depth = 0
    for bracket in _BRACKET.findall(_JSON_STRING.sub(b"", data)):
        if bracket in b"[{":
            depth += 1
            if depth > max_depth:
                return True
        else:
            depth -= 1
    return False


def loads(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """json.loads that cannot recurse out of the stack; raises ValueError on bad JSON,
    bad UTF-8, or nesting deeper than max_depth."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if too_deep(raw, max_depth):
        raise ValueError(f"nested deeper than {max_depth}")
    return json.loads(data)


def ascii_int(text: str | None, lo: int, hi: int) -> int | None:
    """The integer `text` spells in ASCII decimal digits, if it lies in [lo, hi]; else None."""
    if not text or len(text) > 20 or not text.isascii() or not text.isdigit():
        return None
    n = int(text)
    return n if lo <= n <= hi else None


def stream_id(text: str) -> str | None:
    """A Redis stream id `<ms>-<n>` (or `<ms>`, meaning `<ms>-0`) as the store reads it,
    normalised; None when it is not one. Each part is an unsigned 64-bit integer; the
    greatest id of all is refused too, as nothing can come after it."""
    ms_text, dash, n_text = text.partition("-")
    ms = ascii_int(ms_text, 0, U64_MAX)
    n = ascii_int(n_text, 0, U64_MAX) if dash else 0
    if ms is None or n is None or (ms, n) == (U64_MAX, U64_MAX):
        return None
    return f"{ms}-{n}"
