"""The group messages of a show as due jobs (kind `wecom`): reminders before the start, the
notice when it goes live, and (when switched on) when a flash sale or a lucky draw starts.

One job per message and group robot, named so every process schedules the same one:
`rem.<offset_s>.<robot>`, `live.<robot>`, `sale.<sale_id>.<robot>`, `draw.<draw_id>.<robot>`
(`<robot>` is the webhook key's fingerprint, never the key). The text is rendered when it is
sent, from the show as it is then, so an edited title or a moved start reads right.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from liveroom.engine.base import Engine
from liveroom.integrations.wecom import WeComClient, WeComError
from liveroom.jobs import Job, JobFailed, JobStore, NewJob, Outcome, now_ms
from liveroom.rules import jobs as job_rules
from liveroom.rules import show as rules
from liveroom.settings import Settings
from liveroom.shows.model import Show
from liveroom.shows.store import ShowStore
from liveroom.stream.base import CommerceStream

log = logging.getLogger("liveroom.shows.notices")

KIND = "wecom"
REMINDER = "rem."


def default_link(settings: Settings, room_id: str) -> str:
    base = settings.public_url or f"http://{settings.host}:{settings.port}"
    return f"{base.rstrip('/')}/watch?room={room_id}"


class Notices:
    """Schedules a show's messages and sends them (a jobs.JobKind)."""

    kind = KIND

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        shows: ShowStore,
        jobs: JobStore,
        wecom: WeComClient,
        stream: CommerceStream,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.shows = shows
        self.jobs = jobs
        self.wecom = wecom
        self.stream = stream
        self.hosts = [h for h in settings.wecom_hosts.split(",") if h.strip()]

    def _job(self, room_id: str, job_id: str, due_at: int, payload: dict[str, Any]) -> NewJob:
        return NewJob(room_id, job_id, KIND, due_at, payload, self.settings.jobs_max_attempts)

    # scheduling ------------------------------------------------------------------------------
    async def plan_reminders(self, show: Show) -> None:
        """Make the show's reminder jobs match its start, offsets and webhooks: new ones are
        scheduled, moved ones rescheduled (a sent one goes out again before the new start),
        unwanted ones cancelled."""
        now = now_ms()
        wanted: dict[str, tuple[int, dict[str, Any]]] = {}
        if show.status == rules.SCHEDULED:
            for offset in show.offsets_s:
                due = rules.reminder_due(show.starts_at, offset)
                if due < now:
                    continue  # scheduled too late for this one
                for hook in show.hooks(self.hosts):
                    job_id = f"{REMINDER}{offset}.{hook.fingerprint}"
                    payload = {"notice": "reminder", "offset_s": offset, "robot": hook.fingerprint}
                    wanted[job_id] = (due, payload)
        existing = {
            j.id: j
            for j in await self.jobs.room_jobs(show.room_id)
            if j.kind == KIND and j.id.startswith(REMINDER)
        }
        for job_id, job in existing.items():
            if job_id not in wanted:
                if job.state in job_rules.LIVE:
                    await self.jobs.cancel(show.room_id, job_id, now)
            elif job.due_at != wanted[job_id][0] or job.state == job_rules.CANCELLED:
                await self.jobs.reschedule(show.room_id, job_id, wanted[job_id][0], now)
        for job_id, (due, payload) in wanted.items():
            if job_id not in existing:
                await self.jobs.schedule(self._job(show.room_id, job_id, due, payload), now)

    async def announce(
        self, show: Show, notice: str, key: str, values: dict[str, Any] | None = None
    ) -> None:
        """Tell every group of the show now: `notice` live, sale or draw; `key` names the
        occasion (a sale or draw id) so it goes out once however often it is announced."""
        now = now_ms()
        for hook in show.hooks(self.hosts):
            job_id = f"{notice}.{key + '.' if key else ''}{hook.fingerprint}"
            payload = {"notice": notice, "robot": hook.fingerprint, "values": values or {}}
            await self.jobs.schedule(self._job(show.room_id, job_id, now, payload), now)

    async def drop_pending(self, room_id: str, prefixes: Iterable[str] = ("",)) -> int:
        """Cancel the room's messages not sent yet (whose ids start with a prefix)."""
        now, n = now_ms(), 0
        for job in await self.jobs.room_jobs(room_id):
            if job.kind != KIND or job.state not in job_rules.LIVE:
                continue
            if any(job.id.startswith(p) for p in prefixes):
                n += await self.jobs.cancel(room_id, job.id, now)
        return n

    async def status(self, room_id: str) -> list[dict[str, Any]]:
        return [j.public() for j in await self.jobs.room_jobs(room_id) if j.kind == KIND]

    # sending (jobs.JobKind) ------------------------------------------------------------------
    async def run(self, job: Job) -> None:
        show = await self.shows.get(job.room_id)
        if show is None:
            raise JobFailed("the show no longer exists", final=True)
        p = job.payload
        notice = p.get("notice", "")
        if notice not in rules.NOTICES:
            raise JobFailed(f"unknown notice {notice!r}", final=True)
        if notice == "reminder" and show.status != rules.SCHEDULED:
            raise JobFailed(f"the show is {show.status or 'live'}: no reminder", final=True)
        hook = next((h for h in show.hooks(self.hosts) if h.fingerprint == p.get("robot")), None)
        if hook is None:
            raise JobFailed("this webhook was removed from the show", final=True)
        room = await self.engine.room(job.room_id)
        values: dict[str, Any] = {
            "title": room.title or job.room_id,
            "time": rules.local_time(show.starts_at, show.tz) if show.starts_at else "",
            "left": rules.left_words(int(p.get("offset_s", 0))),
            "link": show.link or default_link(self.settings, job.room_id),
            **p.get("values", {}),
        }
        text = rules.render(show.template(notice), values)
        loud = notice in ("reminder", "live")  # these @all; sale and draw notices do not
        body = rules.message(text, rules.TEXT if loud else show.msgtype, mention_all=loud)
        try:
            await self.wecom.post(hook, body, now_ms())
        except WeComError as err:
            raise JobFailed(
                err.message,
                retry_after_ms=err.retry_after_ms,
                final=err.final,
                counted=not err.paced,
            ) from None

    async def settled(self, job: Job, outcome: Outcome) -> None:
        status = {"done": "sent"}.get(outcome.state, outcome.state)
        if outcome.state != "done":
            log.warning(
                "group message %s/%s %s: %s",
                job.room_id,
                job.id,
                status,
                rules.redact(outcome.error),
            )
        fields = {
            "notice": str(job.payload.get("notice", "")),
            "job_id": job.id,
            "robot": str(job.payload.get("robot", "")),
            "status": status,
            "attempts": job.attempts,
            "error": rules.redact(outcome.error),
            "retry_at": outcome.retry_at,
        }
        try:
            await self.stream.append(job.room_id, "show_notice", fields)
        except Exception:
            log.warning("show_notice for %s/%s not recorded", job.room_id, job.id, exc_info=True)
