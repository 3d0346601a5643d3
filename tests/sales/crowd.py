"""Many real viewers at once: connect in batches, then act together on one signal."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from liveroom import tokens
from tests.support.client import Client
from tests.support.server import LiveServer


async def connect_crowd(
    srv: LiveServer,
    room: str,
    uids: list[str],
    tier: Callable[[str], str] = lambda u: "",
    batch: int = 100,
) -> list[Client]:
    clients: list[Client] = []
    for i in range(0, len(uids), batch):
        part = uids[i : i + batch]
        clients += await asyncio.gather(
            *(
                Client.connect(
                    srv.ws_url(room, tokens.mint_for(srv.secret, u, tier=tier(u))), fmt="msgpack"
                )
                for u in part
            )
        )
    return clients


async def answers(
    client: Client, frames: list[dict[str, Any]], go: asyncio.Event, timeout: float = 60
) -> list[dict[str, Any]]:
    """Send the frames as soon as `go` is set; return their ack/error frames, in order."""
    await go.wait()
    for f in frames:
        await client.send(f)
    rids = {f["rid"] for f in frames}
    got: dict[Any, dict[str, Any]] = {}
    while len(got) < len(rids):
        frame = await client.recv(timeout)
        if frame.get("rid") in rids and frame.get("t") in ("ack", "error"):
            got[frame["rid"]] = frame
    return [got[f["rid"]] for f in frames]


async def shows_stock(client: Client, sale_id: str, want: int, timeout: float = 20) -> None:
    """Wait until the latest stock value this client got for the sale is `want`."""

    def latest() -> int | None:
        for frame in reversed(client.seen):
            if sale_id in frame.get("stock", {}):
                return frame["stock"][sale_id]
        return None

    if latest() == want:
        return
    await client.until(lambda f: f.get("stock", {}).get(sale_id, want + 1) == want, timeout)


def drop_all(clients: list[Client]) -> None:
    """Cut every connection at once (a crowd leaving is not what these tests are about)."""
    for c in clients:
        c.ws.transport.abort()
