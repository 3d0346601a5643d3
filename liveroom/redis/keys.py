"""Every Redis key and channel name of liveroom, built here and nowhere else.

Names start with the deployment's `key_prefix` (LIVEROOM_KEY_PREFIX), so several
deployments or test runs share one Redis and one `SCAN MATCH prefix:*` finds them all.

**Room keys** are `<prefix>:{<room_id>}:<name>`. The hash tag `{<room_id>}` is the first
`{...}` of every such name, so Redis Cluster hashes only the room id: all of a room's keys
(engine, sales, draws, its commerce stream) and its pub/sub channel share one slot, every
Lua script touches one slot, and a room's MULTI transactions stay legal. A suffix can never
move a key out of the slot, whatever it contains (a uid or request id with braces in it
included), because the tag comes first; that is why the prefix itself may not contain
braces. Sale scripts rely on this: they take the sale key base (`SaleKeys.base`) and derive
the sale, hold and answer keys from it in Lua with the same suffixes as `SaleKeys` builds
here (the sweep finds hold ids inside the script, so it cannot be handed their keys).

**Global keys** carry no hash tag, so each lands in the slot of its whole name. That is on
purpose: none of them is ever touched together with another key in one command, script or
transaction, so co-locating them would buy nothing and would put every global read on one
shard. They are:

- `<prefix>:products`: the catalogue, shared by every room (one hash, read on every join).
- `<prefix>:sale:rooms`: the rooms that ever had a sale, visited by every process's sweeper.
- `<prefix>:draws:due`: draws not yet announced, by end time, for every process's sweeper.
- `<prefix>:merchant:nonce:<nonce>`: one key per merchant request nonce (spread over every
  slot: each claim is one SET NX).
- `<prefix>:node:<node_id>`: a process's own pub/sub channel on one Redis (see
  `Keys.node_channel`; not used on a cluster).
- `<prefix>:jobs:due`: the due index of every room's jobs (liveroom/jobs), by due time, which
  every process's job runner polls: one sorted set, touched only by single-key commands
  (ZADD, ZRANGEBYSCORE, ZREM) and never in a script with a room's keys. A job's truth is
  its hash in its room's slot; the index only says where to look, so a stale entry is
  harmless (the claim script tells, and the runner drops it). On a cluster it is one key
  on one shard, read a hundred entries at a time twice a second per process.
- `<prefix>:wecom:pace:<fingerprint>`: the sends of one WeCom group robot in the last
  window (its limit is per robot, whichever shows and rooms share it); one key per robot.
- `<prefix>:series` and `<prefix>:series:<id>:episodes`: show series (recurring slots) and
  their episodes' rooms: merchant-level records, not a room's, each read or written alone.
- `<prefix>:an:viewer:<uid>`: a viewer's profile across shows (liveroom/analytics). A
  viewer belongs to no room, and one key per uid spreads the profiles over every slot;
  they are written in a plain pipeline (never a script or a transaction), which a cluster
  client splits by slot.
- `<prefix>:coupon:tpl:<id>`, `<prefix>:coupon:tpls` and `<prefix>:coupon:tpl:<id>:drops`:
  coupon templates (liveroom/coupons), merchant-level like the catalogue; a template's
  hash holds its total and what drops reserved of it, so a reservation is one script on
  one key whichever room drops it (the drop itself is then created in its room's slot).
- `<prefix>:webhook:rooms`: the rooms whose commerce events may not all have been delivered
  to the merchant's webhook (liveroom/webhooks), visited by every process's dispatcher; a
  room leaves once delivered up to its stream's end. One set, single-key commands only (a
  room's cursor and lease are in its own slot).
- `<prefix>:an:seen` and `<prefix>:an:spend`: the profiles' indexes by last seen and by
  spend, which segment listings page through by score across every viewer. One sorted set
  each, so a range is one command; each viewer costs one member per index.

On a Redis Cluster each global key is on the master of its own slot. Pipelines that read
one with room keys (a room's shop reads the catalogue) are split by node by the cluster
client; nothing atomic ever spans two slots.

Adding a key: add a property or method to the class of its owner below with a docstring
(what it holds, its type, its TTL or cap), build it with `_in_room` for a room key or
`_global` for a global one (and say in the list above why it is global), and add it to
docs/redis.md. Nothing outside this module formats a key.
"""

