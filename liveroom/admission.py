"""Who gets a socket, and how long they may take to ask: the handshake deadline and the
per-address cap, enforced in uvicorn's HTTP protocol before a request reaches the app.

Uvicorn reads a request head for as long as a client cares to send it, and accepts as many
connections as the process has file descriptors: a few clients that connect and go quiet,
or send their headers a byte at a time, can hold every descriptor. So:

- the request head (a WebSocket upgrade or any HTTP request) must be complete within
  `handshake_timeout_s` of the connection, or of the previous response on a kept-alive
  connection; otherwise the client gets `408` and the socket is closed;
- one client address holds at most `max_connections_per_address` sockets at once (sockets
  still sending their head included); the next one gets `429` and is closed at once.
  A peer listed in `trusted_proxies` (by default this host: a local proxy, a load
  generator) is not capped itself; the clients it names in `X-Forwarded-For` are, on
  their WebSocket upgrades (see rules/proxies.py).

A welcomed room socket that goes quiet is not cut here: viewers legitimately send nothing
for hours. Uvicorn's pings find dead peers (`ws_ping_interval_s` + `ws_ping_timeout_s`),
and the hub cuts clients that stop reading (slow consumers).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.auto import AutoHTTPProtocol

from liveroom.metrics import METRICS
from liveroom.rawws import NODE_KEY, LiveroomWSProtocol
from liveroom.rules.proxies import client_address, is_trusted, parse_networks
from liveroom.settings import Settings


def _response(status: str, body: str, extra: str = "") -> bytes:
    data = body.encode()
    return (
        f"HTTP/1.1 {status}\r\ncontent-type: text/plain; charset=utf-8\r\n"
        f"content-length: {len(data)}\r\n{extra}connection: close\r\n\r\n"
    ).encode() + data


TOO_MANY = _response(
    "429 Too Many Requests",
    "too many connections from your address; close some and retry\n",
    "retry-after: 10\r\n",
)
TOO_SLOW = _response("408 Request Timeout", "request headers not received in time\n")


class Lease:
    """One socket's place under its address's cap, given back exactly once."""

    __slots__ = ("_guard", "address")

    def __init__(self, guard: AddressGuard, address: str) -> None:
        self._guard: AddressGuard | None = guard
        self.address = address

    def release(self) -> None:
        guard, self._guard = self._guard, None
        if guard is not None:
            guard.release(self.address)


class AddressGuard:
    """Per-process count of open sockets per client address."""

    def __init__(self, settings: Settings) -> None:
        self.limit = settings.max_connections_per_address
        self.handshake_timeout_s = settings.handshake_timeout_s
        try:
            self.trusted = parse_networks(settings.trusted_proxies)
        except ValueError as exc:
            raise ValueError(f"LIVEROOM_TRUSTED_PROXIES: {exc}") from None
        self.counts: dict[str, int] = {}

    def trusts(self, peer: str) -> bool:
        return is_trusted(peer, self.trusted)

    def admit(self, address: str) -> Lease | None:
        """A lease for one more socket from `address`, or None when it is at the cap."""
        n = self.counts.get(address, 0)
        if self.limit > 0 and n >= self.limit:
            METRICS.address_refusals += 1
            return None
        self.counts[address] = n + 1
        return Lease(self, address)

    def release(self, address: str) -> None:
        n = self.counts.get(address, 0) - 1
        if n > 0:
            self.counts[address] = n
        else:
            self.counts.pop(address, None)


class GuardedHTTPProtocol(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
    """Uvicorn's HTTP protocol (httptools or h11, whichever it picked) with the guard."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.guard: AddressGuard | None = None
        self.lease: Lease | None = None
        self.head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        node = self.app_state.get(NODE_KEY)
        if node is None:  # no lifespan (a bare test app): nothing to enforce
            return
        self.guard = node.guard
        self._arm_head_timer()
        peer = self._peer()
        if not self.guard.trusts(peer):
            self.lease = self.guard.admit(peer)
            if self.lease is None:
                self._refuse(TOO_MANY)

    def data_received(self, data: bytes) -> None:
        if self.guard is None:
            super().data_received(data)
            return
        cycle = self.cycle
        if self.head_timer is None and (cycle is None or cycle.response_complete):
            self._arm_head_timer()  # the next request on a kept-alive connection starts
        super().data_received(data)
        if self.cycle is not cycle:  # a whole request head arrived (not an upgrade)
            self._cancel_head_timer()

    def handle_websocket_upgrade(self, *args: Any) -> None:
        self._cancel_head_timer()
        guard = self.guard
        if guard is not None and self.lease is None:
            # from a trusted proxy: the cap applies to the client it forwards for (a proxy
            # that names no client is trusted as itself, uncapped)
            forwarded = b",".join(v for k, v in self.headers if k == b"x-forwarded-for")
            if forwarded:
                address = client_address(self._peer(), forwarded.decode("latin-1"), guard.trusted)
                self.lease = guard.admit(address)
                if self.lease is None:
                    self._refuse(TOO_MANY)
                    return
        super().handle_websocket_upgrade(*args)
        lease, self.lease = self.lease, None
        ws = self.transport.get_protocol()
        if isinstance(ws, LiveroomWSProtocol):
            ws.lease = lease  # given back when the socket is lost
        elif lease is not None:
            lease.release()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        if self.lease is not None:
            self.lease.release()
            self.lease = None
        super().connection_lost(exc)

    def _peer(self) -> str:
        return self.client[0] if self.client else ""

    def _arm_head_timer(self) -> None:
        assert self.guard is not None
        if self.guard.handshake_timeout_s > 0:  # 0: no deadline
            self.head_timer = self.loop.call_later(self.guard.handshake_timeout_s, self._too_slow)

    def _cancel_head_timer(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def _too_slow(self) -> None:
        self.head_timer = None
        if self.transport.is_closing():
            return
        METRICS.handshake_timeouts += 1
        self._refuse(TOO_SLOW)

    def _refuse(self, response: bytes) -> None:
        self._cancel_head_timer()
        self.transport.write(response)
        self.transport.close()
