"""Lucky draws in the room: start, enter (button or pass-phrase comment), close, cancel.

One DrawService per process. Whatever must happen once (an entry, the close) is decided
by the store; everything a process does locally is safe to do on every process:
- each process that has viewers in the room arms a timer for the draw's end, and a
  sweeper closes draws whose end passed while no process watched (or after a restart);
  the store's compare-and-set lets exactly one of them close it and announce it;
- each process hands the `draw_won` frame (with a claim ticket minted here) to the
  winners connected to it, when the `draw_closed` event reaches it;
- each process keeps a cache of the room's open phrase draws, so a comment is matched
  against pass phrases without a Redis round trip.
Draw results (started, closed with winners and seed, cancelled) also go to the room's
commerce event stream (liveroom/stream), so a merchant's data side reads every business
event of a room from one stream.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from starlette.routing import BaseRoute, Route

from liveroom.background import cancel_and_wait, every
from liveroom.batching import RoomBatcher
from liveroom.draws import claim
from liveroom.draws.bags import Award, LuckyBags
from liveroom.draws.http import draw_record
from liveroom.draws.routes import merchant_draw_routes
from liveroom.draws.store import (
    COUPON_PRIZE,
    PRIZE_KINDS,
    PRODUCT_PRIZE,
    Draw,
    DrawResult,
    DrawStore,
    EnterResult,
    Joined,
    Prize,
    new_draw_id,
)
from liveroom.engine.base import Engine, new_event, now_ms
from liveroom.errors import Refusal, Unavailable, internal_error
from liveroom.rules import draw as rules
from liveroom.rules.sale import is_safe_id
from liveroom.settings import Settings
from liveroom.tokens import Identity
from liveroom.types import Event, Feature, Frame, Join

if TYPE_CHECKING:
    from liveroom.hub import Hub, RoomChannel
    from liveroom.session import Session
    from liveroom.stream.base import CommerceStream

log = logging.getLogger("liveroom.draws")

SWEEP_INTERVAL_S = 1.0
COUNT_INTERVAL_S = 0.1
# A finished draw still in the due index this long after it finished lost its closer.
ANNOUNCE_GRACE_MS = 10_000
# A draw stored and still unannounced this long after its start lost its starter: a start
# sent again announces it (sooner, the first try may still be at it: `unavailable`).
START_GRACE_MS = 3_000
MAX_WINNERS = 1000
MIN_DURATION_S = 1
MAX_DURATION_S = 86400
RECORDS_KEPT = 64
ALGORITHM = "sha256-commit+hmac-sha256-fisher-yates/v1"


class DrawRefused(Refusal):
    """A host or viewer request the draw cannot honour; `code` is what the client sees."""


@dataclass(frozen=True)
class Listing:
    """What a process must know of an open draw to take entries for it."""

    id: str
    mode: str
    phrase: str
    ends_at: int
    eligibility: rules.Eligibility

    @classmethod
    def of(cls, d: Draw) -> Listing:
        return cls(d.id, d.mode, d.phrase, d.ends_at, d.eligibility)

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> Listing:
        elig = rules.Eligibility.from_dict(event["eligibility"])
        return cls(event["draw_id"], event["mode"], event.get("phrase", ""), event["ends_at"], elig)


def parse_start(args: dict[str, Any]) -> dict[str, Any]:
    """Validate a host's start_draw fields; raise DrawRefused("bad_field") on bad input."""
    prize = args["prize"]
    title = prize.get("title")
    if not isinstance(title, str) or not title.strip() or len(title) > 100:
        raise DrawRefused("bad_field", "prize.title must be 1..100 characters")
    extra = set(prize) - {"title", "image", "claim_path", "kind", "template_id", "sku"}
    if extra:
        raise DrawRefused("bad_field", f"unknown prize fields: {sorted(extra)}")
    for name in ("image", "claim_path"):
        value = prize.get(name, "")
        if not isinstance(value, str) or len(value) > 500 or any(c.isspace() for c in value):
            raise DrawRefused("bad_field", f"prize.{name} must be a URL or path up to 500 chars")
    kind, what = _bag_prize(prize)
    draw_id = args.get("draw_id")
    # at most 60: a lucky bag's drop or sale is named after its draw (store.bag_id)
    if draw_id is not None and not (
        isinstance(draw_id, str) and len(draw_id) <= 60 and is_safe_id(draw_id)
    ):
        raise DrawRefused("bad_field", "draw_id must be 1-60 of A-Z a-z 0-9 _ - .")
    mode = args.get("mode", rules.BUTTON)
    if mode not in rules.ENTRY_MODES:
        raise DrawRefused("bad_field", f"mode must be one of {list(rules.ENTRY_MODES)}")
    try:
        phrase = rules.check_phrase(args.get("phrase", "")) if mode == rules.PHRASE else ""
        elig = rules.Eligibility.from_dict(args.get("eligibility"))
    except rules.DrawRuleError as err:
        raise DrawRefused(err.code, err.message) from None
    return {
        "draw_id": draw_id,
        "prize": Prize(
            title.strip(),
            prize.get("image", ""),
            prize.get("claim_path", ""),
            kind=kind,
            template_id=what if kind == COUPON_PRIZE else "",
            sku=what if kind == PRODUCT_PRIZE else "",
        ),
        "winners_count": args["winners"],
        "duration_s": args["duration_s"],
        "mode": mode,
        "phrase": phrase,
        "eligibility": elig,
    }


