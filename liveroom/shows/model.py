"""A show's record and a series' record, and how merchant input becomes them.

The record is what the merchant configures (start time, cover, streams, recording,
reminders, message templates) plus its lifecycle (status and when it went live and
ended). The decisions are in liveroom/rules/show.py; this module only shapes data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from liveroom.rules import show as rules

SERIES_ID = re.compile(r"^[A-Za-z0-9_.-]{1,48}\Z")
NOTICE_SWITCHES = ("sale", "draw")  # optional notices to the groups

# what PUT /api/rooms/{room_id} takes for the show (besides the room's title and so on)
SHOW_FIELDS = frozenset(
    {
        "starts_at",
        "cover",
        "hls_url",
        "player_url",
        "replay_url",
        "reminders",
        "templates",
        "msgtype",
        "notices",
        "link",
        "tz",
    }
)


@dataclass(frozen=True)
class Show:
    room_id: str
    status: str = ""  # "" until the room has a show record (a room never scheduled)
    starts_at: int = 0
    started_at: int = 0
    ended_at: int = 0
    cover: str = ""
    hls_url: str = ""  # an HLS .m3u8 for web pages
    player_url: str = ""  # what a mini-program's live-player takes (rtmp or https-flv)
    replay_url: str = ""  # the recording, set after the show
    series_id: str = ""
    webhooks: tuple[str, ...] = ()
    offsets_s: tuple[int, ...] = rules.DEFAULT_OFFSETS_S
    templates: dict[str, str] = field(default_factory=dict)
    msgtype: str = rules.TEXT
    notices: tuple[str, ...] = ()
    link: str = ""  # the page the group messages link to; default the server's /watch
    tz: str = rules.DEFAULT_TZ

    # the merchant's part, kept as one JSON document; the lifecycle fields apart from it
    _LIFECYCLE = ("room_id", "status", "started_at", "ended_at")

    def rec(self) -> str:
        out = asdict(self)
        for name in self._LIFECYCLE:
            out.pop(name)
        return json.dumps(out, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_record(
        cls, room_id: str, rec: str, status: str, started_at: int, ended_at: int
    ) -> Show:
        data = json.loads(rec) if rec else {}
        known = {f for f in cls.__dataclass_fields__ if f not in cls._LIFECYCLE}
        data = {k: v for k, v in data.items() if k in known}
        for name in ("webhooks", "offsets_s", "notices"):
            if name in data:
                data[name] = tuple(data[name])
        return cls(room_id, status, started_at=started_at, ended_at=ended_at, **data)

    def hooks(self, allowed_hosts: Iterable[str]) -> list[rules.Webhook]:
        """The webhooks, checked again (the allow list may have changed since)."""
        out = []
        for url in self.webhooks:
            try:
                out.append(rules.check_webhook(url, allowed_hosts))
            except rules.ShowError:
                continue
        return out

    def template(self, notice: str) -> str:
        return self.templates.get(notice) or rules.DEFAULT_TEMPLATES[notice]

    def public(self, title: str) -> dict[str, Any]:
        """What anyone may see (the viewer page): never webhooks or templates."""
        return {
            "room_id": self.room_id,
            "title": title,
            "status": self.status or rules.LIVE,
            "starts_at": self.starts_at,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "cover": self.cover,
            "hls_url": self.hls_url,
            "player_url": self.player_url,
            "replay_url": self.replay_url,
            "series_id": self.series_id,
        }

    def merchant(self, title: str) -> dict[str, Any]:
        """What the merchant API answers: every setting, each webhook's key redacted."""
        return {
            **self.public(title),
            "reminders": {
                "webhooks": [rules.redact(u) for u in self.webhooks],
                "offsets_s": list(self.offsets_s),
            },
            "templates": {n: self.template(n) for n in rules.NOTICES},
            "msgtype": self.msgtype,
            "notices": {n: n in self.notices for n in NOTICE_SWITCHES},
            "link": self.link,
            "tz": self.tz,
        }