from __future__ import annotations

from dataclasses import dataclass


def _in_room(prefix: str, room_id: str, name: str) -> str:
    return f"{prefix}:{{{room_id}}}:{name}"


def _global(prefix: str, name: str) -> str:
    return f"{prefix}:{name}"


def dedup_suffix(uid: str, client_id: str) -> str:
    """What follows `RoomKeys.dedup_base` in the dedup key of (uid, client id)."""
    return f":{len(uid)}:{uid}:{client_id}"


@dataclass(frozen=True, slots=True)
class RoomKeys:
    """The engine's keys of one room: state, events, comments, likes, presence."""

    prefix: str
    room_id: str

    def _k(self, name: str) -> str:
        return _in_room(self.prefix, self.room_id, name)

    @property
    def room(self) -> str:
        """Hash of room fields (title, status, ...); missing fields mean defaults."""
        return self._k("room")

    @property
    def seq(self) -> str:
        """String: the room's last event seq (INCR)."""
        return self._k("seq")

    @property
    def history(self) -> str:
        """Stream of room events, entry id `<seq>-0`, capped at settings.history_size."""
        return self._k("history")

    @property
    def likes(self) -> str:
        """String: the room's like total (INCRBY)."""
        return self._k("likes")

    @property
    def deleted(self) -> str:
        """Set of deleted comment ids (hidden from snapshots)."""
        return self._k("deleted")

    @property
    def moderation(self) -> str:
        """Hash uid -> -1 (banned) or muted-until unix seconds."""
        return self._k("mod")

    @property
    def buckets(self) -> str:
        """Hash uid -> "tokens stamp" of the comment token bucket."""
        return self._k("bucket")

    @property
    def last_comment(self) -> str:
        """Hash uid -> unix seconds of the user's last accepted comment (slow mode)."""
        return self._k("last")

    @property
    def presence(self) -> str:
        """Hash node_id -> "count expiry_ms": each process's viewer count with its TTL; the
        key expires with the last report."""
        return self._k("presence")

    @property
    def channel(self) -> str:
        """Pub/sub channel of the room's events, like totals and state. It carries the
        room's tag, so on a cluster sharded pub/sub keeps it on the room's shard."""
        return self._k("ch")

    @property
    def replay(self) -> str:
        """Stream of the room events a show's replay shows (rules.show.REPLAY_TYPES), entry
        id `<seq>-0`, field `d` msgpack, written in the append scripts while the room's
        `replay` field is set (from go-live to the end); capped near
        settings.replay_max_events, expires settings.replay_days after the last event."""
        return self._k("replay")

    def pace(self, name: str) -> str:
        """Hash last_at, pending, item: the pace of one of the room's paced announcements
        (`name`, e.g. "purchase": engine.publish_paced), the newest item waiting as msgpack;
        expires a day after its last use."""
        return self._k(f"pace:{name}")

    @property
    def durable(self) -> str:
        """String, 60 s TTL: written by a commerce call right before its WAIT, so the WAIT
        covers everything the room's master has, a retried call's first attempt included
        (liveroom/redis/durability.py)."""
        return self._k("durable")

    @property
    def dedup_base(self) -> str:
        """Where every `dedup` key of the room starts: the comment script gets it as a key
        and appends each comment's `dedup_suffix`."""
        return self._k("dedup")

    def dedup(self, uid: str, client_id: str) -> str:
        """String, TTL settings.dedup_ttl_s: the accepted comment for (uid, client id) as
        "<seq>:<payload>"; the uid's length keeps pairs apart."""
        return self.dedup_base + dedup_suffix(uid, client_id)