def _bag_prize(prize: dict[str, Any]) -> tuple[str, str]:
    """A lucky bag's prize kind and what it gives (template id or sku); ("", "") for a
    plain prize."""
    kind = prize.get("kind", "")
    if kind == "":
        if "template_id" in prize or "sku" in prize:
            raise DrawRefused("bad_field", "prize.template_id and prize.sku need prize.kind")
        return "", ""
    if kind not in PRIZE_KINDS:
        raise DrawRefused("bad_field", f"prize.kind must be one of {list(PRIZE_KINDS)}")
    name, other = ("template_id", "sku") if kind == COUPON_PRIZE else ("sku", "template_id")
    value = prize.get(name)
    if not isinstance(value, str) or not is_safe_id(value):
        raise DrawRefused(
            "bad_field", f"a {kind} prize needs prize.{name} (1-64 of A-Z a-z 0-9 _ - .)"
        )
    if other in prize:
        raise DrawRefused("bad_field", f"a {kind} prize has no prize.{other}")
    return kind, value


def _exists(draw_id: str, d: Draw | None) -> DrawRefused:
    """The answer to a start whose draw id is taken, with the draw as it is."""
    extra = {"draw": d.announcement()} if d is not None else {}
    return DrawRefused("draw_exists", f"draw {draw_id} already exists", **extra)


def public_result(d: Draw, res: DrawResult | None, entrants_count: int) -> dict[str, Any]:
    """The verifiable record served over HTTP: the seed and entrants only once finished."""
    out = {"room_id": d.room_id, **d.announcement(), "entrants_count": entrants_count}
    out["algorithm"] = ALGORITHM
    if res is not None:
        out.update(
            seed=d.seed,
            closed_at=d.closed_at,
            entrants=res.entrants,
            winners=res.winners,
            entrants_count=len(res.entrants),
        )
    return out


