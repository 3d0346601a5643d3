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

from liveroom.admission import AddressGuard
from liveroom.analytics.memory_store import MemoryAnalyticsStore
from liveroom.analytics.redis_store import RedisAnalyticsStore
from liveroom.analytics.service import Analytics
from liveroom.analytics.store import AnalyticsStore
from liveroom.coupons.memory_store import MemoryTemplateStore
from liveroom.coupons.redis_store import RedisTemplateStore
from liveroom.coupons.service import CouponService
from liveroom.coupons.store import TemplateStore
from liveroom.drain import Drain
from liveroom.draws.bags import LuckyBags
from liveroom.draws.memory_store import MemoryDrawStore
from liveroom.draws.redis_store import RedisDrawStore
from liveroom.draws.service import DrawService
from liveroom.draws.store import DrawStore
from liveroom.engine.base import Engine
from liveroom.engine.memory import MemoryEngine
from liveroom.engine.redis import RedisEngine
from liveroom.hub import Hub
from liveroom.integrations.wecom import MemoryPacer, Pacer, RedisPacer, WeComClient
from liveroom.jobs import JobRunner, JobStore, RetryPolicy
from liveroom.jobs.memory_store import MemoryJobStore
from liveroom.jobs.redis_store import RedisJobStore
from liveroom.merchant.nonces import MemoryNonces, Nonces, RedisNonces
from liveroom.orders import OrderFeed
from liveroom.redis import RedisLayer
from liveroom.sales.memory_store import MemorySaleStore
from liveroom.sales.redis_store import RedisSaleStore
from liveroom.sales.service import SalesService
from liveroom.sales.store import SaleStore
from liveroom.settings import Settings
from liveroom.shows.memory_store import MemoryShowStore
from liveroom.shows.notices import Notices
from liveroom.shows.redis_store import RedisShowStore
from liveroom.shows.service import ShowService
from liveroom.shows.store import ShowStore
from liveroom.stream.base import CommerceStream
from liveroom.stream.joins import JoinRecorder
from liveroom.stream.memory import MemoryStream
from liveroom.stream.redis import RedisStream
from liveroom.tokens import Identity
from liveroom.types import Arrival, Event, Feature, Frame, Join
from liveroom.webhooks.dispatcher import WebhookDispatcher
from liveroom.webhooks.memory_store import MemoryWebhookStore
from liveroom.webhooks.redis_store import RedisWebhookStore
from liveroom.webhooks.store import WebhookStore

if TYPE_CHECKING:
    from liveroom.hub import RoomChannel
    from liveroom.session import Session


@dataclass
class Node:
    settings: Settings
    engine: Engine
    hub: Hub
    nonces: Nonces
    stream: CommerceStream
    sales: SalesService
    orders: OrderFeed
    coupons: CouponService
    draws: DrawService
    jobs: JobRunner
    shows: ShowService
    analytics: Analytics
    webhooks: WebhookDispatcher
    # every feature in build order: the order their callbacks run in
    features: tuple[Feature, ...] = field(default=())
    # the process's one Redis layer (None on the memory engine), closed after everything
    redis: RedisLayer | None = None
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
        if self.redis is not None:
            await self.redis.close()

    def routes(self) -> list[BaseRoute]:
        return [route for feature in self.features for route in feature.routes()]

    # the room's life, dispatched to every feature ------------------------------------
    async def arrive(
        self, room_id: str, ident: Identity, link_ref: object, link_src: object, resumed: bool
    ) -> Arrival:
        """Who joins, attributed to where they came from (liveroom/analytics)."""
        return await self.analytics.arrive(room_id, ident, link_ref, link_src, resumed=resumed)

    async def on_join(self, join: Join, welcome: Frame) -> None:
        for feature in self.features:
            await feature.on_join(join, welcome)

    async def on_comment(self, session: Session, event: Event) -> None:
        for feature in self.features:
            await feature.on_comment(session, event)

    def on_enter(self, session: Session) -> None:
        for feature in self.features:
            feature.on_enter(session)

    def on_leave(self, session: Session) -> None:
        for feature in self.features:
            feature.on_leave(session)

    def on_like(self, session: Session, n: int) -> None:
        for feature in self.features:
            feature.on_like(session, n)

    def on_product_click(self, session: Session, sku: str) -> None:
        for feature in self.features:
            feature.on_product_click(session, sku)

    def on_room_event(self, channel: RoomChannel, event: Event) -> None:
        for feature in self.features:
            feature.on_room_event(channel, event)

    def on_resubscribed(self, room_id: str) -> None:
        for feature in self.features:
            feature.on_resubscribed(room_id)


