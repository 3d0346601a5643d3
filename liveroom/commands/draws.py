"""Draw frames: the host's start_draw / close_draw / cancel_draw, a viewer's enter_draw.

Entering by pass phrase needs no frame: it is an ordinary comment (see DrawService.on_comment).
Refusals (DrawRefused) and outages go to the socket's one error path; enter, close and
cancel are safe to send again after `unavailable`, and so is a start_draw that names its
`draw_id` (the second answers `draw_exists`); one that does not may start a second draw.
"""

from __future__ import annotations

from typing import Any

from liveroom import protocol
from liveroom.commands import handles
from liveroom.draws.service import (
    MAX_DURATION_S,
    MAX_WINNERS,
    MIN_DURATION_S,
)
from liveroom.protocol import Command, Field, Spec
from liveroom.rules import draw as rules
from liveroom.session import Session

_DRAW_ID = Field(str, max_len=64)

protocol.register(
    "start_draw",
    Spec(
        {
            "prize": Field(dict),
            "winners": Field(int, min_value=1, max_value=MAX_WINNERS),
            "duration_s": Field(int, min_value=MIN_DURATION_S, max_value=MAX_DURATION_S),
            "mode": Field(str, required=False, max_len=16),
            "phrase": Field(str, required=False, max_len=50),
            "eligibility": Field(dict, required=False),
            "draw_id": Field(str, required=False, max_len=60),
        },
        host_only=True,
    ),
)
protocol.register("close_draw", Spec({"draw_id": _DRAW_ID}, host_only=True))
protocol.register("cancel_draw", Spec({"draw_id": _DRAW_ID}, host_only=True))
protocol.register("enter_draw", Spec({"draw_id": _DRAW_ID}))


@handles("start_draw")
async def start_draw(session: Session, cmd: Command) -> dict[str, Any]:
    svc = session.node.draws
    d = await svc.start_draw(session.room_id, session.ident.uid, cmd.args)
    return {"draw_id": d.id, "commitment": d.commitment, "ends_at": d.ends_at}


@handles("close_draw", "cancel_draw")
async def finish_draw(session: Session, cmd: Command) -> dict[str, Any]:
    svc = session.node.draws
    cancel = cmd.type == "cancel_draw"
    return await svc.finish(session.room_id, cmd.args["draw_id"], session.ident.uid, cancel=cancel)


@handles("enter_draw")
async def enter_draw(session: Session, cmd: Command) -> dict[str, Any]:
    svc = session.node.draws
    draw_id = cmd.args["draw_id"]
    result = await svc.enter(session.room_id, session.ident, draw_id, rules.BUTTON)
    return {
        "draw_id": draw_id,
        "entered": True,
        "entrants": result.entrants,
        "duplicate": result.duplicate,
    }
