"""`GET /api/draws/{room_id}/{draw_id}`: the public record anyone can verify a draw with.

No authentication on purpose: the point of commit-reveal is that a viewer who distrusts
the merchant can fetch the seed and the entrants and rerun `liveroom verify-draw`.
While the draw is open it shows only the commitment and the entrant count.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from liveroom.errors import Refusal, Unavailable, error_response, unavailable
from liveroom.rules import draw as rules
from liveroom.rules.sale import is_safe_id
from liveroom.ws import ROOM_ID

if TYPE_CHECKING:
    from liveroom.draws.service import DrawService


async def draw_record(request: Request) -> Response:
    svc: DrawService = request.app.state.node.draws
    room_id = request.path_params["room_id"]
    draw_id = request.path_params["draw_id"]
    if not ROOM_ID.match(room_id) or not is_safe_id(draw_id):
        return error_response(Refusal("bad_request", "malformed room or draw id"))
    try:
        record = await svc.record(room_id, draw_id)
    except Unavailable:
        return error_response(unavailable())
    if record is None:
        return error_response(Refusal(rules.DRAW_NOT_FOUND, "no such draw in this room"))
    finished = record["state"] != rules.OPEN
    # a finished record never changes; an open one changes with every entry
    headers = {"Cache-Control": "public, max-age=3600" if finished else "no-store"}
    return JSONResponse(record, headers=headers)
