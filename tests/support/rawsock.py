"""Bare TCP clients for transport tests: WebSocket viewers that never read, half-open sockets.

A real client library reads its socket all the time; the clients here exist to do what a
broken phone or an attacker does instead: finish the handshake and stop reading, or never
finish the request at all. Their TCP state is read straight from the kernel (TCP_INFO), so
a test can see the server cut them without reading a byte.
"""

from __future__ import annotations

import base64
import os
import socket

# tcpi_state values (include/net/tcp_states.h)
TCP_ESTABLISHED = 1
TCP_CLOSE = 7
TCP_CLOSE_WAIT = 8


def upgrade_request(path: str, subprotocol: str = "liveroom.json") -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {subprotocol}\r\n\r\n"
    ).encode()


def non_reader(
    port: int, path: str, rcvbuf: int = 1024, source: str = "127.0.0.1"
) -> socket.socket:
    """Open a room socket, read the 101 and stop reading: a tiny receive buffer, no read loop."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.bind((source, 0))
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    sock.sendall(upgrade_request(path))
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)  # byte by byte: nothing past the head is consumed
        if not chunk:
            raise ConnectionError(f"closed during the handshake: {head!r}")
        head += chunk
    if b" 101 " not in head.split(b"\r\n", 1)[0] + b" ":
        raise ConnectionError(f"handshake refused: {head!r}")
    return sock


def tcp_state(sock: socket.socket) -> int:
    """The kernel's TCP state of this socket, without reading from it."""
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]


def cut_by_peer(sock: socket.socket) -> bool:
    """True once the server has reset the connection or sent its FIN."""
    return tcp_state(sock) != TCP_ESTABLISHED


def server_side(server_port: int, client_ports: set[int]) -> list[tuple[int, int]]:
    """The server's end of these client connections as the kernel holds them, with or
    without a process behind them: (client port, bytes in its send queue) each.

    A socket the server closed with data still unsent lives on in the kernel (no file
    descriptor, no process) until the data is delivered or given up on; only a reset
    frees it. TIME_WAIT entries hold nothing and are left out.
    """
    out = []
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            parts = line.split()
            local, remote, state = parts[1], parts[2], parts[3]
            if int(local.split(":")[1], 16) != server_port or state == "06":  # TIME_WAIT
                continue
            rport = int(remote.split(":")[1], 16)
            if rport in client_ports:
                out.append((rport, int(parts[4].split(":")[0], 16)))
    return out
