"""Frames any viewer may send: ping, comment, like."""

from __future__ import annotations

import secrets
import time
from typing import Any

from liveroom.commands import handles
from liveroom.engine.base import new_event
from liveroom.errors import Refusal
from liveroom.protocol import Command, ProtocolError
from liveroom.rules.comments import check_comment
from liveroom.session import Session


def require_login(session: Session, what: str) -> None:
    if session.ident.is_anonymous:
        raise Refusal("login_required", f"anonymous viewers cannot {what}")


@handles("ping")
async def ping(session: Session, cmd: Command) -> dict[str, Any]:
    return {"t": "pong", "server_time": int(time.time() * 1000)}


def new_comment_id() -> str:
    # time-ordered prefix keeps ids sortable in logs; the random tail makes them unguessable
    return f"{int(time.time() * 1000):x}{secrets.token_hex(4)}"


@handles("comment")
async def comment(session: Session, cmd: Command) -> dict[str, Any]:
    require_login(session, "comment")
    ident = session.ident
    text = check_comment(
        cmd.args["text"],
        max_chars=session.settings.comment_max_chars,
        keywords=session.channel.room.keywords,
    )
    event = new_event(
        "comment", id=new_comment_id(), uid=ident.uid, nick=ident.nick, tier=ident.tier, text=text
    )
    if ident.is_host:
        event["host"] = True
    result = await session.engine.post_comment(
        session.room_id, ident.uid, event, cmd.args.get("id")
    )
    if result.event is None:
        extra = {"retry_after": result.retry_after} if result.retry_after else {}
        raise Refusal(result.code, result.message, **extra)
    if not result.duplicate:
        await session.node.on_comment(session, result.event)
    return {"comment": result.event, "duplicate": result.duplicate}


@handles("like")
async def like(session: Session, cmd: Command) -> None:
    require_login(session, "like")
    n = cmd.args["n"]
    if n > session.settings.likes_per_frame_max:
        raise ProtocolError(
            "bad_field", f"at most {session.settings.likes_per_frame_max} likes a frame"
        )
    session.hub.add_likes(session.room_id, n)
    session.node.on_like(session, n)
    return None
