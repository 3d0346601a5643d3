"""Decode and validate a client frame: msgpack + protocol.parse against msgspec, per frame type.

What the room socket does with every client frame today is `codec.decode` (msgpack, or
JSON for text frames) and `protocol.parse` (the frame's spec, and `inputs.problem` over every
value: text UTF-8 can hold, 64-bit numbers, nesting). msgspec decodes msgpack or JSON into
typed Structs and checks types and bounds in one C pass. This times both, per frame type,
on valid frames (the hot path; a bad frame is rare and may take the slow path), with Structs
built from `protocol.SPECS` (a tagged union on `t`, every field typed and bounded as its
spec says). The msgspec side is a lower bound of what adopting it would cost: it does less
than the hand-written path (no check of fields outside the spec, no surrogate or nesting
check of `object` terms), so if even this saves little of a frame's whole cost on the
server, adopting it does not pay.

    .venv/bin/pip install msgspec    # only for this measurement
    .venv/bin/python scripts/bench_decode.py
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any, Union

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import msgpack

from liveroom import codec, protocol
from liveroom.commands import draws, host, sales, shows, viewer  # noqa: F401 - the specs

FRAMES: dict[str, dict[str, Any]] = {
    "ping": {"t": "ping", "rid": 1},
    "comment": {"t": "comment", "text": "how much is the tea set? @123.4", "id": "c-17", "rid": 7},
    "like": {"t": "like", "n": 25},
    "grab": {"t": "grab", "sale_id": "s_3f2a9c1b", "qty": 1, "request_id": "g-0042", "rid": "g"},
    "enter_draw": {"t": "enter_draw", "draw_id": "d_9a8b7c6d", "rid": 3},
    "product_click": {"t": "product_click", "sku": "tea-01"},
    "remind_me": {"t": "remind_me", "rid": 4},
    "announce": {"t": "announce", "text": "Stock is back at 9 pm", "rid": 5},
    "mute": {"t": "mute", "uid": "u1001", "seconds": 600, "rid": 6},
    "start_sale": {
        "t": "start_sale",
        "sku": "tea-01",
        "stock": 1000,
        "limit_per_user": 1,
        "duration_s": 600,
        "rid": 8,
    },
}


def structs() -> Any:
    """A msgspec Decoder type: one tagged Struct per frame type, from protocol.SPECS."""
    import msgspec

    types = []
    for name, spec in protocol.SPECS.items():
        fields: list[tuple[str, Any, Any]] = [("rid", Union[str, int, None], None)]  # noqa: UP007
        for fname, f in spec.fields.items():
            kinds = f.kind if isinstance(f.kind, tuple) else (f.kind,)
            if f.kind is object:
                kind: Any = Any
            elif kinds == (str,):
                kind = Annotated[str, msgspec.Meta(max_length=f.max_len)] if f.max_len else str
            elif kinds == (int,):
                kind = Annotated[int, msgspec.Meta(ge=f.min_value, le=f.max_value)]
            else:
                kind = Union[tuple(kinds)]  # noqa: UP007
            default = msgspec.UNSET if not f.required else msgspec.NODEFAULT
            fields.append((fname, kind, default))
        required = [x for x in fields if x[2] is msgspec.NODEFAULT]
        optional = [x for x in fields if x[2] is not msgspec.NODEFAULT]
        cls = msgspec.defstruct(
            "F_" + name,
            [(n, k) for n, k, _ in required] + optional,
            tag_field="t",
            tag=name,
        )
        types.append(cls)
    return Union[tuple(types)]  # noqa: UP007


def best_ns(fn: Any, arg: Any, n: int = 20000, rounds: int = 7) -> float:
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter_ns()
        for _ in range(n):
            fn(arg)
        best = min(best, (time.perf_counter_ns() - t0) / n)
    return best


def main() -> None:
    import msgspec

    union = structs()
    mp_dec = msgspec.msgpack.Decoder(union)
    js_dec = msgspec.json.Decoder(union)

    def ours_mp(data: bytes) -> Any:
        return protocol.parse(codec.decode(codec.MSGPACK, data), is_host=True)

    def ours_js(data: str) -> Any:
        return protocol.parse(codec.decode(codec.JSON, data), is_host=True)

    print(f"{'frame':>14}  {'ours mp ns':>10}  {'msgspec mp':>10}  {'ours json':>10}  "
          f"{'msgspec json':>12}")  # fmt: skip
    saved = []
    for name, frame in FRAMES.items():
        packed = msgpack.packb(frame)
        text = json.dumps(frame)
        assert type(mp_dec.decode(packed)).__name__ == "F_" + name
        a, b = best_ns(ours_mp, packed), best_ns(mp_dec.decode, packed)
        c, d = best_ns(ours_js, text), best_ns(js_dec.decode, text)
        saved.append(a - b)
        print(f"{name:>14}  {a:10.0f}  {b:10.0f}  {c:10.0f}  {d:12.0f}")
    print(f"\nmsgpack frames: msgspec saves {min(saved):.0f}-{max(saved):.0f} ns a frame; set that "
          "against a frame's whole cost on the server (py-spy: codec.decode + protocol.parse "
          "are the share of the read path to win back)")  # fmt: skip


if __name__ == "__main__":
    main()