@dataclass(frozen=True, slots=True)
class SaleKeys:
    """The sale store's keys of one room, all under `base`. The sale scripts get `base` as
    KEYS[1] and append the same suffixes in Lua (liveroom/redis/lua/lib_sale.lua)."""

    prefix: str
    room_id: str

    @property
    def base(self) -> str:
        """Not a key itself: what every sale key of the room starts with."""
        return _in_room(self.prefix, self.room_id, "sale")

    def sale(self, sale_id: str) -> str:
        """Hash: the sale's terms and counters (available, held, sold, started, ended_at;
        a coupon drop's redeemed)."""
        return f"{self.base}:s:{sale_id}"

    def takens(self, sale_id: str) -> str:
        """Hash uid -> units held or sold (the per-user limit)."""
        return f"{self.base}:s:{sale_id}:users"

    def sale_holds(self, sale_id: str) -> str:
        """Set of the sale's hold ids."""
        return f"{self.base}:s:{sale_id}:holds"

    def answer(self, sale_id: str, uid: str, request_id: str) -> str:
        """String, TTL max(answer ttl, hold_s + 60): the kept answer to a grab (JSON). The
        uid's length (in bytes, as Lua's # counts) keeps (uid, request id) pairs apart."""
        return f"{self.base}:ans:{sale_id}:{len(uid.encode())}:{uid}:{request_id}"

    def hold(self, hold_id: str) -> str:
        """Hash: the hold (uid, qty, price, status, order id, src, times), or a coupon of a
        drop (the same fields, plus kind and valid_from; expires_at is its valid_until)."""
        return f"{self.base}:h:{hold_id}"

    def user_units(self, uid: str) -> str:
        """Set of the ids of every hold and coupon uid took in this room (the welcome's
        `holds` and `coupons`); the uid's length (bytes, as Lua's # counts) keeps uids
        apart."""
        return f"{self.base}:u:{len(uid.encode())}:{uid}"

    @property
    def due(self) -> str:
        """Sorted set hold or coupon id -> expires_at ms: what the sweeper expires."""
        return f"{self.base}:due"

    @property
    def timers(self) -> str:
        """Sorted set sale id -> ms of its next scheduled start or end."""
        return f"{self.base}:timers"

    @property
    def orders(self) -> str:
        """Hash order id -> hold id (a payment confirmation is idempotent by order id)."""
        return f"{self.base}:orders"

    @property
    def sales(self) -> str:
        """Sorted set sale id -> created_at ms."""
        return f"{self.base}:sales"

    @property
    def untold(self) -> str:
        """Set of ids of ended sales whose end listeners (types.SaleEndListener) have not
        all been told yet: set in the same script step as the end, cleared once they have,
        so a process that dies in between leaves the telling to the sweep."""
        return f"{self.base}:untold"

    @property
    def bag(self) -> str:
        """List of pinned skus, in pin order."""
        return f"{self.base}:bag"

    @property
    def clicks(self) -> str:
        """Hash sku -> clicks on the product card."""
        return f"{self.base}:clicks"


@dataclass(frozen=True, slots=True)
class DrawKeys:
    """The draw store's keys of one room."""

    prefix: str
    room_id: str

    def _k(self, name: str) -> str:
        return _in_room(self.prefix, self.room_id, name)

    def draw(self, draw_id: str) -> str:
        """Hash: rec (JSON of the fixed fields), state, ends_at, closed_at; expires 30 days
        after the draw finished."""
        return self._k(f"draw:{draw_id}")

    def entrants(self, draw_id: str) -> str:
        """Set of entrant uids; expires with the draw."""
        return self._k(f"draw:{draw_id}:in")

    def nicks(self, draw_id: str) -> str:
        """Hash uid -> nick at entry, for announcing winners; expires with the draw."""
        return self._k(f"draw:{draw_id}:nick")

    @property
    def open(self) -> str:
        """Set of the room's open draw ids."""
        return self._k("draws:open")

    @property
    def seen(self) -> str:
        """Hash uid -> first-seen unix ms in the room (watch-time eligibility); 2 days TTL."""
        return self._k("draws:seen")

    def won(self, uid: str) -> str:
        """List of the draw ids uid won lately, newest first (5 kept, 7 days TTL)."""
        return self._k(f"draws:won:{uid}")


