"""Shows in the room: schedule, go live, end, cancel, "remind me", series, and replay.

One ShowService per process (a Feature built in liveroom/node.py). What must happen once
(a status change, a subscription, a group message) is decided by a store; this layer turns
outcomes into what everyone sees:
- a lifecycle change is a `room` event with the new `status` and the show (`show`), applied
  to the room in the same step (engine.publish with room_changes), so every open page
  switches at once; ending or cancelling closes sockets with 4004 as `end` always did;
- each change also lands in the room's commerce stream (show_scheduled, show_rescheduled,
  show_live, show_ended, show_cancelled, show_subscribed, and show_notice per message);
- the group messages are due jobs (notices.py), run by the node's job runner;
- going live sets the room's `replay` field: from then until the end the engine keeps the
  show's events for the replay (see Engine.replay and docs/redis.md).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from starlette.routing import BaseRoute

from liveroom.background import cancel_and_wait
from liveroom.batching import SharedRead
from liveroom.engine.base import Engine, new_event
from liveroom.errors import Refusal
from liveroom.jobs import now_ms
from liveroom.rules import show as rules
from liveroom.settings import Settings
from liveroom.shows import routes
from liveroom.shows.model import Series, Show, apply_fields
from liveroom.shows.notices import Notices
from liveroom.shows.store import ShowStore, Subscriber
from liveroom.stream.base import CommerceStream
from liveroom.tokens import Identity
from liveroom.types import Event, Feature, Frame, Join

if TYPE_CHECKING:
    from liveroom.hub import RoomChannel
    from liveroom.sales.service import SalesService

log = logging.getLogger("liveroom.shows")

REPLAY_PAGE_MAX = 1000


class ShowRefused(Refusal):
    """A request the show cannot honour; `code` is what the client sees."""


def refusal(err: rules.ShowError) -> ShowRefused:
    return ShowRefused(err.code, err.message)


class ShowService(Feature):
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        store: ShowStore,
        notices: Notices,
        stream: CommerceStream,
        sales: SalesService,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.store = store
        self.notices = notices
        self.stream = stream
        self.sales = sales
        self.hosts = notices.hosts
        self._running: set[asyncio.Task] = set()
        # the show every joining viewer's welcome shows, read once for those joining together
        self._joining: SharedRead[Show | None] = SharedRead(store.get)

    async def stop(self) -> None:
        await cancel_and_wait(list(self._running))
        await self.notices.wecom.close()
        await self._joining.close()
        await self.store.close()

    def routes(self) -> list[BaseRoute]:
        return routes.show_routes()

    # reading ---------------------------------------------------------------------------------
    async def show(self, room_id: str) -> Show | None:
        return await self.store.get(room_id)

    async def public(self, room_id: str) -> dict[str, Any]:
        """The page's view of a room's show (a room never scheduled: live, no show data)."""
        show = await self.store.get(room_id) or Show(room_id)
        room = await self.engine.room(room_id)
        out = show.public(room.title)
        if not show.status:
            out["status"] = room.status
        return out

    async def merchant_view(self, room_id: str) -> dict[str, Any] | None:
        show = await self.store.get(room_id)
        if show is None:
            return None
        return show.merchant((await self.engine.room(room_id)).title)

    # the merchant's settings -----------------------------------------------------------------
    async def configure(self, room_id: str, data: dict[str, Any], by: str) -> Show:
        """Apply settings from PUT /api/rooms/{room_id}; `starts_at` schedules (or moves)."""
        now = now_ms()
        current = await self.store.get(room_id)
        base = current or Show(room_id, tz=self.settings.show_tz)
        try:
            show = apply_fields(base, data, now, self.hosts)
            if "starts_at" in data:
                moved, was = await self.store.transition(room_id, rules.SCHEDULED, now, show)
            else:
                await self.store.put_settings(show)
                moved, was = (await self.store.get(room_id) or show), base.status
        except rules.ShowError as err:
            raise refusal(err) from None
        if moved.status == rules.SCHEDULED and was != rules.SCHEDULED:
            await self._announce(moved, rules.SCHEDULED, by, "show_scheduled")
        elif moved.status == rules.SCHEDULED and base.starts_at != moved.starts_at:
            await self._announce(
                moved, rules.SCHEDULED, by, "show_rescheduled", previous=base.starts_at
            )
        else:
            await self._publish(moved, by)  # the pages see the new cover, streams, recording
        if moved.status in ("", rules.SCHEDULED):
            await self.notices.plan_reminders(moved)
        return moved

    # lifecycle -------------------------------------------------------------------------------
    async def _publish(self, show: Show, by: str, status: str = "") -> dict[str, Any]:
        """The room event every page switches on; the room's status (and whether its events
        are kept for the replay) change in the same step."""
        room = await self.engine.room(show.room_id)
        fields: dict[str, Any] = {"show": show.public(room.title), "by": by}
        changes: dict[str, Any] | None = None
        if status:
            fields["status"] = status
            changes = {"status": status, "replay": True if status == rules.LIVE else None}
        return await self.engine.publish(
            show.room_id, new_event("room", **fields), room_changes=changes
        )

    async def _announce(
        self, show: Show, status: str, by: str, etype: str, previous: int = 0
    ) -> dict[str, Any]:
        stored = await self._publish(show, by, status)
        fields: dict[str, Any] = {"by": by, "seq": stored["seq"]}
        if etype in ("show_scheduled", "show_rescheduled"):
            fields.update(starts_at=show.starts_at, series_id=show.series_id)
        if etype == "show_rescheduled":
            fields["previous_starts_at"] = previous
        if etype in ("show_live", "show_ended"):
            fields["started_at"] = show.started_at
        if etype in ("show_ended", "show_cancelled"):
            fields["ended_at"] = show.ended_at
        if status in (rules.ENDED, rules.CANCELLED):
            # the room's sockets close at the tick that carries the event: a round trip
            # more here and the host's ack could come after its socket's close (seen on Redis)
            self._spawn(self._record(show.room_id, etype, fields))
        else:
            await self._record(show.room_id, etype, fields)
        return {"seq": stored["seq"], "show": stored["show"]}

    async def _record(self, room_id: str, etype: str, fields: dict[str, Any]) -> None:
        try:
            await self.stream.append(room_id, etype, fields)
        except Exception:  # the change stands; the stream is told best effort
            log.warning("%s of %s not recorded", etype, room_id, exc_info=True)

    async def _move(self, room_id: str, target: str) -> tuple[Show, bool]:
        """(the show, True) once moved; (the show, False) when it was there already and
        only the room's status had to catch up (a retry after a lost answer)."""
        try:
            show, _ = await self.store.transition(room_id, target, now_ms())
            return show, True
        except rules.ShowError as err:
            current = await self.store.get(room_id)
            if current is None or current.status != target:
                raise refusal(err) from None
            return current, False

    async def go_live(self, room_id: str, by: str) -> dict[str, Any]:
        show, moved = await self._move(room_id, rules.LIVE)
        if not moved and (await self.engine.room(room_id)).status == rules.LIVE:
            raise ShowRefused("show_not_scheduled", "the show is live already")
        out = await self._announce(show, rules.LIVE, by, "show_live")
        await self.notices.drop_pending(room_id, ("rem.",))  # no "starts in 5 min" now
        await self.notices.announce(show, "live", "")
        return out

    async def end(self, room_id: str, by: str) -> dict[str, Any]:
        show, moved = await self._move(room_id, rules.ENDED)
        if not moved and (await self.engine.room(room_id)).status == rules.ENDED:
            raise ShowRefused("show_over", "the show has ended already")
        await self._after(show, by)  # before the event: the room's sockets close right after it
        return await self._announce(show, rules.ENDED, by, "show_ended")

    async def cancel(self, room_id: str, by: str) -> dict[str, Any]:
        show, moved = await self._move(room_id, rules.CANCELLED)
        if not moved and (await self.engine.room(room_id)).status == rules.CANCELLED:
            raise ShowRefused("show_over", "the show is cancelled already")
        await self._after(show, by)  # before the event: the room's sockets close right after it
        return await self._announce(show, rules.CANCELLED, by, "show_cancelled")

    async def _after(self, show: Show, by: str) -> None:
        """An ended or cancelled show sends nothing more, sells nothing more (its open sales
        and drops end: the coupons a drop did not give out go back to their template); its
        series schedules the next."""
        await self.notices.drop_pending(show.room_id)
        try:
            await self.sales.end_room(show.room_id, by)
        except Exception:  # the show is over regardless; a host can still stop them by hand
            log.warning("open sales of %s not ended", show.room_id, exc_info=True)
        if show.series_id:
            series = await self.store.get_series(show.series_id)
            if series is not None:
                await self.next_episode(series, max(show.starts_at, now_ms()))

    # viewers ---------------------------------------------------------------------------------
    async def remind_me(self, room_id: str, ident: Identity) -> dict[str, Any]:
        if ident.is_anonymous:
            raise ShowRefused("login_required", "sign in to be reminded")
        show = await self.store.get(room_id)
        if show is None or show.status != rules.SCHEDULED:
            raise ShowRefused("show_not_scheduled", "only a show still to come can remind you")
        sub = Subscriber(ident.uid, now_ms(), ident.nick, ident.tier, ident.src)
        added = await self.store.subscribe(room_id, sub)
        if added:
            fields = {"uid": sub.uid, "nick": sub.nick, "tier": sub.tier, "src": sub.src}
            try:
                await self.stream.append(room_id, "show_subscribed", fields)
            except Exception:
                log.warning("show_subscribed of %s not recorded", room_id, exc_info=True)
        return {"subscribed": True, "duplicate": not added, "starts_at": show.starts_at}

    async def on_join(self, join: Join, welcome: Frame) -> None:
        """The show on the page: a scheduled show's cover and countdown, the stream."""
        show = await self._joining.get(join.room_id)
        if show is None:
            return
        public = show.public(welcome["room"].get("title", ""))
        ident = join.ident
        if show.status == rules.SCHEDULED and not ident.is_anonymous and not ident.is_host:
            public["subscribed"] = await self.store.is_subscribed(join.room_id, ident.uid)
        welcome["show"] = public
        welcome["room"]["starts_at"] = show.starts_at
        welcome["room"]["cover"] = show.cover

    def on_room_event(self, channel: RoomChannel, event: Event) -> None:
        """A flash sale or lucky draw starting: tell the groups, if the show asks for it.
        Every process serving the room sees it; the job ids make it one message."""
        etype = event.get("type")
        if etype == "sale" and event.get("sale", {}).get("status") == "live":
            self._spawn(self._sale_notice(channel.id, event["sale"]["sale_id"], event["sale"]))
        elif etype == "sale_started":
            self._spawn(self._sale_notice(channel.id, event["sale_id"], None))
        elif etype == "draw_started":
            values = {"prize": event["prize"]["title"], "winners": event["winners_count"]}
            self._spawn(self._notice(channel.id, "draw", event["draw_id"], values))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _sale_notice(self, room_id: str, sale_id: str, sale: dict[str, Any] | None) -> None:
        if sale is None:
            found = await self.sales.store.get_sale(room_id, sale_id)
            if found is None:
                return
            c = found.config
            sale = {"title": c.title, "price_fen": c.price_fen, "stock": c.stock}
        values = {
            "product": sale["title"],
            "price": f"{sale['price_fen'] / 100:.2f}",
            "stock": sale["stock"],
        }
        await self._notice(room_id, "sale", sale_id, values)

    async def _notice(self, room_id: str, notice: str, key: str, values: dict[str, Any]) -> None:
        try:
            show = await self.store.get(room_id)
            if show is not None and notice in show.notices and show.status not in rules.OVER:
                await self.notices.announce(show, notice, key, values)
        except Exception:
            log.warning("%s notice for %s/%s not scheduled", notice, room_id, key, exc_info=True)

    async def host_status(self, room_id: str) -> dict[str, Any]:
        """What the host panel shows: the show and how its group messages are doing."""
        _, total = await self.store.subscribers(room_id, 0, 0)
        return {
            "show": await self.merchant_view(room_id),
            "messages": await self.notices.status(room_id),
            "subscribers": total,
        }

    # series ----------------------------------------------------------------------------------
    async def put_series(self, series: Series) -> list[tuple[str, int]]:
        await self.store.put_series(series)
        episodes = await self.store.episodes(series.series_id)
        upcoming = [e for e in episodes if e[1] > now_ms()]
        if not upcoming:
            await self.next_episode(series, now_ms())
        return await self.store.episodes(series.series_id)

    async def next_episode(self, series: Series, after_ms: int) -> str:
        """Schedule the series' next episode after `after_ms` (a show of its own); the same
        room whichever process does it, and done once."""
        starts_at = series.slot.next_after(after_ms)
        room_id = rules.episode_room(series.series_id, series.slot, starts_at)
        if await self.store.get(room_id) is None:
            base = Show(room_id, tz=series.slot.tz, series_id=series.series_id)
            try:
                show = apply_fields(base, series.defaults, now_ms(), self.hosts)
                show = replace(show, starts_at=starts_at)
                moved, was = await self.store.transition(room_id, rules.SCHEDULED, now_ms(), show)
            except rules.ShowError as err:
                log.warning("series %s: next episode not scheduled: %s", series.series_id, err)
                return room_id
            await self.engine.publish(
                room_id,
                new_event("room", title=series.title, by="series"),
                room_changes={"title": series.title},
            )
            if was != rules.SCHEDULED:
                await self._announce(moved, rules.SCHEDULED, "series", "show_scheduled")
                await self.notices.plan_reminders(moved)
        await self.store.add_episode(series.series_id, room_id, starts_at)
        return room_id

    async def replay(self, room_id: str, after: int, count: int) -> dict[str, Any]:
        show = await self.store.get(room_id)
        events = await self.engine.replay(room_id, after, min(count, REPLAY_PAGE_MAX))
        start = show.started_at if show and show.started_at else (events[0]["ts"] if events else 0)
        for e in events:
            e["offset_ms"] = rules.replay_offset(e["ts"], start)
        return {
            "room_id": room_id,
            "started_at": start,
            "ended_at": show.ended_at if show else 0,
            "replay_url": show.replay_url if show else "",
            "events": events,
            "next": events[-1]["seq"] if events else after,
        }
