"""Shows: their life, their schedule, series slots, reminders and WeCom group messages. Pure.

A room is a show: `scheduled` (a start time, a cover, a countdown, reminders out to the
community groups), then `live`, then `ended`; a scheduled show may be `cancelled` instead.
A room nobody scheduled is live from the start, as rooms always were. An ended or cancelled
show stays so: the next episode of a series is a show of its own.

WeCom group robots ("群机器人") take a JSON body at a webhook URL whose `key` query
parameter is the robot's secret: whoever has the URL can post to the group, so a key never
appears in a log line, an exception or an API answer (`redact`, `fingerprint`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

SCHEDULED = "scheduled"
LIVE = "live"
ENDED = "ended"
CANCELLED = "cancelled"
STATUSES = (SCHEDULED, LIVE, ENDED, CANCELLED)
OVER = frozenset({ENDED, CANCELLED})  # a show never leaves these

# target status -> the statuses it may be reached from ("" : a room with no show record,
# which is live by default)
TRANSITIONS: dict[str, tuple[str, ...]] = {
    SCHEDULED: ("", SCHEDULED),  # schedule, or reschedule
    LIVE: (SCHEDULED,),
    ENDED: ("", LIVE),
    CANCELLED: (SCHEDULED,),
}

DEFAULT_OFFSETS_S = (3600, 1800, 300)
MAX_OFFSETS = 10
MAX_OFFSET_S = 7 * 86400
MAX_AHEAD_MS = 400 * 86400 * 1000  # how far ahead a show may be scheduled
MAX_WEBHOOKS = 10
DEFAULT_TZ = "Asia/Shanghai"

# Room events kept for the replay: what a viewer of the recording sees appear.
REPLAY_TYPES = frozenset(
    {
        "comment",
        "comment_deleted",
        "announce",
        "pin",
        "product_pinned",
        "product_unpinned",
        "sale",
        "sale_started",
        "sale_ended",
        "draw_started",
        "draw_closed",
        "draw_cancelled",
    }
)


class ShowError(Exception):
    """Input or a transition the show rules refuse; `code` is what the caller sees."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def check_transition(current: str, target: str) -> None:
    """Raise ShowError unless a show in `current` ("" for no show yet) may become `target`."""
    if current in TRANSITIONS[target]:
        return
    if current in OVER:
        raise ShowError("show_over", f"this show is {current}; schedule a new one")
    if target == SCHEDULED:
        raise ShowError("show_started", "this show is live already; it cannot be rescheduled")
    if target == ENDED:
        raise ShowError("show_not_live", "the show has not gone live; cancel it instead")
    raise ShowError("show_not_scheduled", f"only a scheduled show can go {target}")


# ---- schedule ------------------------------------------------------------------------------
def check_starts_at(value: Any, now_ms: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ShowError("bad_show", "'starts_at' must be unix milliseconds (an integer)")
    if value <= now_ms:
        raise ShowError("bad_show", "'starts_at' must be in the future")
    if value > now_ms + MAX_AHEAD_MS:
        raise ShowError("bad_show", "'starts_at' is more than 400 days ahead")
    return value


def check_offsets(value: Any) -> tuple[int, ...]:
    """Reminder offsets in seconds before the start, largest first, no repeats."""
    if not isinstance(value, list) or len(value) > MAX_OFFSETS:
        raise ShowError("bad_show", f"'offsets_s' must be a list of at most {MAX_OFFSETS}")
    for o in value:
        if not isinstance(o, int) or isinstance(o, bool) or not 1 <= o <= MAX_OFFSET_S:
            raise ShowError("bad_show", f"each offset must be 1..{MAX_OFFSET_S} seconds")
    return tuple(sorted(set(value), reverse=True))


def reminder_due(starts_at: int, offset_s: int) -> int:
    return starts_at - offset_s * 1000


def check_tz(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > 64:
        raise ShowError("bad_show", "'tz' must be a time zone name such as Asia/Shanghai")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ShowError("bad_show", f"unknown time zone {value!r}") from None
    return value


# ---- series slots --------------------------------------------------------------------------
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])\Z")


