"""Client frames: their shapes, and the errors a client gets back.

Pure: validation turns a decoded frame into a `Command` or raises `ProtocolError` with a
stable code, so every bad input gets the same clear answer whichever handler it was for.
Every value in the frame passes `inputs.problem` first (text that UTF-8 cannot hold,
numbers outside 64 bits, deep nesting), so no handler ever sees one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from liveroom import inputs
from liveroom.errors import Refusal

# Close codes (4000-4999 are ours; see docs/protocol.md).
CLOSE_UNAUTHORIZED = 4001
CLOSE_TOKEN_EXPIRED = 4002
CLOSE_FORBIDDEN = 4003
CLOSE_ROOM_ENDED = 4004
CLOSE_SLOW_CONSUMER = 4008
CLOSE_TOO_MANY_ERRORS = 4009
CLOSE_BANNED = 4010
CLOSE_SERVICE_RESTART = 1012  # RFC 6455: this process restarts; reconnect with `since`


# Codes that say the frame itself is malformed: these (and no other refusal) count towards
# the bad-frame limit that closes a socket with 4009.
MALFORMED = frozenset(
    {"bad_encoding", "bad_frame", "unknown_type", "missing_field", "bad_field", "too_large",
     "forbidden"}
)  # fmt: skip


class ProtocolError(Refusal):
    """A frame that does not fit its spec (encoding, shape, types, sizes)."""


@dataclass(frozen=True)
class Field:
    """One field of a frame. `object` as the kind leaves the checks to the feature (sale
    terms: the same rules, and the same `bad_sale` answers, as the merchant API)."""

    kind: type | tuple[type, ...]
    required: bool = True
    max_len: int | None = None
    min_value: float | None = None
    max_value: float | None = None


@dataclass(frozen=True)
class Spec:
    fields: dict[str, Field] = field(default_factory=dict)
    host_only: bool = False


_TEXT = Field(str, max_len=2000)
_UID = Field(str, max_len=128)
_ID = Field(str, max_len=64)

# Every client frame type and its fields. Feature modules add theirs with `register`.
SPECS: dict[str, Spec] = {
    "ping": Spec(),
    "comment": Spec({"text": _TEXT, "id": Field(str, required=False, max_len=64)}),
    "like": Spec({"n": Field(int, min_value=1, max_value=10_000)}),
    "announce": Spec({"text": _TEXT}, host_only=True),
    "pin": Spec({"text": Field((str, type(None)), max_len=2000)}, host_only=True),
    "delete_comment": Spec({"comment_id": _ID}, host_only=True),
    "mute": Spec(
        {"uid": _UID, "seconds": Field(int, required=False, min_value=1, max_value=86400 * 30)},
        host_only=True,
    ),
    "unmute": Spec({"uid": _UID}, host_only=True),
    "ban": Spec({"uid": _UID}, host_only=True),
    "unban": Spec({"uid": _UID}, host_only=True),
    "slow_mode": Spec({"seconds": Field(int, min_value=0, max_value=3600)}, host_only=True),
    "set_title": Spec({"title": Field(str, max_len=200)}, host_only=True),
    "set_keywords": Spec({"keywords": Field(list, max_len=500)}, host_only=True),
    "set_social_proof": Spec({"mode": Field(str, max_len=16)}, host_only=True),
    "end": Spec(host_only=True),
}


def register(frame_type: str, spec: Spec) -> None:
    SPECS[frame_type] = spec


@dataclass(frozen=True)
class Command:
    type: str
    args: dict[str, Any]
    rid: Any = None


def _check(name: str, value: Any, f: Field) -> None:
    if f.kind is object:
        return
    kinds = f.kind if isinstance(f.kind, tuple) else (f.kind,)
    # bool is an int subclass in Python; a JSON `true` is never a count.
    if isinstance(value, bool) and bool not in kinds:
        raise ProtocolError("bad_field", f"field {name!r} must be {_kind_names(kinds)}")
    if not isinstance(value, kinds):
        raise ProtocolError("bad_field", f"field {name!r} must be {_kind_names(kinds)}")
    if f.max_len is not None and isinstance(value, str | list) and len(value) > f.max_len:
        raise ProtocolError("bad_field", f"field {name!r} longer than {f.max_len}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if f.min_value is not None and value < f.min_value:
            raise ProtocolError("bad_field", f"field {name!r} below {f.min_value}")
        if f.max_value is not None and value > f.max_value:
            raise ProtocolError("bad_field", f"field {name!r} above {f.max_value}")


def _kind_names(kinds: tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", float: "a number", type(None): "null"}
    names.update({bool: "a boolean", list: "a list", dict: "a map"})
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def rid_of(frame: Any) -> Any:
    """The frame's `rid` when it can be echoed (a string of at most 64 characters or a
    64-bit integer), else None: an error about a malformed rid carries no rid."""
    rid = frame.get("rid") if isinstance(frame, dict) else None
    if isinstance(rid, bool):
        return None
    if isinstance(rid, int) and inputs.I64_MIN <= rid <= inputs.U64_MAX:
        return rid
    if isinstance(rid, str) and len(rid) <= 64 and inputs.problem(rid) is None:
        return rid
    return None


def parse(frame: Any, *, is_host: bool) -> Command:
    """Validate a decoded client frame against its spec."""
    if not isinstance(frame, dict):
        raise ProtocolError("bad_frame", "a frame must be a map with a 't' field")
    rid = frame.get("rid")
    if rid is not None and (not isinstance(rid, str | int) or isinstance(rid, bool)):
        raise ProtocolError("bad_field", "field 'rid' must be a string or an integer")
    if isinstance(rid, str) and len(rid) > 64:
        raise ProtocolError("bad_field", "field 'rid' longer than 64")
    why = inputs.problem(frame)
    if why is not None:
        raise ProtocolError("bad_field", why)
    ftype = frame.get("t")
    if not isinstance(ftype, str):
        raise ProtocolError("bad_frame", "a frame must have a string 't' field")
    spec = SPECS.get(ftype)
    if spec is None:
        raise ProtocolError("unknown_type", f"unknown frame type {ftype!r}")
    if spec.host_only and not is_host:
        raise ProtocolError("forbidden", f"{ftype!r} needs a host token")
    return Command(ftype, fields_of(ftype, frame), rid)


def fields_of(frame_type: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of `frame_type` in `body`, checked against its spec (other keys are left
    out): also for an HTTP call that does what the frame does, so both surfaces refuse a
    field alike."""
    args: dict[str, Any] = {}
    for name, f in SPECS[frame_type].fields.items():
        if name not in body:
            if f.required:
                raise ProtocolError("missing_field", f"{frame_type!r} needs field {name!r}")
            continue
        _check(name, body[name], f)
        args[name] = body[name]
    return args
