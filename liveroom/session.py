"""What a frame handler may touch: the node (engine, hub, features), this room and this
connection."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from liveroom.connection import Connection
from liveroom.engine.base import Engine
from liveroom.settings import Settings
from liveroom.tokens import Identity

if TYPE_CHECKING:
    from liveroom.hub import Hub, RoomChannel
    from liveroom.node import Node


@dataclass(slots=True)
class Session:
    node: Node
    room_id: str
    conn: Connection
    channel: RoomChannel
    # sku -> when this connection's last counted click on it was (rules/clicks.py); made at
    # the first click: most viewers never click
    clicks: dict[str, float] | None = None

    @property
    def ident(self) -> Identity:
        return self.conn.ident

    @property
    def settings(self) -> Settings:
        return self.node.settings

    @property
    def engine(self) -> Engine:
        return self.node.engine

    @property
    def hub(self) -> Hub:
        return self.node.hub
