"""Just enough client-side WebSocket (RFC 6455) for a load generator.

A full client library spends tens of microseconds of Python per frame on things a load
generator does not need (a coroutine and a queue per message, UTF-8 checks, fragment
assembly); with tens of thousands of sockets on two shared cores that cost would be what we
measure instead of the server. Here a socket is a bare asyncio.Protocol that walks frame
headers and hands whole payloads to `on_message`.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct

OP_CONT = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA


def handshake_request(host: str, path: str, subprotocols: tuple[str, ...] = ()) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ]
    if subprotocols:
        lines.append("Sec-WebSocket-Protocol: " + ", ".join(subprotocols))
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def client_frame(payload: bytes, opcode: int = OP_BINARY) -> bytes:
    """A masked frame, as clients must send (the server rejects unmasked ones)."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    mask = os.urandom(4)
    if not n:
        return head + mask
    key = (mask * (n // 4 + 1))[:n]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")
    return head + mask + masked


class WSClient(asyncio.Protocol):
    """One client socket. Subclasses override on_open / on_message / on_closed."""

    def __init__(self, host: str, path: str, subprotocols: tuple[str, ...] = ()) -> None:
        self.host = host
        self.path = path
        self.subprotocols = subprotocols
        self.transport: asyncio.Transport | None = None
        self.is_open = False
        self.closed = False
        self.close_code: int | None = None
        self.opened = asyncio.get_running_loop().create_future()
        self._hs = b""
        self._buf = b""
        self._frag: list[bytes] = []
        self._frag_op = 0

    # asyncio.Protocol ----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(handshake_request(self.host, self.path, self.subprotocols))  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        if not self.is_open:
            self._hs += data
            end = self._hs.find(b"\r\n\r\n")
            if end < 0:
                return
            status = self._hs[: self._hs.find(b"\r\n")]
            data = self._hs[end + 4 :]
            self._hs = b""
            if b" 101 " not in status + b" ":
                self._fail(f"handshake refused: {status.decode(errors='replace')}")
                return
            self.is_open = True
            if not self.opened.done():
                self.opened.set_result(True)
            self.on_open()
            if not data:
                return
        if self._buf:
            data = self._buf + data
        n = len(data)
        pos = 0
        while n - pos >= 2:
            b0 = data[pos]
            ln = data[pos + 1] & 0x7F
            hl = 2
            if ln == 126:
                if n - pos < 4:
                    break
                ln = (data[pos + 2] << 8) | data[pos + 3]
                hl = 4
            elif ln == 127:
                if n - pos < 10:
                    break
                ln = int.from_bytes(data[pos + 2 : pos + 10], "big")
                hl = 10
            end = pos + hl + ln
            if end > n:
                break
            payload = data[pos + hl : end]
            pos = end
            op = b0 & 0x0F
            if op >= OP_CLOSE:
                self._control(op, payload)
            elif b0 & 0x80 and op:
                self.on_message(op, payload)
            else:  # a fragment: rare, only for very large messages
                if op:
                    self._frag_op = op
                self._frag.append(payload)
                if b0 & 0x80:
                    whole, self._frag = b"".join(self._frag), []
                    self.on_message(self._frag_op, whole)
        self._buf = data[pos:] if pos < n else b""

    def connection_lost(self, exc: Exception | None) -> None:
        was_open = self.is_open
        self.is_open = False
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"closed before open: {exc}"))
        if not self.closed:
            self.closed = True
            self.on_closed(self.close_code if was_open else -1)

    # frames --------------------------------------------------------------------------
    def _control(self, op: int, payload: bytes) -> None:
        if op == OP_PING:
            self.send(payload, OP_PONG)
        elif op == OP_CLOSE:
            self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            self.close_reason = payload[2:].decode(errors="replace")
            if self.transport is not None and not self.transport.is_closing():
                self.transport.write(client_frame(payload[:2], OP_CLOSE))
                self.transport.close()

    def send(self, payload: bytes, opcode: int = OP_BINARY) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(client_frame(payload, opcode))

    def close(self, code: int = 1000) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(client_frame(code.to_bytes(2, "big"), OP_CLOSE))
            self.transport.close()

    def _fail(self, why: str) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(why))
        if self.transport is not None:
            self.transport.close()

    # for subclasses ------------------------------------------------------------------
    def on_open(self) -> None:
        pass

    def on_message(self, opcode: int, payload: bytes) -> None:
        pass

    def on_closed(self, code: int | None) -> None:
        pass
