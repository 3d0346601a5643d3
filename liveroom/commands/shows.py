"""Show frames: the host's go_live / end / show_status, a viewer's remind_me."""

from __future__ import annotations

from typing import Any

from liveroom import protocol
from liveroom.commands import handles
from liveroom.protocol import Command, ProtocolError, Spec
from liveroom.session import Session

protocol.register("go_live", Spec(host_only=True))
protocol.register("show_status", Spec(host_only=True))
protocol.register("remind_me", Spec())


@handles("go_live")
async def go_live(session: Session, cmd: Command) -> dict[str, Any]:
    return await session.node.shows.go_live(session.room_id, session.ident.uid)


@handles("end")
async def end(session: Session, cmd: Command) -> dict[str, Any]:
    """End the show: everyone sees the `room` event with status ended, then is closed 4004."""
    return await session.node.shows.end(session.room_id, session.ident.uid)


@handles("show_status")
async def show_status(session: Session, cmd: Command) -> dict[str, Any]:
    return await session.node.shows.host_status(session.room_id)


@handles("remind_me")
async def remind_me(session: Session, cmd: Command) -> dict[str, Any]:
    if session.ident.is_host:
        raise ProtocolError("forbidden", "hosts are not reminded of their own show")
    return await session.node.shows.remind_me(session.room_id, session.ident)
