"""The room socket `/ws/rooms/{room_id}`: authenticate, welcome, then read frames."""

from __future__ import annotations

import logging
import re
import secrets
import time
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from liveroom import codec, inputs, protocol, tokens
from liveroom.commands import HANDLERS
from liveroom.connection import Connection
from liveroom.engine.base import CANCELLED, ENDED, Moderation, Snapshot
from liveroom.errors import Refusal, Unavailable, error_frame, internal_error, unavailable
from liveroom.hub import RoomChannel
from liveroom.metrics import METRICS
from liveroom.protocol import ProtocolError
from liveroom.session import Session
from liveroom.types import Arrival, Join

if TYPE_CHECKING:
    from liveroom.node import Node

log = logging.getLogger("liveroom.ws")

ROOM_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}\Z")
# the socket's path; a room id that fails ROOM_ID still gets a clear error frame
ROOM_SOCKET_PATH = re.compile(r"^/ws/rooms/(?P<room_id>[^/]+)\Z")
ERROR_WINDOW_S = 10.0
ERROR_LIMIT = 20  # bad frames per window before the server gives up on a client
CLOSE_TRY_AGAIN = 1013  # RFC 6455 "Try Again Later": the engine could not be reached


async def _refuse(ws: WebSocket, fmt: str, code: int, err: Refusal) -> None:
    data = codec.encode(fmt, error_frame(err))
    if isinstance(data, str):
        await ws.send_text(data)
    else:
        await ws.send_bytes(data)
    await ws.close(code, err.code)


def _anonymous() -> tokens.Identity:
    uid = "anon:" + secrets.token_hex(6)
    return tokens.Identity(uid=uid, nick="", role="viewer")


async def room_socket(ws: WebSocket) -> None:
    node: Node = ws.app.state.node
    settings, engine, hub = node.settings, node.engine, node.hub
    room_id = ws.path_params["room_id"]
    offered = list(ws.scope.get("subprotocols") or [])
    fmt = codec.choose_format(offered)
    await ws.accept(subprotocol=fmt if fmt in offered else None)
    if not ROOM_ID.match(room_id):
        await _refuse(ws, fmt, protocol.CLOSE_FORBIDDEN, Refusal("bad_room", "room id not allowed"))
        return
    token = ws.query_params.get("token")
    try:
        if token:
            ident = tokens.verify(settings.secret, token, room_id)
        else:
            room = await engine.room(room_id)
            if not room.allow_anonymous:
                raise tokens.TokenError("token_required", "this room needs a viewer token")
            ident = _anonymous()
    except tokens.TokenError as err:
        close = protocol.CLOSE_TOKEN_EXPIRED if err.code == "token_expired" else 0
        if not close:
            close = (
                protocol.CLOSE_FORBIDDEN
                if err.code == "token_wrong_room"
                else protocol.CLOSE_UNAUTHORIZED
            )
        await _refuse(ws, fmt, close, err)
        return
    since_raw = ws.query_params.get("since")
    since = inputs.ascii_int(since_raw, 0, inputs.I64_MAX)
    if since_raw is not None and since is None:
        bad = Refusal("bad_since", "since must be a seq (ASCII digits, at most 2**63-1)")
        await _refuse(ws, fmt, protocol.CLOSE_FORBIDDEN, bad)
        return
    try:
        mod = await engine.moderation(room_id, ident.uid)
        if mod.banned:
            banned = Refusal("banned", "you are banned from this room")
            await _refuse(ws, fmt, protocol.CLOSE_BANNED, banned)
            return
        # where the viewer came from (a share code, a channel): never refuses a join
        query = ws.query_params
        arrival = await node.arrive(
            room_id, ident, query.get("ref"), query.get("src"), since is not None
        )
    except Unavailable:
        await _refuse(ws, fmt, CLOSE_TRY_AGAIN, unavailable())
        return

    conn = Connection(ws, arrival.ident, fmt, settings.close_grace_s)
    METRICS.connections_total += 1
    session: Session | None = None
    try:
        try:
            channel = await hub.join(room_id, conn)
            # only the status outlives the welcome: a held snapshot (recent comments) would
            # cost every viewer kilobytes for the whole show
            status = (await _welcome(node, conn, channel, since, mod, arrival)).room.status
        except Unavailable:
            conn.send(_unavailable_frame(None))
            await conn.close(CLOSE_TRY_AGAIN, "unavailable")
            return
        if status in (ENDED, CANCELLED) or channel.ended:
            await conn.close(protocol.CLOSE_ROOM_ENDED, "room ended")
            return
        # Nothing reads the handshake headers or the app state again; a show-long socket
        # need not keep them.
        ws.scope["headers"] = []
        ws.scope.pop("state", None)
        session = Session(node, room_id, conn, channel)
        node.on_enter(session)
        await _read_loop(ws, session)
    except WebSocketDisconnect:
        pass
    finally:
        hub.leave(room_id, conn)
        conn.lost()
        if session is not None:
            node.on_leave(session)


