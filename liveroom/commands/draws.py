"""Draw frames: the host's start_draw / close_draw / cancel_draw, a viewer's enter_draw.

Entering by pass phrase needs no frame: it is an ordinary comment (see DrawService.on_comment).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from liveroom import protocol
from liveroom.commands import handles
from liveroom.draws.service import (
    MAX_DURATION_S,
    MAX_WINNERS,
    MIN_DURATION_S,
    DrawRefused,
)
from liveroom.errors import Unavailable
from liveroom.protocol import Command, Field, ProtocolError, Spec
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
        },
        host_only=True,
    ),
)
protocol.register("close_draw", Spec({"draw_id": _DRAW_ID}, host_only=True))
protocol.register("cancel_draw", Spec({"draw_id": _DRAW_ID}, host_only=True))
protocol.register("enter_draw", Spec({"draw_id": _DRAW_ID}))


def _refused(err: DrawRefused, rid: Any) -> ProtocolError:
    out = ProtocolError(err.code, err.message, rid)
    out.extra.update(err.extra)
    return out


@contextlib.contextmanager
def _answers(rid: Any) -> Iterator[None]:
    """Refusals and a store outage become error frames. enter/close/cancel are safe to
    retry; a start_draw retried after `unavailable` may start a second draw."""
    try:
        yield
    except DrawRefused as err:
        raise _refused(err, rid) from None
    except Unavailable:
        err = ProtocolError("unavailable", "draws are unavailable for a moment; retry", rid)
        err.extra["retry_after"] = 1.0
        raise err from None


@handles("start_draw")
async def start_draw(session: Session, cmd: Command) -> dict[str, Any]:
    svc = session.node.draws
    with _answers(cmd.rid):
        d = await svc.start_draw(session.room_id, session.ident.uid, cmd.args)
    return {"draw_id": d.id, "commitment": d.commitment, "ends_at": d.ends_at}


@handles("close_draw", "cancel_draw")
async def finish_draw(session: Session, cmd: Command) -> dict[str, Any]:
    svc = session.node.draws
    draw_id = cmd.args["draw_id"]
    with _answers(cmd.rid):
        if cmd.type == "close_draw":
            outcome = await svc.close(session.room_id, draw_id, by=session.ident.uid)
        else:
            outcome = await svc.cancel(session.room_id, draw_id, by=session.ident.uid)
        d = await svc.store.get(session.room_id, draw_id) if outcome is None else None
    if outcome is None:
        if d is None:
            raise ProtocolError(rules.DRAW_NOT_FOUND, "no such draw in this room", cmd.rid)
        err = ProtocolError(rules.DRAW_CLOSED, f"this draw is already {d.state}", cmd.rid)
        err.extra["state"] = d.state
        raise err
    return outcome


@handles("enter_draw")
async def enter_draw(session: Session, cmd: Command) -> dict[str, Any]:
    svc = session.node.draws
    draw_id = cmd.args["draw_id"]
    with _answers(cmd.rid):
        result = await svc.enter(session.room_id, session.ident, draw_id, rules.BUTTON)
    return {
        "draw_id": draw_id,
        "entered": True,
        "entrants": result.entrants,
        "duplicate": result.duplicate,
    }