@dataclass(frozen=True, slots=True)
class JobKeys:
    """The due jobs of one room (liveroom/jobs): each job's hash, and the room's list."""

    prefix: str
    room_id: str

    def _k(self, name: str) -> str:
        return _in_room(self.prefix, self.room_id, name)

    def job(self, job_id: str) -> str:
        """Hash: kind, payload (JSON), due_at, state, attempts, lease, version, error;
        expires jobs.KEEP_FINISHED_S after it finished (done, failed, cancelled)."""
        return self._k(f"job:{job_id}")

    @property
    def jobs(self) -> str:
        """Sorted set job id -> created ms: the room's jobs, for listing (entries whose hash
        expired are dropped when listed)."""
        return self._k("jobs")


@dataclass(frozen=True, slots=True)
class ShowKeys:
    """The show of one room (liveroom/shows)."""

    prefix: str
    room_id: str

    def _k(self, name: str) -> str:
        return _in_room(self.prefix, self.room_id, name)

    @property
    def show(self) -> str:
        """Hash: rec (JSON of the merchant's settings), status, started_at, ended_at,
        created_at; none (a show is kept as long as its room)."""
        return self._k("show")

    @property
    def subscribers(self) -> str:
        """Hash uid -> JSON {ts, nick, tier, src} of the viewers who asked to be reminded."""
        return self._k("show:subs")

    @property
    def subscriber_order(self) -> str:
        """List of subscriber uids in the order they subscribed (paging the listing)."""
        return self._k("show:subs:order")


@dataclass(frozen=True, slots=True)
class AnalyticsKeys:
    """The analytics store's keys of one room (liveroom/analytics): share codes, first
    touches, and the figures, each table a hash of counters and a sorted set of marks."""

    prefix: str
    room_id: str

    def _k(self, name: str) -> str:
        return _in_room(self.prefix, self.room_id, name)

    @property
    def codes(self) -> str:
        """Hash share code -> the code's JSON (channel, owner, label, created_at)."""
        return self._k("an:codes")

    @property
    def touches(self) -> str:
        """Hash uid -> "ref<TAB>src", the viewer's first touch in the show; expires
        settings.analytics_touch_days after the last first touch written."""
        return self._k("an:touch")

    def table(self, name: str) -> str:
        """Hash field -> count: a figures table (rules.attribution FIG, SERIES)."""
        return self._k(f"an:{name}")

    def marks(self, name: str) -> str:
        """Sorted set field -> mark: a table's highs and lows (peak, start, last, ...)."""
        return self._k(f"an:{name}:marks")


