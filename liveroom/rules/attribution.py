"""Attribution: where a viewer came from, and the fold that turns a room's events into figures.

Pure: no I/O. The analytics feature (liveroom/analytics) calls these live, as events happen,
and the rebuild calls the same `fold` over the room's commerce stream, so live and rebuilt
figures agree by construction.

**Share codes and channels.** A share code (`ref`) names one link of one show, owned by
someone (the host, a staff member, a community member (KOC) or a distributor) and made for
one channel (`wecom_group`, `moments`, `poster`, `offline_store`, ...). A channel (`src`)
alone says how a viewer came without saying who sent them. Codes are 8 characters of
`CODE_ALPHABET` (upper case and digits); channels are lower case (`CHANNEL`), so the two
never collide and one "source key" names either: the code, or else the channel.

**The rule: first touch per viewer per show.**
1. A join's touch: the share code from the viewer's signed token (`ref` claim), else from
   the link (`?ref=` on the page and socket URL); the channel from the token's `src`, else
   the link's `src`. A signed claim always wins over a link parameter.
2. A code that is not one of this room's codes is ignored (the join goes on, the viewer
   is told why in the welcome): the touch falls back to the channel, or `direct`. A known
   code brings its own channel.
3. The viewer's first touch in the show (the first join of that uid in that room) is kept;
   every later join, watch second, comment, like, click, grab, hold, paid order and draw
   entry of the viewer in that show is attributed to it. Anonymous viewers are a new viewer
   per connection (they have no lasting uid), attributed by the link they came through.

**Figures are folds.** `fold(event)` turns one commerce event (as the stream holds it)
into a `Delta`: counter increments and high / low marks, by table and field. Per-viewer
actions too frequent to record one by one (comments, likes, clicks, watch time,
anonymous joins) reach the stream as one `activity` aggregate per process and room every
flush (`Activity`), which folds like any other event.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from liveroom.errors import Refusal

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: codes are read aloud
CODE_LEN = 8
CODE = re.compile(f"^[{CODE_ALPHABET}]{{{CODE_LEN}}}\\Z")
CHANNEL = re.compile(r"^[a-z][a-z0-9_]{0,31}\Z")
DIRECT = "direct"  # no code, no channel
OTHER = "other"  # a token's `src` that is not a channel name
OWNER_KINDS = ("host", "staff", "koc", "distributor")
SUGGESTED_CHANNELS = ("wecom_group", "moments", "poster", "offline_store", "live_share")
MAX_LABEL = 100
MAX_OWNER_ID = 128
# WeChat's live-room plugin passes `custom_params` back to the mini-program: at most 600
# characters once URL-encoded.
CUSTOM_PARAMS_MAX = 600
WX_LIVE_PLUGIN = "plugin-private://wx2b03c6e691cd7370/pages/live-player-plugin"

# Why a ref or src given with a join was not honoured (told in the welcome, never refused).
UNKNOWN_REF = "unknown_ref"
BAD_REF = "bad_ref"
BAD_SRC = "bad_src"


class ShareCodeError(Refusal):
    """A share code request that cannot be honoured."""


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LEN))


def is_code(text: object) -> bool:
    return isinstance(text, str) and CODE.match(text) is not None


def channel_of(src: object) -> str:
    """The channel a token's `src` names: `direct` when empty, `other` when not a name."""
    if not isinstance(src, str) or not src:
        return DIRECT
    low = src.strip().lower()
    return low if CHANNEL.match(low) else OTHER


@dataclass(frozen=True, slots=True)
class Owner:
    """Who a code counts for: the inviter."""

    kind: str
    id: str
    name: str = ""

    def public(self) -> dict[str, str]:
        return {"kind": self.kind, "id": self.id, "name": self.name}


