"""Viewer joins in the commerce stream: where the room's audience came from."""

from __future__ import annotations

import logging

from liveroom.stream.base import CommerceStream
from liveroom.types import Feature, Frame, Join

log = logging.getLogger("liveroom.stream")


class JoinRecorder(Feature):
    """Records a logged-in viewer's arrival, with where they came from (the attribution the
    analytics feature gave the join: the viewer's first touch in the show, `src` channel
    and `ref` share code, and `first` when this join is that first touch), so the data
    side can segment the audience. A reconnect (`since`) is the same visit and is not
    counted again; anonymous viewers and hosts are not recorded. Best effort: a stream
    that cannot be written never refuses a join."""

    def __init__(self, stream: CommerceStream) -> None:
        self.stream = stream

    async def on_join(self, join: Join, welcome: Frame) -> None:
        ident = join.ident
        if ident.is_anonymous or ident.is_host or join.resumed:
            return
        fields = {
            "uid": ident.uid,
            "tier": ident.tier,
            "src": ident.src,
            "ref": ident.ref,
            "first": int(join.first),
        }
        try:
            await self.stream.append(join.room_id, "viewer_joined", fields)
        except Exception:
            log.warning(
                "viewer_joined for %s in %s not recorded", ident.uid, join.room_id, exc_info=True
            )