@dataclass(frozen=True)
class Stores:
    """Where a process keeps its state: all in memory, or all on one Redis layer."""

    engine: Engine
    stream: CommerceStream
    sales: SaleStore
    templates: TemplateStore
    draws: DrawStore
    nonces: Nonces
    jobs: JobStore
    shows: ShowStore
    pacer: Pacer
    analytics: AnalyticsStore
    webhooks: WebhookStore


def memory_stores(settings: Settings) -> Stores:
    stream = MemoryStream()
    return Stores(
        engine=MemoryEngine(settings),
        stream=stream,
        sales=MemorySaleStore(stream, answer_ttl_s=_answer_ttl_s(settings)),
        templates=MemoryTemplateStore(),
        draws=MemoryDrawStore(stream),
        nonces=MemoryNonces(),
        jobs=MemoryJobStore(),
        shows=MemoryShowStore(),
        pacer=MemoryPacer(settings.wecom_per_window, int(settings.wecom_window_s * 1000)),
        analytics=MemoryAnalyticsStore(stream),
        webhooks=MemoryWebhookStore(),
    )


def redis_stores(settings: Settings, redis: RedisLayer) -> Stores:
    stream = RedisStream(redis)
    return Stores(
        engine=RedisEngine(settings, redis),
        stream=stream,
        sales=RedisSaleStore(redis, stream, answer_ttl_s=_answer_ttl_s(settings)),
        templates=RedisTemplateStore(redis),
        draws=RedisDrawStore(redis, stream),
        nonces=RedisNonces(redis),
        jobs=RedisJobStore(redis),
        shows=RedisShowStore(redis),
        pacer=RedisPacer(redis, settings.wecom_per_window, int(settings.wecom_window_s * 1000)),
        analytics=RedisAnalyticsStore(redis, stream),
        webhooks=RedisWebhookStore(redis),
    )


def _answer_ttl_s(settings: Settings) -> int:
    """How long a grab's answer is kept for retries with its request id."""
    return max(settings.dedup_ttl_s, 600)


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        lease_ms=int(settings.jobs_lease_s * 1000),
        base_ms=int(settings.jobs_retry_base_s * 1000),
        cap_ms=int(settings.jobs_retry_cap_s * 1000),
        poll_s=settings.jobs_poll_s,
    )


def build(settings: Settings) -> Node:
    redis = RedisLayer.from_settings(settings) if settings.redis_url else None
    stores = memory_stores(settings) if redis is None else redis_stores(settings, redis)
    engine = stores.engine
    hub = Hub(engine)
    orders = OrderFeed(settings, engine)
    sales = SalesService(settings, engine, stores.sales, payments=orders)
    # coupon drops are sales of kind coupon: built on the sales feature's machinery
    coupons = CouponService(settings, engine, sales, stores.templates)
    sales.listen_ends(coupons)  # an ended drop's coupons not given out go back
    bags = LuckyBags(sales, coupons)
    draws = DrawService(settings, engine, hub, stores.draws, commerce=stores.stream, bags=bags)
    joins = JoinRecorder(stores.stream)
    jobs = JobRunner(stores.jobs, retry_policy(settings))
    notices = Notices(
        settings, engine, stores.shows, stores.jobs, WeComClient(stores.pacer), stores.stream
    )
    jobs.register(notices)
    shows = ShowService(settings, engine, stores.shows, notices, stores.stream, sales)
    # last: it folds what every other feature records
    analytics = Analytics(settings, engine, hub, stores.stream, stores.analytics)
    stores.stream.listen(analytics)
    # the merchant's webhook hears of every event recorded, too (idle without a URL)
    webhooks = WebhookDispatcher(settings, stores.stream, stores.webhooks)
    if webhooks.enabled:
        stores.stream.listen(webhooks)
    node = Node(
        settings,
        engine,
        hub,
        nonces=stores.nonces,
        stream=stores.stream,
        sales=sales,
        orders=orders,
        coupons=coupons,
        draws=draws,
        jobs=jobs,
        shows=shows,
        analytics=analytics,
        webhooks=webhooks,
        # jobs stop first: they use shows; analytics before them, after all it folds
        features=(orders, sales, coupons, draws, joins, shows, analytics, webhooks, jobs),
        redis=redis,
    )
    hub.listen(node)
    return node