class DrawService(Feature):
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        hub: Hub,
        store: DrawStore,
        commerce: CommerceStream | None = None,
        bags: LuckyBags | None = None,
    ) -> None:
        """`commerce` is the room's commerce event stream, where results are recorded; None
        records nothing durable. `bags` gives lucky bags' prizes (None: no lucky bags)."""
        self.settings = settings
        self.engine = engine
        self.hub = hub
        self.store = store
        self.commerce = commerce
        self.bags = bags
        self._open: dict[str, dict[str, Listing]] = {}  # room -> draw id -> listing
        self._gone: set[str] = set()  # draw ids known finished, so a stale read cannot revive
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._dirty: set[tuple[str, str]] = set()  # entrant counts to publish
        self._tasks: list[asyncio.Task] = []
        self._running: set[asyncio.Task] = set()
        self._records: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        # the viewers of a room joining together start their clocks and read in one go
        self._joins: RoomBatcher[str | None, Joined] = RoomBatcher(
            self._joined, immediate=store.in_process
        )

    # lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(every(SWEEP_INTERVAL_S, self.sweep), name="draw-sweeper"),
            loop.create_task(every(COUNT_INTERVAL_S, self.publish_counts), name="draw-n"),
        ]

    async def stop(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        await cancel_and_wait([*self._tasks, *self._running])
        await self._joins.close()
        await self.store.close()

    def routes(self) -> list[BaseRoute]:
        return [Route("/api/draws/{room_id}/{draw_id}", draw_record), *merchant_draw_routes()]

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    # host side -----------------------------------------------------------------------
    async def start_draw(self, room_id: str, host: str, args: dict[str, Any]) -> Draw:
        """A host that names its `draw_id` may send the start again (after `unavailable`
        or a dropped connection): one draw starts, the second answers `draw_exists` with
        the draw as it is, or, when the first try stored the draw but could not tell the
        room, tells it and answers as the first should have."""
        spec = parse_start(args)
        named = spec["draw_id"] is not None
        if named and (existing := await self.store.get(room_id, spec["draw_id"])) is not None:
            if existing.announced or existing.finished:
                raise _exists(existing.id, existing)
            if now_ms() - existing.created_at < START_GRACE_MS:
                raise Unavailable("the first try of this start may still be telling the room")
            log.warning("announcing draw %s/%s whose starter never did", room_id, existing.id)
            return await self._tell_started(existing)
        seed = rules.new_seed()
        now = now_ms()
        d = Draw(
            id=spec["draw_id"] if named else new_draw_id(),
            room_id=room_id,
            prize=spec["prize"],
            winners_count=spec["winners_count"],
            created_at=now,
            ends_at=now + spec["duration_s"] * 1000,
            mode=spec["mode"],
            seed=seed,
            commitment=rules.commitment(seed),
            phrase=spec["phrase"],
            eligibility=spec["eligibility"],
            by=host,
            announced=False,
        )
        if d.prize.kind:
            if self.bags is None:
                raise DrawRefused("bad_field", "lucky bags are not available here")
            await self.bags.open(d, host, again=named)  # refused: no draw starts
        if not await self.store.create(d):  # the same start, sent again at the same moment
            raise _exists(d.id, await self.store.get(room_id, d.id))
        return await self._tell_started(d)

    async def _tell_started(self, d: Draw) -> Draw:
        """Announce a stored draw to the room. Unavailable: the draw stays unannounced, and
        a start sent again with its id announces it."""
        room_id = d.room_id
        stored = await self.engine.publish(
            room_id, new_event("draw_started", by=d.by, **d.announcement())
        )
        self._remember(room_id, Listing.of(d))
        try:  # the draw runs already: refusing the host now would mislead
            await self.store.announced(room_id, d.id)
            await self._record(
                room_id,
                "draw_started",
                {"by": d.by, "seq": stored["seq"], "ts": stored["ts"], **d.announcement()},
            )
        except Exception:
            log.warning("draw %s/%s started but not recorded", room_id, d.id, exc_info=True)
        return replace(d, announced=True)

    async def close(self, room_id: str, draw_id: str, by: str = "") -> dict[str, Any] | None:
        """Close and announce; None when someone else (another process, the timer) did."""
        d = await self.store.finish(room_id, draw_id, rules.CLOSED, now_ms())
        if d is None:
            self._forget(room_id, draw_id)  # finished elsewhere, maybe unseen if we left the room
            return None
        return await self._announce(d, by)

    async def cancel(self, room_id: str, draw_id: str, by: str) -> dict[str, Any] | None:
        d = await self.store.finish(room_id, draw_id, rules.CANCELLED, now_ms())
        if d is None:
            self._forget(room_id, draw_id)
            return None
        return await self._announce(d, by)

    async def finish(self, room_id: str, draw_id: str, by: str, *, cancel: bool) -> dict[str, Any]:
        """A host's or the merchant's close (or cancel): the outcome, or why not
        (draw_not_found; draw_closed with the state it is in)."""
        if cancel:
            outcome = await self.cancel(room_id, draw_id, by=by)
        else:
            outcome = await self.close(room_id, draw_id, by=by)
        if outcome is None:
            d = await self.store.get(room_id, draw_id)
            if d is None:
                raise DrawRefused(rules.DRAW_NOT_FOUND, "no such draw in this room")
            raise DrawRefused(rules.DRAW_CLOSED, f"this draw is already {d.state}", state=d.state)
        return outcome

    async def _announce(self, d: Draw, by: str) -> dict[str, Any]:
        """Publish the outcome; it goes out at least once (the sweeper retries a lost one)."""
        res = await self.store.result(d.room_id, d.id)
        assert res is not None
        fields: dict[str, Any] = {
            "draw_id": d.id,
            "prize": d.prize.public(),
            "commitment": d.commitment,
            "seed": d.seed,
            "entrants_count": len(res.entrants),
        }
        if by:
            fields["by"] = by
        awards: dict[str, Award] = {}
        if d.state == rules.CLOSED:
            fields["winners"] = res.winners
            fields["winners_count"] = d.winners_count
            await self.store.record_wins(d.room_id, d.id, [w["uid"] for w in res.winners])
            if d.prize.kind and self.bags is not None:
                awards = await self.bags.award(d, res.winners)  # the same answers if retried
        elif d.prize.kind and self.bags is not None:
            await self.bags.cancelled(d)
        etype = "draw_closed" if d.state == rules.CLOSED else "draw_cancelled"
        stored = await self.engine.publish(d.room_id, new_event(etype, **fields))
        await self._hand_bags(d, awards)
        await self._record(d.room_id, etype, {**fields, "seq": stored["seq"], "ts": stored["ts"]})
        await self.store.done(d.room_id, d.id)
        self._forget(d.room_id, d.id)
        return {**fields, "seq": stored["seq"]}

    async def _record(self, room_id: str, etype: str, fields: dict[str, Any]) -> None:
        """Append to the room's commerce stream before the draw counts as announced: a failed
        append leaves the draw due, and the sweeper announces and records it again (at least
        once; consumers key results by draw_id)."""
        if self.commerce is not None:
            await self.commerce.append(room_id, etype, fields)

    async def sweep(self) -> None:
        """Close what is due; announce what a dead process closed but never announced."""
        now = now_ms()
        for room_id, draw_id in await self.store.due(now):
            try:
                d = await self.store.get(room_id, draw_id)
                if d is None:
                    await self.store.done(room_id, draw_id)
                elif d.state == rules.OPEN:
                    await self.close(room_id, draw_id)
                elif now - d.closed_at > ANNOUNCE_GRACE_MS:
                    log.warning("announcing draw %s/%s whose closer never did", room_id, draw_id)
                    await self._announce(d, "")
            except Unavailable:
                raise  # nothing else will work either; the next sweep retries
            except Exception:  # one broken draw must not stall every other room's
                log.exception("sweeping draw %s/%s failed", room_id, draw_id)

    async def record(self, room_id: str, draw_id: str) -> dict[str, Any] | None:
        """The public record; a finished draw never changes, so it is kept once built (the
        verify link is what a whole room clicks right after the close)."""
        key = (room_id, draw_id)
        cached = self._records.get(key)
        if cached is not None:
            self._records.move_to_end(key)
            return cached
        d = await self.store.get(room_id, draw_id)
        if d is None:
            return None
        res = await self.store.result(room_id, draw_id)
        if res is None:
            return public_result(d, None, await self.store.count(room_id, draw_id))
        out = public_result(d, res, len(res.entrants))
        self._records[key] = out
        while len(self._records) > RECORDS_KEPT:
            self._records.popitem(last=False)
        return out

    # viewer side ---------------------------------------------------------------------
    async def enter(
        self, room_id: str, ident: Identity, draw_id: str, via: str, listing: Listing | None = None
    ) -> EnterResult:
        """Enter ident in the draw, or raise DrawRefused with the reason."""
        if ident.is_anonymous:
            raise DrawRefused("login_required", "anonymous viewers cannot enter draws")
        if ident.is_host:
            raise DrawRefused("forbidden", "hosts cannot enter draws")
        if listing is None:
            listing = self._open.get(room_id, {}).get(draw_id)  # saves a read; enter rechecks
        if listing is None:
            d = await self.store.get(room_id, draw_id)
            if d is None:
                raise DrawRefused(rules.DRAW_NOT_FOUND, "no such draw in this room")
            listing = Listing.of(d)
            if d.finished:
                raise DrawRefused(rules.DRAW_CLOSED, "this draw is no longer taking entries")
        if listing.mode != via:
            raise DrawRefused(
                rules.WRONG_ENTRY_MODE, "enter this draw by commenting its pass phrase"
            )
        now = now_ms()
        elig = listing.eligibility
        first = await self.store.first_seen(room_id, ident.uid) if elig.min_watch_s else None
        refused = rules.refusal(elig, tier=ident.tier, first_seen_ms=first, now_ms=now)
        if refused:
            raise DrawRefused(*refused)
        result = await self.store.enter(
            room_id, draw_id, ident.uid, ident.nick, now, ident.src, ident.ref
        )
        if result.code:
            raise DrawRefused(result.code, result.message)
        if not result.duplicate:
            self._dirty.add((room_id, draw_id))
            if self.commerce is not None:  # the store recorded it (see DrawStore.enter)
                fields = {"draw_id": draw_id, "uid": ident.uid, "src": ident.src}
                fields.update(ref=ident.ref, ts=now)
                self.commerce.recorded(room_id, "draw_entered", fields)
        return result

    async def on_comment(self, session: Session, event: Event) -> None:
        """A comment carrying an open draw's pass phrase enters its author."""
        listings = self._open.get(session.room_id)
        if not listings or event.get("host"):
            return
        now = now_ms()
        for listing in list(listings.values()):
            if listing.mode != rules.PHRASE or listing.ends_at <= now:
                continue
            if not rules.phrase_matches(event.get("text", ""), listing.phrase):
                continue
            frame: dict[str, Any] = {"t": "draw_entry", "draw_id": listing.id}
            try:
                result = await self.enter(
                    session.room_id, session.ident, listing.id, rules.PHRASE, listing
                )
            except Refusal as err:
                frame.update(entered=False, code=err.code, message=err.message)
            except Unavailable:
                log.warning("phrase entry in %s: store unavailable", session.room_id)
                frame.update(entered=False, code="unavailable", message="comment it again")
            except Exception:
                err = internal_error(log, "phrase entry failed in %s", session.room_id)
                frame.update(entered=False, code=err.code, message=err.message)
            else:
                frame.update(entered=True, entrants=result.entrants, duplicate=result.duplicate)
            session.conn.send(frame)

    async def on_join(self, join: Join, welcome: Frame) -> None:
        """Start the watch clock; show the draws under way, and hand a winner who was away
        at the close the claim tickets they missed."""
        room_id, ident = join.room_id, join.ident
        viewer = not ident.is_anonymous and not ident.is_host
        view = await self._joins.submit(room_id, ident.uid if viewer else None)
        shown = []
        for o in view.open:
            self._remember(room_id, Listing.of(o.draw))
            item = {**o.draw.announcement(), "entrants": o.entrants}
            if viewer:
                item["entered"] = o.entered
            shown.append(item)
        welcome["draws"] = shown
        if view.won:
            won = []
            for d in view.won:
                frame = self._won_frame(room_id, d.id, d.prize.public(), ident.uid)
                if d.prize.kind and self.bags is not None:
                    frame.update(await self.bags.held(d, ident.uid))
                won.append(frame)
            welcome["draws_won"] = won

    async def _joined(self, room_id: str, uids: list[str | None]) -> list[Joined]:
        return await self.store.joined(room_id, uids, now_ms())

    async def publish_counts(self) -> None:
        """Entrant counts as latest-value state, at most once per interval per draw."""
        dirty, self._dirty = self._dirty, set()
        rooms: dict[str, set[str]] = {}
        for room_id, draw_id in dirty:
            rooms.setdefault(room_id, set()).add(draw_id)
        for room_id, ids in rooms.items():
            # every open draw of the room, so one process's update never hides another's
            ids |= set(self._open.get(room_id, ()))
            counts = {i: await self.store.count(room_id, i) for i in sorted(ids)}
            await self.engine.publish_state(room_id, {"draw": counts})

    def on_resubscribed(self, room_id: str) -> None:
        """Entrant counts published during the gap never reached this process."""
        self._dirty.update((room_id, draw_id) for draw_id in self._open.get(room_id, ()))

    # events from every process -------------------------------------------------------
    def on_room_event(self, channel: RoomChannel, event: Event) -> None:
        etype = event.get("type")
        if etype == "draw_started":
            self._remember(channel.id, Listing.from_event(event))
        elif etype in ("draw_closed", "draw_cancelled"):
            self._forget(channel.id, event["draw_id"])
            if etype == "draw_closed":
                self._hand_prizes(channel.id, event)

    def _remember(self, room_id: str, listing: Listing) -> None:
        if listing.id in self._gone:
            return
        self._open.setdefault(room_id, {})[listing.id] = listing
        if listing.id not in self._timers:
            delay = max(0.0, (listing.ends_at - now_ms()) / 1000)
            self._timers[listing.id] = asyncio.get_running_loop().call_later(
                delay, self._spawn_close, room_id, listing.id
            )

    def _spawn_close(self, room_id: str, draw_id: str) -> None:
        self._timers.pop(draw_id, None)
        self._spawn(self._close_quietly(room_id, draw_id))

    async def _close_quietly(self, room_id: str, draw_id: str) -> None:
        try:
            await self.close(room_id, draw_id)
        except Exception:
            log.warning("closing draw %s/%s failed; the sweeper retries", room_id, draw_id)

    def _forget(self, room_id: str, draw_id: str) -> None:
        self._gone.add(draw_id)
        if len(self._gone) > 10_000:
            self._gone = {draw_id}
        listings = self._open.get(room_id)
        if listings is not None:
            listings.pop(draw_id, None)
            if not listings:
                del self._open[room_id]
        handle = self._timers.pop(draw_id, None)
        if handle is not None:
            handle.cancel()

    async def _hand_bags(self, d: Draw, awards: dict[str, Award]) -> None:
        """A lucky bag's winners get their `draw_won` (with what the bag gave them) and the
        prize's own frames on every connection, on every process: sent by the closer, who
        holds the prizes (another process could not mint their tickets)."""
        prize = d.prize.public()

        async def tell(uid: str, award: Award) -> None:
            won = {**self._won_frame(d.room_id, d.id, prize, uid), **award.won}
            for frame in (won, *award.frames):  # in order: draw_won first
                await self.engine.send_personal(d.room_id, uid, frame)

        await asyncio.gather(*(tell(uid, award) for uid, award in awards.items()))

    def _hand_prizes(self, room_id: str, event: dict[str, Any]) -> None:
        """Each winner connected here gets a private frame with a signed claim ticket (a
        lucky bag's winners get theirs from the closer: _hand_bags)."""
        if event.get("prize", {}).get("kind"):
            return
        for winner in event.get("winners", []):
            conns = self.hub.connections_of(room_id, winner["uid"])
            if not conns:
                continue
            frame = self._won_frame(room_id, event["draw_id"], event["prize"], winner["uid"])
            for conn in conns:
                conn.send_personal(frame)

    def _won_frame(
        self, room_id: str, draw_id: str, prize: dict[str, Any], uid: str
    ) -> dict[str, Any]:
        ticket, exp = claim.mint_claim(
            self.settings.merchant_key, room_id=room_id, draw_id=draw_id, uid=uid
        )
        return {
            "t": "draw_won",
            "draw_id": draw_id,
            "prize": prize,
            "claim": {
                "ticket": ticket,
                "expires_at": exp,
                "path": claim.claim_path(prize.get("claim_path", ""), ticket),
            },
        }