@dataclass(frozen=True, slots=True)
class ShareCode:
    code: str
    room_id: str
    channel: str
    owner: Owner
    label: str = ""
    created_at: int = 0

    def public(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "room_id": self.room_id,
            "channel": self.channel,
            "owner": self.owner.public(),
            "label": self.label,
            "created_at": self.created_at,
        }

    def to_json(self) -> str:
        return json.dumps(self.public(), separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> ShareCode:
        raw = json.loads(text)
        owner = Owner(**raw.pop("owner"))
        return cls(owner=owner, **raw)


def build_code(raw: Mapping[str, Any], *, room_id: str, code: str, now: int) -> ShareCode:
    """A merchant's share code request, validated; raise ShareCodeError("bad_share_code")."""
    unknown = set(raw) - {"owner", "channel", "label"}
    if unknown:
        raise ShareCodeError("bad_share_code", f"unknown fields: {sorted(unknown)}")
    owner = raw.get("owner")
    if not isinstance(owner, Mapping):
        raise ShareCodeError("bad_share_code", "'owner' must be {kind, id, name}")
    if set(owner) - {"kind", "id", "name"}:
        raise ShareCodeError("bad_share_code", "'owner' has only kind, id and name")
    kind, oid, name = owner.get("kind"), owner.get("id"), owner.get("name", "")
    if kind not in OWNER_KINDS:
        raise ShareCodeError("bad_share_code", f"'owner.kind' must be one of {list(OWNER_KINDS)}")
    if not isinstance(oid, str) or not 0 < len(oid) <= MAX_OWNER_ID:
        raise ShareCodeError("bad_share_code", f"'owner.id' must be 1-{MAX_OWNER_ID} characters")
    if not isinstance(name, str) or len(name) > MAX_LABEL:
        raise ShareCodeError("bad_share_code", f"'owner.name' must be at most {MAX_LABEL}")
    channel = raw.get("channel")
    if not isinstance(channel, str) or not CHANNEL.match(channel):
        raise ShareCodeError(
            "bad_share_code", "'channel' must be 1-32 of a-z 0-9 _ starting with a letter"
        )
    label = raw.get("label", "")
    if not isinstance(label, str) or len(label) > MAX_LABEL:
        raise ShareCodeError("bad_share_code", f"'label' must be at most {MAX_LABEL} characters")
    return ShareCode(code, room_id, channel, Owner(kind, oid, name), label, now)


def links(code: ShareCode, base_url: str, mp_page: str) -> dict[str, Any]:
    """What to share: a web link to the viewer page, a path in the brand's mini-program, and
    `custom_params` for WeChat's live-room plugin (JSON the mini-program gets back)."""
    query = {"room": code.room_id, "ref": code.code}
    params = json.dumps(
        {"room": code.room_id, "ref": code.code, "src": code.channel}, separators=(",", ":")
    )
    encoded = quote(params, safe="")
    if len(encoded) > CUSTOM_PARAMS_MAX:  # a room id is at most 64 characters: never
        raise ShareCodeError("bad_share_code", "custom_params would pass 600 characters")
    return {
        "web": f"{base_url.rstrip('/')}/watch?{urlencode(query)}",
        "miniprogram": {"path": f"{mp_page}?{urlencode(query)}", "custom_params": params},
        "wx_live_plugin": f"{WX_LIVE_PLUGIN}?custom_params={encoded}",
    }


# -- the rule -------------------------------------------------------------------------------


def key_of(ref: str, src: str) -> str:
    """The source key figures are kept under: the code, else the channel, else direct."""
    return ref or src or DIRECT


@dataclass(frozen=True, slots=True)
class Touch:
    """How a viewer reached the show: a share code (or none) and a channel."""

    ref: str = ""
    src: str = DIRECT

    @property
    def key(self) -> str:
        return key_of(self.ref, self.src)

    def encode(self) -> str:
        return f"{self.ref}\t{self.src}"

    @classmethod
    def decode(cls, text: str) -> Touch:
        ref, _, src = text.partition("\t")
        return cls(ref, src or DIRECT)


@dataclass(frozen=True, slots=True)
class Candidate:
    """What a join claims, before the code is looked up."""

    ref: str
    src: str
    ignored: Refusal | None = None


def candidate(token_ref: str, token_src: str, link_ref: Any, link_src: Any) -> Candidate:
    """Step 1 of the rule: the signed token's claims win over the link's parameters; a
    malformed link parameter is ignored, with the reason."""
    ignored = None
    ref = token_ref
    if ref and not is_code(ref):
        ref = ""
        ignored = Refusal(BAD_REF, "the token's ref is not a share code; it was ignored")
    if not ref and link_ref not in (None, ""):
        if is_code(link_ref):
            ref = link_ref
        else:
            ignored = ignored or Refusal(BAD_REF, "the link's ref is not a share code; ignored")
    src = token_src
    if not src and link_src not in (None, ""):
        if isinstance(link_src, str) and CHANNEL.match(link_src):
            src = link_src
        else:
            ignored = ignored or Refusal(BAD_SRC, "the link's src is not a channel; ignored")
    return Candidate(ref, src, ignored)


def touch_of(cand: Candidate, code: ShareCode | None) -> tuple[Touch, Refusal | None]:
    """Step 2: a known code brings its channel; an unknown one falls back to the channel."""
    if cand.ref and code is not None:
        return Touch(code.code, code.channel), cand.ignored
    ignored = cand.ignored
    if cand.ref:
        ignored = Refusal(
            UNKNOWN_REF, f"share code {cand.ref!r} is not one of this show's; it was ignored"
        )
    return Touch("", channel_of(cand.src)), ignored


def first_touch(stored: Touch | None, this: Touch) -> tuple[Touch, bool]:
    """Step 3: the viewer's first touch in the show wins; True when this join is it."""
    return (this, True) if stored is None else (stored, False)


# -- figures -------------------------------------------------------------------------------

FIG = "fig"  # the room's totals, per product (p|sku|metric), per source (s|key|metric)
SERIES = "series"  # per time bucket (<bucket ms>|metric)
TABLES = (FIG, SERIES)
SEP = "|"  # no sku, code, channel or draw id contains it


def product_field(sku: str, metric: str) -> str:
    return f"p{SEP}{sku}{SEP}{metric}"


def source_field(key: str, metric: str) -> str:
    return f"s{SEP}{key}{SEP}{metric}"


def draw_field(draw_id: str, metric: str) -> str:
    return f"d{SEP}{draw_id}{SEP}{metric}"


def series_field(bucket: int, metric: str) -> str:
    return f"{bucket}{SEP}{metric}"


@dataclass
class Delta:
    """What events change: counter increments, and marks kept at their highest (peak, last)
    or lowest (start). Merging two deltas is the same as applying both."""

    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    highs: dict[tuple[str, str], int] = field(default_factory=dict)
    lows: dict[tuple[str, str], int] = field(default_factory=dict)

    def add(self, table: str, name: str, n: int = 1) -> None:
        if n:
            key = (table, name)
            self.counts[key] = self.counts.get(key, 0) + n

    def high(self, table: str, name: str, value: int) -> None:
        key = (table, name)
        old = self.highs.get(key)
        if old is None or value > old:
            self.highs[key] = value

    def low(self, table: str, name: str, value: int) -> None:
        key = (table, name)
        old = self.lows.get(key)
        if old is None or value < old:
            self.lows[key] = value

    def merge(self, other: Delta) -> None:
        for (table, name), n in other.counts.items():
            self.add(table, name, n)
        for (table, name), v in other.highs.items():
            self.high(table, name, v)
        for (table, name), v in other.lows.items():
            self.low(table, name, v)

    def __bool__(self) -> bool:
        return bool(self.counts or self.highs or self.lows)


@dataclass
class Figures:
    """A room's figures as stored: per table, counters and marks (highs and lows alike)."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    marks: dict[str, dict[str, int]] = field(default_factory=dict)

    def count(self, name: str, table: str = FIG) -> int:
        return self.counts.get(table, {}).get(name, 0)

    def mark(self, name: str, table: str = FIG) -> int | None:
        return self.marks.get(table, {}).get(name)

    def apply(self, delta: Delta) -> None:
        """What a store does with a delta (the memory store uses this; Redis mirrors it)."""
        for (table, name), n in delta.counts.items():
            tab = self.counts.setdefault(table, {})
            tab[name] = tab.get(name, 0) + n
        for (table, name), v in delta.highs.items():
            tab = self.marks.setdefault(table, {})
            if name not in tab or v > tab[name]:
                tab[name] = v
        for (table, name), v in delta.lows.items():
            tab = self.marks.setdefault(table, {})
            if name not in tab or v < tab[name]:
                tab[name] = v

    def public(self) -> dict[str, Any]:
        return {"counts": self.counts, "marks": self.marks}


def bucket_of(ts: int, bucket_ms: int) -> int:
    return ts - ts % bucket_ms


def _hold_fold(d: Delta, event: Mapping[str, Any], bucket: int) -> None:
    etype, sku = event["type"], event.get("sku", "")
    key = key_of(event.get("ref", ""), event.get("src", ""))
    if etype == "hold_created":
        d.add(FIG, "holds")
        d.add(FIG, product_field(sku, "holds"))
        d.add(FIG, source_field(key, "holds"))
        d.add(SERIES, series_field(bucket, "holds"))
    elif etype == "hold_paid":
        fen = int(event.get("qty", 0)) * int(event.get("price_fen", 0))
        units = int(event.get("qty", 0))
        for name, n in (("paid", 1), ("paid_fen", fen), ("paid_units", units)):
            d.add(FIG, name, n)
            d.add(FIG, product_field(sku, name), n)
        d.add(FIG, source_field(key, "paid"))
        d.add(FIG, source_field(key, "paid_fen"), fen)
        d.add(SERIES, series_field(bucket, "paid_fen"), fen)
    elif etype in ("hold_expired", "hold_cancelled"):
        name = "expired" if etype == "hold_expired" else "cancelled"
        d.add(FIG, name)
        d.add(FIG, product_field(sku, name))


def fold(event: Mapping[str, Any], bucket_ms: int) -> Delta:
    """The figures one commerce event changes (event as the stream holds it, decoded)."""
    d = Delta()
    etype = event.get("type")
    ts = int(event.get("ts", 0))
    bucket = bucket_of(ts, bucket_ms)
    if etype == "viewer_joined":
        key = key_of(event.get("ref", ""), event.get("src", ""))
        d.add(FIG, "joins")
        d.add(FIG, source_field(key, "joins"))
        d.add(SERIES, series_field(bucket, "joins"))
        if event.get("first"):
            d.add(FIG, "unique")
            d.add(FIG, source_field(key, "viewers"))
        d.low(FIG, "start", ts)
        d.high(FIG, "last", ts)
    elif etype in ("hold_created", "hold_paid", "hold_expired", "hold_cancelled"):
        _hold_fold(d, event, bucket)
    elif etype in _COUPON_METRICS:  # a drop's coupon claimed, or used on an order
        name = _COUPON_METRICS[etype]
        d.add(FIG, name)
        d.add(FIG, source_field(key_of(event.get("ref", ""), event.get("src", "")), name))
    elif etype == "draw_entered":
        key = key_of(event.get("ref", ""), event.get("src", ""))
        d.add(FIG, "draw_entries")
        d.add(FIG, source_field(key, "draw_entries"))
        d.add(FIG, draw_field(event["draw_id"], "entries"))
    elif etype == "draw_started":
        d.high(FIG, draw_field(event["draw_id"], "started"), ts)
    elif etype == "draw_closed":
        # marks, not counts: a draw result may be recorded twice (see docs/merchant-api.md)
        did = event["draw_id"]
        d.high(FIG, draw_field(did, "closed"), ts)
        d.high(FIG, draw_field(did, "entrants"), int(event.get("entrants_count", 0)))
        d.high(FIG, draw_field(did, "winners"), len(event.get("winners") or []))
    elif etype == "draw_cancelled":
        did = event["draw_id"]
        d.high(FIG, draw_field(did, "cancelled"), ts)
        d.high(FIG, draw_field(did, "entrants"), int(event.get("entrants_count", 0)))
    elif etype == "activity":
        _activity_fold(d, event, bucket_ms)
    return d


_COUPON_METRICS = {"coupon_issued": "coupons_issued", "coupon_redeemed": "coupons_redeemed"}


# -- the per-flush aggregate ------------------------------------------------------------------

# activity "sources" metrics: comments, likes, watch ms, anonymous joins (each a new viewer),
# product clicks
_ACTIVITY_METRICS = {"c": "comments", "l": "likes", "w": "watch_ms", "j": "joins", "k": "clicks"}


def _activity_fold(d: Delta, event: Mapping[str, Any], bucket_ms: int) -> None:
    t0, t1 = int(event.get("t0", 0)), int(event.get("ts", 0))
    bucket = bucket_of(t1, bucket_ms)
    for key, metrics in (event.get("sources") or {}).items():
        for short, n in metrics.items():
            name = _ACTIVITY_METRICS.get(short)
            if name is None or not n:
                continue
            d.add(FIG, name, n)
            d.add(FIG, source_field(key, name), n)
            if short == "j":  # an anonymous viewer is a new viewer per connection
                d.add(FIG, "unique", n)
                d.add(FIG, source_field(key, "viewers"), n)
            if short in ("c", "l", "j"):
                d.add(SERIES, series_field(bucket, name), n)
    for sku, n in (event.get("clicks") or {}).items():
        d.add(FIG, product_field(sku, "clicks"), n)
    viewers = event.get("viewers")
    if isinstance(viewers, int) and viewers >= 0:
        d.high(FIG, "peak", viewers)
        d.high(SERIES, series_field(bucket, "viewers"), viewers)
    if t0:
        d.low(FIG, "start", t0)
    d.high(FIG, "last", t1)


@dataclass
class Activity:
    """One process's aggregate of a room's per-viewer actions since its last record."""

    sources: dict[str, dict[str, int]] = field(default_factory=dict)
    clicks: dict[str, int] = field(default_factory=dict)

    def _bump(self, key: str, short: str, n: int) -> None:
        if n:
            metrics = self.sources.setdefault(key, {})
            metrics[short] = metrics.get(short, 0) + n

    def comment(self, key: str) -> None:
        self._bump(key, "c", 1)

    def likes(self, key: str, n: int) -> None:
        self._bump(key, "l", n)

    def click(self, key: str, sku: str) -> None:
        self._bump(key, "k", 1)
        self.clicks[sku] = self.clicks.get(sku, 0) + 1

    def anonymous_join(self, key: str) -> None:
        self._bump(key, "j", 1)

    def watch(self, key: str, ms: int) -> None:
        self._bump(key, "w", ms)

    def merge(self, other: Activity) -> None:
        for key, metrics in other.sources.items():
            for short, n in metrics.items():
                self._bump(key, short, n)
        for sku, n in other.clicks.items():
            self.clicks[sku] = self.clicks.get(sku, 0) + n

    def __bool__(self) -> bool:
        return bool(self.sources or self.clicks)

    def record(self, *, t0: int, t1: int, viewers: int, node: str) -> dict[str, Any]:
        """The `activity` event's fields (see stream.EVENT_TYPES)."""
        return {
            "t0": t0,
            "ts": t1,
            "viewers": viewers,
            "node": node,
            "sources": self.sources,
            "clicks": self.clicks,
        }


def fold_all(events: Iterable[Mapping[str, Any]], bucket_ms: int) -> Figures:
    """Figures from scratch: what a rebuild computes from the room's whole stream."""
    figures = Figures()
    for event in events:
        figures.apply(fold(event, bucket_ms))
    return figures
