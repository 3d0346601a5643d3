"""Host commands on the room socket; protocol.SPECS marks them host-only."""

from __future__ import annotations

import time
from typing import Any

from liveroom.commands import handles
from liveroom.engine.base import new_event
from liveroom.errors import Refusal
from liveroom.protocol import Command, ProtocolError
from liveroom.rules import social_proof
from liveroom.session import Session

DEFAULT_MUTE_S = 600


async def _publish(session: Session, event_type: str, **kwargs: Any) -> dict[str, Any]:
    changes = kwargs.pop("room_changes", None)
    moderation = kwargs.pop("moderation", None)
    event = new_event(event_type, by=session.ident.uid, **kwargs)
    stored = await session.engine.publish(
        session.room_id, event, room_changes=changes, moderation=moderation
    )
    return {"seq": stored["seq"]}


@handles("announce")
async def announce(session: Session, cmd: Command) -> dict[str, Any]:
    return await _publish(session, "announce", text=cmd.args["text"])


@handles("pin")
async def pin(session: Session, cmd: Command) -> dict[str, Any]:
    text = cmd.args["text"]
    return await _publish(session, "pin", text=text, room_changes={"pinned": text})


@handles("delete_comment")
async def delete_comment(session: Session, cmd: Command) -> dict[str, Any]:
    comment_id = cmd.args["comment_id"]
    if not await session.engine.comment_deleted(session.room_id, comment_id):
        raise Refusal("already_deleted", "that comment is already deleted")
    return await _publish(session, "comment_deleted", comment_id=comment_id)


@handles("mute", "unmute", "ban", "unban")
async def moderate(session: Session, cmd: Command) -> dict[str, Any]:
    uid = cmd.args["uid"]
    if cmd.type == "mute":
        until: float = time.time() + cmd.args.get("seconds", DEFAULT_MUTE_S)
        extra = {"until": int(until)}
    else:
        until = -1 if cmd.type == "ban" else 0
        extra = {}
    return await _publish(
        session, "moderation", action=cmd.type, uid=uid, moderation=(uid, until), **extra
    )


@handles("slow_mode")
async def slow_mode(session: Session, cmd: Command) -> dict[str, Any]:
    seconds = cmd.args["seconds"]
    return await _publish(session, "room", slow_mode=seconds, room_changes={"slow_mode": seconds})


@handles("set_title")
async def set_title(session: Session, cmd: Command) -> dict[str, Any]:
    title = cmd.args["title"]
    return await _publish(session, "room", title=title, room_changes={"title": title})


@handles("set_keywords")
async def set_keywords(session: Session, cmd: Command) -> dict[str, Any]:
    """Replace the room's blocked words; viewers learn only that the filter changed."""
    words = cmd.args["keywords"]
    if not all(isinstance(w, str) and 0 < len(w) <= 50 for w in words):
        raise ProtocolError("bad_field", "keywords must be strings of 1 to 50 characters")
    unique = sorted(set(words))
    return await _publish(session, "room", keywords=len(unique), room_changes={"keywords": unique})


@handles("set_social_proof")
async def set_social_proof(session: Session, cmd: Command) -> dict[str, Any]:
    """How the room sees purchases: `masked` nicks (the default), `full` nicks, or `off`."""
    try:
        mode = social_proof.check_mode(cmd.args["mode"])
    except social_proof.SocialProofError as err:
        raise ProtocolError("bad_field", f"field 'mode': {err}") from None
    return await _publish(session, "room", social_proof=mode, room_changes={"social_proof": mode})
