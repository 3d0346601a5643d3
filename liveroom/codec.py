"""Wire encodings: msgpack (binary frames, the default) and JSON (text frames).

A client picks JSON by asking for the `liveroom.json` subprotocol; everyone else gets
msgpack, which is smaller and faster for mini-program and app clients.
"""

from __future__ import annotations

import json
from typing import Any

import msgpack

from liveroom import inputs

MSGPACK = "liveroom.msgpack"
JSON = "liveroom.json"
SUBPROTOCOLS = (MSGPACK, JSON)

_packer_default = msgpack.Packer(use_bin_type=True)


class DecodeError(Exception):
    pass


def choose_format(offered: list[str]) -> str:
    """JSON only when the client explicitly offers it; msgpack otherwise."""
    if JSON in offered and MSGPACK not in offered[: offered.index(JSON)]:
        return JSON
    return MSGPACK


def encode(fmt: str, frame: Any) -> bytes | str:
    if fmt == JSON:
        return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))
    return _packer_default.pack(frame)


def encode_bytes(fmt: str, frame: Any) -> bytes:
    data = encode(fmt, frame)
    return data.encode() if isinstance(data, str) else data


def decode(fmt: str, data: bytes | str) -> Any:
    """Decode one client frame; raise DecodeError on anything malformed. A text message is
    JSON whatever the connection's format (answers keep the connection's format)."""
    try:
        if isinstance(data, str) or fmt == JSON:
            return inputs.loads(data)
        return msgpack.unpackb(data, raw=False, strict_map_key=True)
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as exc:
        raise DecodeError(str(exc) or type(exc).__name__) from None
    except Exception as exc:  # msgpack may raise other errors on hostile input
        raise DecodeError(f"{type(exc).__name__}: {exc}") from None