@dataclass(frozen=True)
class Slot:
    """A weekly slot: ISO weekday (1 Monday .. 7 Sunday) at a local time in a time zone."""

    weekday: int
    time: str  # "HH:MM"
    tz: str = DEFAULT_TZ

    @classmethod
    def parse(cls, weekday: Any, time: Any, tz: Any = DEFAULT_TZ) -> Slot:
        if not isinstance(weekday, int) or isinstance(weekday, bool) or not 1 <= weekday <= 7:
            raise ShowError("bad_series", "'weekday' must be 1 (Monday) .. 7 (Sunday)")
        if not isinstance(time, str) or not _HHMM.match(time):
            raise ShowError("bad_series", "'time' must be HH:MM (24 h)")
        try:
            return cls(weekday, time, check_tz(tz))
        except ShowError as err:
            raise ShowError("bad_series", err.message) from None

    def next_after(self, after_ms: int) -> int:
        """The first start of this slot strictly after `after_ms` (unix ms)."""
        zone = ZoneInfo(self.tz)
        hour, minute = (int(x) for x in self.time.split(":"))
        local = dt.datetime.fromtimestamp(after_ms / 1000, zone)
        day = local.date() + dt.timedelta(days=(self.weekday - local.isoweekday()) % 7)
        for _ in range(3):
            start = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
            ms = int(start.timestamp() * 1000)
            if ms > after_ms:
                return ms
            day += dt.timedelta(days=7)
        raise AssertionError("unreachable: a week later is always after")

    def day_of(self, starts_at: int) -> str:
        """The local date of a start, as YYYYMMDD: what names an episode's room."""
        return dt.datetime.fromtimestamp(starts_at / 1000, ZoneInfo(self.tz)).strftime("%Y%m%d")


def episode_room(series_id: str, slot: Slot, starts_at: int) -> str:
    """The room of a series' episode: the series id and the episode's local date, so every
    process that creates the next episode names the same room."""
    return f"{series_id}-{slot.day_of(starts_at)}"


# ---- URLs and webhooks ---------------------------------------------------------------------
def check_url(value: Any, name: str, schemes: Iterable[str] = ("http", "https")) -> str:
    """A URL for a cover, a stream or a recording; "" clears it."""
    if value == "":
        return ""
    if not isinstance(value, str) or len(value) > 1000 or any(c.isspace() for c in value):
        raise ShowError("bad_show", f"'{name}' must be a URL of at most 1000 characters")
    parts = urlsplit(value)
    if parts.scheme not in tuple(schemes) or not parts.netloc:
        raise ShowError("bad_show", f"'{name}' must be a {'/'.join(schemes)} URL")
    return value


_KEY = re.compile(r"^[A-Za-z0-9_-]{8,128}\Z")
# `key=<secret>` wherever it appears: a URL, an exception text, a log line
_KEY_IN_TEXT = re.compile(r"(?i)(key=)[^&\s\"'<>]+")


@dataclass(frozen=True)
class Webhook:
    url: str
    key: str

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.key)

    def public(self) -> str:
        return redact(self.url)


def fingerprint(key: str) -> str:
    """A short stand-in for a robot's key: tells webhooks apart, reveals nothing."""
    return hashlib.sha256(key.encode()).hexdigest()[:10]


def redact(text: str) -> str:
    """The text with every `key=...` value hidden (URLs, exception messages, log lines)."""
    return _KEY_IN_TEXT.sub(lambda m: m.group(1) + "<redacted>", text)