async def _welcome(
    node: Node,
    conn: Connection,
    channel: RoomChannel,
    since: int | None,
    mod: Moderation,
    arrival: Arrival,
) -> Snapshot:
    """Send the snapshot (and what a reconnecting client missed), then open the live flow."""
    hub, ident, room_id = node.hub, conn.ident, channel.id
    reads = await hub.welcomes.read(room_id, since)
    snap = reads.snapshot
    welcome: dict[str, Any] = {
        "t": "welcome",
        "room": snap.room.public(),
        "you": {**ident.public(), "role": ident.role, "anonymous": ident.is_anonymous},
        "seq": snap.seq,
        "likes": max(snap.likes, channel.likes),
        "viewers": max(snap.viewers, len(channel.conns)),
        "comments": snap.comments,
        "server_time": int(time.time() * 1000),
        "recovered": None,
        "events": [],
    }
    if ident.is_host:
        welcome["room"]["keywords"] = snap.room.keywords  # private to hosts
    if mod.muted(time.time()):
        welcome["you"]["muted_until"] = int(mod.muted_until)
    if since is not None:
        welcome["recovered"] = reads.missed is not None
        welcome["events"] = reads.missed or []
    resumed = since is not None
    join = Join(
        room_id, ident, resumed, first=arrival.first and not resumed, ignored=arrival.ignored
    )
    await node.on_join(join, welcome)
    conn.send(welcome)
    hub.finish_join(conn, snap.seq)
    return snap


def _unavailable_frame(rid: Any) -> dict[str, Any]:
    return error_frame(unavailable(), rid)


async def _read_loop(ws: WebSocket, session: Session) -> None:
    conn = session.conn
    settings = session.settings
    errors: list[float] = []
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return
        data = message.get("bytes")
        if data is None:
            data = message.get("text")
        if data is None:
            continue
        METRICS.client_frames += 1
        rid = None
        try:
            too_large = len(data) > settings.max_frame_bytes
            try:
                decoded = codec.decode(conn.fmt, data)
            except codec.DecodeError as exc:
                if not too_large:
                    why = f"frame could not be decoded: {exc}"
                    raise ProtocolError("bad_encoding", why) from None
                decoded = None
            # decoded even when too large, only so that its error can echo the rid
            rid = protocol.rid_of(decoded)
            if too_large:
                raise ProtocolError(
                    "too_large", f"frame over {settings.max_frame_bytes} bytes; it was dropped"
                )
            cmd = protocol.parse(decoded, is_host=conn.ident.is_host)
            handler = HANDLERS.get(cmd.type)
            if handler is None:
                raise ProtocolError("unknown_type", f"unknown frame type {cmd.type!r}")
            reply = await handler(session, cmd)
            if reply is not None or cmd.rid is not None:
                frame = {"t": "ack", **(reply or {})}
                if cmd.rid is not None:
                    frame["rid"] = cmd.rid
                conn.send(frame)
        except Refusal as err:
            METRICS.client_errors += 1
            conn.send(error_frame(err, rid))
            if err.code not in protocol.MALFORMED:
                continue
            now = time.monotonic()
            errors = [t for t in errors if now - t < ERROR_WINDOW_S]
            errors.append(now)
            if len(errors) > ERROR_LIMIT:
                await conn.close(protocol.CLOSE_TOO_MANY_ERRORS, "too many bad frames")
                return
        except Unavailable as exc:
            # Redis is down or restarting: nothing was changed, the same frame may be resent
            log.warning("room %s: store unavailable (%s)", session.room_id, exc)
            conn.send(error_frame(unavailable(), rid))
        except Exception:
            err = internal_error(log, "handler failed in room %s", session.room_id)
            conn.send(error_frame(err, rid))
