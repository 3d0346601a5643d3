"""WebSocket frame encoding for the fan-out fast path.

Server-to-client frames are never masked, so one encoded frame is byte-for-byte the same
for every viewer: the hub builds it once per tick and writes it to each socket.
"""

from __future__ import annotations

import struct

OP_TEXT = 0x1
OP_BINARY = 0x2


def frame(payload: bytes, opcode: int = OP_BINARY) -> bytes:
    """One final, unmasked, uncompressed frame (RFC 6455 section 5.2)."""
    n = len(payload)
    head = 0x80 | opcode
    if n < 126:
        return struct.pack("!BB", head, n) + payload
    if n < 65536:
        return struct.pack("!BBH", head, 126, n) + payload
    return struct.pack("!BBQ", head, 127, n) + payload
