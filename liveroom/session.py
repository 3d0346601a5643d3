"""What a frame handler may touch: the engine, the hub, this room and this connection."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from liveroom.connection import Connection
from liveroom.engine.base import Engine
from liveroom.settings import Settings
from liveroom.tokens import Identity

if TYPE_CHECKING:
    from liveroom.hub import Hub, RoomChannel


@dataclass(slots=True)
class Session:
    settings: Settings
    engine: Engine
    hub: Hub
    room_id: str
    conn: Connection
    channel: RoomChannel
    services: dict[str, Any]
    app: Any = None  # the LiveroomApp, for hooks

    @property
    def ident(self) -> Identity:
        return self.conn.ident
