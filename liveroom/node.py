"""One process of liveroom: its engine, hub and features, built in dependency order.

Like centrifuge's Node, this is what every surface (room socket, merchant API, public
routes) reaches the rest through: `session.node.sales`, `request.app.state.node.draws`.
Features are plain typed attributes, built after what they depend on, so nothing needs a
late lookup by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.routing import BaseRoute

from liveroom.drain import Drain
from liveroom.draws import create_store as create_draw_store
from liveroom.draws.service import DrawService
from liveroom.engine import create_engine
from liveroom.engine.base import Engine
from liveroom.guard import AddressGuard
from liveroom.hub import Hub
from liveroom.merchant.nonces import Nonces, create_nonces
from liveroom.sales import create_store as create_sale_store
from liveroom.sales.service import SalesService
from liveroom.settings import Settings
from liveroom.types import Event, Feature, Frame, Join

if TYPE_CHECKING:
    from liveroom.hub import RoomChannel
    from liveroom.session import Session


@dataclass
class Node:
    settings: Settings
    engine: Engine
    hub: Hub
    nonces: Nonces
    sales: SalesService
    draws: DrawService
    # every feature in build order: the order their callbacks run in
    features: tuple[Feature, ...] = field(default=())
    ready: bool = False
    # the transport's share of the process: per-address cap, graceful restart
    guard: AddressGuard = field(init=False)
    drain: Drain = field(init=False)

    def __post_init__(self) -> None:
        self.guard = AddressGuard(self.settings)
        self.drain = Drain(self)

    # lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        await self.engine.start()
        await self.hub.start()
        for feature in self.features:
            await feature.start()
        self.ready = True

    async def stop(self) -> None:
        self.ready = False
        for feature in reversed(self.features):
            await feature.stop()
        await self.nonces.close()
        await self.hub.stop()
        await self.engine.close()

    def routes(self) -> list[BaseRoute]:
        return [route for feature in self.features for route in feature.routes()]

    # the room's life, dispatched to every feature ------------------------------------
    async def on_join(self, join: Join, welcome: Frame) -> None:
        for feature in self.features:
            await feature.on_join(join, welcome)

    async def on_comment(self, session: Session, event: Event) -> None:
        for feature in self.features:
            await feature.on_comment(session, event)

    def on_room_event(self, channel: RoomChannel, event: Event) -> None:
        for feature in self.features:
            feature.on_room_event(channel, event)


def build(settings: Settings) -> Node:
    engine = create_engine(settings)
    hub = Hub(engine)
    sales = SalesService(settings, engine, create_sale_store(engine))
    draws = DrawService(settings, engine, hub, create_draw_store(engine), commerce=sales.store)
    node = Node(
        settings,
        engine,
        hub,
        nonces=create_nonces(settings, sales.store),
        sales=sales,
        draws=draws,
        features=(sales, draws),
    )
    hub.listen(node)
    return node