def apply_fields(
    show: Show, data: dict[str, Any], now_ms: int, allowed_hosts: Iterable[str]
) -> Show:
    """`show` with the merchant's changes (a subset of SHOW_FIELDS), or ShowError."""
    unknown = set(data) - SHOW_FIELDS
    if unknown:
        raise rules.ShowError("bad_show", f"unknown show fields: {sorted(unknown)}")
    changes: dict[str, Any] = {}
    if "starts_at" in data:
        changes["starts_at"] = rules.check_starts_at(data["starts_at"], now_ms)
    for name in ("cover", "hls_url", "replay_url", "link"):
        if name in data:
            changes[name] = rules.check_url(data[name], name)
    if "player_url" in data:
        schemes = ("rtmp", "rtmps", "http", "https")
        changes["player_url"] = rules.check_url(data["player_url"], "player_url", schemes)
    if "reminders" in data:
        changes.update(parse_reminders(data["reminders"], show, allowed_hosts))
    if "templates" in data:
        changes["templates"] = {**show.templates, **rules.check_templates(data["templates"])}
    if "msgtype" in data:
        if data["msgtype"] not in rules.MSGTYPES:
            raise rules.ShowError("bad_show", f"'msgtype' must be one of {list(rules.MSGTYPES)}")
        changes["msgtype"] = data["msgtype"]
    if "notices" in data:
        notices = data["notices"]
        if not isinstance(notices, dict) or set(notices) - set(NOTICE_SWITCHES):
            raise rules.ShowError("bad_show", '\'notices\' is a map: {"sale": bool, "draw": bool}')
        on = {n for n in show.notices if n not in notices}
        on |= {n for n, v in notices.items() if v is True}
        changes["notices"] = tuple(sorted(on))
    if "tz" in data:
        changes["tz"] = rules.check_tz(data["tz"])
    return replace(show, **changes)


def parse_reminders(
    value: Any, show: Show, allowed_hosts: Iterable[str]
) -> dict[str, tuple[Any, ...]]:
    if not isinstance(value, dict) or set(value) - {"webhooks", "offsets_s"}:
        raise rules.ShowError(
            "bad_show", '\'reminders\' is {"webhooks": [...], "offsets_s": [...]}'
        )
    out: dict[str, tuple[Any, ...]] = {}
    if "webhooks" in value:
        hooks = value["webhooks"]
        if not isinstance(hooks, list) or len(hooks) > rules.MAX_WEBHOOKS:
            raise rules.ShowError(
                "bad_webhook", f"at most {rules.MAX_WEBHOOKS} webhooks, as a list"
            )
        checked = [rules.check_webhook(h, allowed_hosts) for h in hooks]
        out["webhooks"] = tuple(dict.fromkeys(h.url for h in checked))
    out["offsets_s"] = (
        rules.check_offsets(value["offsets_s"]) if "offsets_s" in value else show.offsets_s
    )
    return out


@dataclass(frozen=True)
class Series:
    """A recurring slot; each episode is a show of its own, created one ahead."""

    series_id: str
    title: str
    slot: rules.Slot
    defaults: dict[str, Any] = field(default_factory=dict)  # show fields for each episode

    def to_json(self) -> str:
        return json.dumps(
            {"series_id": self.series_id, "title": self.title, "slot": asdict(self.slot),
             "defaults": self.defaults},
            separators=(",", ":"),
            ensure_ascii=False,
        )  # fmt: skip

    @classmethod
    def from_json(cls, raw: str) -> Series:
        d = json.loads(raw)
        return cls(d["series_id"], d["title"], rules.Slot(**d["slot"]), d.get("defaults", {}))

    def public(self) -> dict[str, Any]:
        defaults = dict(self.defaults)
        reminders = defaults.get("reminders")
        if isinstance(reminders, dict) and "webhooks" in reminders:
            defaults["reminders"] = {
                **reminders,
                "webhooks": [rules.redact(u) for u in reminders["webhooks"]],
            }
        return {
            "series_id": self.series_id,
            "title": self.title,
            "weekday": self.slot.weekday,
            "time": self.slot.time,
            "tz": self.slot.tz,
            "defaults": defaults,
        }


def parse_series(
    data: dict[str, Any], series_id: str, now_ms: int, allowed_hosts: Iterable[str]
) -> Series:
    if not SERIES_ID.match(series_id):
        raise rules.ShowError("bad_series", "series id must be 1-48 of A-Z a-z 0-9 _ . -")
    allowed = {"series_id", "title", "weekday", "time", "tz", "defaults"}
    if set(data) - allowed:
        raise rules.ShowError("bad_series", f"unknown series fields: {sorted(set(data) - allowed)}")
    title = data.get("title", "")
    if not isinstance(title, str) or not 0 < len(title) <= 200:
        raise rules.ShowError("bad_series", "'title' must be 1..200 characters")
    slot = rules.Slot.parse(data.get("weekday"), data.get("time"), data.get("tz", rules.DEFAULT_TZ))
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict) or "starts_at" in defaults:
        raise rules.ShowError("bad_series", "'defaults' are show fields (not starts_at)")
    try:
        apply_fields(Show("x"), defaults, now_ms, allowed_hosts)  # validated now, not later
    except rules.ShowError as err:
        raise rules.ShowError("bad_series", f"defaults: {err.message}") from None
    return Series(series_id, title, slot, defaults)