def check_webhook(value: Any, allowed_hosts: Iterable[str]) -> Webhook:
    """A WeCom group-robot webhook URL: https (http only to a loopback host), a host on the
    allow list (LIVEROOM_WECOM_HOSTS), and a `key`."""
    if not isinstance(value, str) or len(value) > 1000 or any(c.isspace() for c in value):
        raise ShowError("bad_webhook", "a webhook must be a URL of at most 1000 characters")
    parts = urlsplit(value)
    host = (parts.hostname or "").lower()
    loopback = host in ("127.0.0.1", "localhost", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise ShowError("bad_webhook", "a webhook must be an https URL")
    if host not in {h.strip().lower() for h in allowed_hosts if h.strip()}:
        raise ShowError(
            "bad_webhook", f"webhook host {host!r} is not allowed (LIVEROOM_WECOM_HOSTS)"
        )
    keys = parse_qs(parts.query).get("key", [])
    if len(keys) != 1 or not _KEY.match(keys[0]):
        raise ShowError("bad_webhook", "a webhook URL must carry the robot's key=...")
    return Webhook(value, keys[0])


# ---- WeCom group-robot messages ------------------------------------------------------------
TEXT = "text"
MARKDOWN = "markdown"
MSGTYPES = (TEXT, MARKDOWN)
LIMITS = {TEXT: 2048, MARKDOWN: 4096}  # bytes of UTF-8 content WeCom takes
NOTICES = ("reminder", "live", "sale", "draw")  # what a show tells its groups

DEFAULT_TEMPLATES = {
    "reminder": "【直播预告】{title}\n{left}后开播（{time}），点击预约观看：{link}",
    "live": "【正在直播】{title} 开播啦！马上进入直播间：{link}",
    "sale": "【限时秒杀】{product} 秒杀价 ¥{price}，仅 {stock} 件，进直播间抢：{link}",
    "draw": "【福利抽奖】{prize} 抽奖开始，{winners} 人中奖，快进直播间参与：{link}",
}
MAX_TEMPLATE = 1500
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def check_templates(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ShowError("bad_show", "'templates' must be a map of notice -> text")
    out = {}
    for name, text in value.items():
        if name not in NOTICES:
            raise ShowError("bad_show", f"templates are {list(NOTICES)}, not {name!r}")
        if not isinstance(text, str) or not 0 < len(text) <= MAX_TEMPLATE:
            raise ShowError("bad_show", f"template {name!r} must be 1..{MAX_TEMPLATE} characters")
        out[name] = text
    return out


def render(template: str, values: Mapping[str, Any]) -> str:
    """{name} placeholders filled from `values`; unknown ones stay as written (never
    str.format, which would let a template reach into attributes)."""
    return _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), template)


def left_words(offset_s: int) -> str:
    """How long before the start a reminder goes out, as a group message says it."""
    if offset_s % 86400 == 0:
        return f"{offset_s // 86400}天"
    if offset_s % 3600 == 0:
        return f"{offset_s // 3600}小时"
    if offset_s >= 60:
        return f"{round(offset_s / 60)}分钟"
    return f"{offset_s}秒"


def local_time(ms: int, tz: str) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, ZoneInfo(tz)).strftime("%m-%d %H:%M")


def truncate_utf8(text: str, limit: int) -> str:
    """At most `limit` bytes of UTF-8, cut on a character boundary, with "…" when cut."""
    raw = text.encode()
    if len(raw) <= limit:
        return text
    cut = raw[: limit - len("…".encode())].decode("utf-8", errors="ignore")
    return cut + "…"


def message(content: str, msgtype: str = TEXT, mention_all: bool = False) -> dict[str, Any]:
    """A group-robot body: `text` (mentions @all when asked) or `markdown` (WeCom's markdown
    cannot mention everyone), content cut to WeCom's byte limit."""
    body = truncate_utf8(content, LIMITS[msgtype])
    if msgtype == MARKDOWN:
        return {"msgtype": MARKDOWN, "markdown": {"content": body}}
    text: dict[str, Any] = {"content": body}
    if mention_all:
        text["mentioned_list"] = ["@all"]
    return {"msgtype": TEXT, "text": text}


def replay_offset(ts: int, started_at: int) -> int:
    """Where an event sits in the recording: ms since the show went live (never negative)."""
    return max(0, ts - started_at)