@dataclass(frozen=True, slots=True)
class Keys:
    """The deployment's key builder: room keys by owner, and the few global keys."""

    prefix: str

    def __post_init__(self) -> None:
        if not self.prefix or "{" in self.prefix or "}" in self.prefix:
            # braces in the prefix would become the hash tag of every key: one slot for all
            raise ValueError(f"key prefix {self.prefix!r} must be non-empty and brace-free")

    # room keys -------------------------------------------------------------------------
    def room(self, room_id: str) -> RoomKeys:
        return RoomKeys(self.prefix, room_id)

    def sale(self, room_id: str) -> SaleKeys:
        return SaleKeys(self.prefix, room_id)

    def draws(self, room_id: str) -> DrawKeys:
        return DrawKeys(self.prefix, room_id)

    def jobs(self, room_id: str) -> JobKeys:
        return JobKeys(self.prefix, room_id)

    def show(self, room_id: str) -> ShowKeys:
        return ShowKeys(self.prefix, room_id)

    def analytics(self, room_id: str) -> AnalyticsKeys:
        return AnalyticsKeys(self.prefix, room_id)

    def commerce_stream(self, room_id: str) -> str:
        """Stream: the room's commerce events (liveroom/stream), capped near
        stream.MAXLEN. The name keeps its historical `sale` part: merchant backends read it
        by this name with consumer groups (docs/merchant-api.md)."""
        return _in_room(self.prefix, room_id, "sale:events")

    # global keys (see the module docstring for why each is global) ---------------------
    @property
    def products(self) -> str:
        """Hash sku -> product JSON: the catalogue every room pins from."""
        return _global(self.prefix, "products")

    @property
    def rooms_with_sales(self) -> str:
        """Set of room ids with a sale: what the full sweep visits. A room leaves it once its
        selling is over (rules.sale.room_idle) and comes back with its next sale."""
        return _global(self.prefix, "sale:rooms")

    @property
    def webhook_rooms(self) -> str:
        """Set of room ids with commerce events the merchant's webhook may not have had:
        what the webhook dispatchers visit."""
        return _global(self.prefix, "webhook:rooms")

    def webhook(self, room_id: str) -> str:
        """Hash of the room's webhook delivery: cursor (the last stream id delivered),
        owner and until (the lease of the process delivering it, unix ms). No TTL: a few
        bytes per room that ever sold."""
        return _in_room(self.prefix, room_id, "webhook")

    @property
    def draws_due(self) -> str:
        """Sorted set "<room>/<draw>" -> ends_at ms, until the draw is announced: what the
        sweepers close (or announce, if the closer died)."""
        return _global(self.prefix, "draws:due")

    @property
    def jobs_due(self) -> str:
        """Sorted set "<room>/<job>/<version>" -> due (or lease end) ms: where every job
        runner looks for work; stale entries are dropped by whoever finds them."""
        return _global(self.prefix, "jobs:due")

    def wecom_pace(self, fingerprint: str) -> str:
        """Sorted set of a group robot's sends in the last window (member -> ms); expires
        with the window."""
        return _global(self.prefix, f"wecom:pace:{fingerprint}")

    @property
    def series(self) -> str:
        """Hash series id -> JSON of the series (its slot and the defaults of its shows)."""
        return _global(self.prefix, "series")

    def series_episodes(self, series_id: str) -> str:
        """Sorted set room id -> starts_at ms: the series' episodes."""
        return _global(self.prefix, f"series:{series_id}:episodes")

    def viewer(self, uid: str) -> str:
        """Hash: a viewer's profile across shows (counters, k|h|b per sku, first_seen,
        last_room); no TTL (see docs/redis.md for its size)."""
        return _global(self.prefix, f"an:viewer:{uid}")

    @property
    def viewers_seen(self) -> str:
        """Sorted set uid -> last seen ms: the recency index of the profiles."""
        return _global(self.prefix, "an:seen")

    @property
    def viewers_spend(self) -> str:
        """Sorted set uid -> spend in fen: the value index of the profiles."""
        return _global(self.prefix, "an:spend")

    def coupon_template(self, template_id: str) -> str:
        """Hash: rec (the template's JSON), total, reserved (what drops took of total)."""
        return _global(self.prefix, f"coupon:tpl:{template_id}")

    @property
    def coupon_templates(self) -> str:
        """Set of template ids (listing)."""
        return _global(self.prefix, "coupon:tpls")

    def coupon_drops(self, template_id: str) -> str:
        """Set of "<room>/<drop>": the template's drops (its issued and redeemed counts)."""
        return _global(self.prefix, f"coupon:tpl:{template_id}:drops")

    def nonce(self, nonce: str) -> str:
        """String with the signing window's TTL: a merchant request nonce seen."""
        return _global(self.prefix, f"merchant:nonce:{nonce}")

    def node_channel(self, node_id: str) -> str:
        """Pub/sub channel of one process on one Redis: its subscriber holds it from the
        start, so the connection exists (and reconnects) even while the process serves no
        room. (On a cluster a process holds connections only to its rooms' masters.)"""
        return _global(self.prefix, f"node:{node_id}")
