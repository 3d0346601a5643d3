"""Viewer joins in the commerce stream: where the room's audience came from."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from liveroom.batching import RoomBatcher
from liveroom.stream.base import CommerceStream
from liveroom.types import Feature, Frame, Join

log = logging.getLogger("liveroom.stream")

JoinFields = Mapping[str, Any]


class JoinRecorder(Feature):
    """Records a logged-in viewer's arrival, with where they came from (the attribution the
    analytics feature gave the join: the viewer's first touch in the show, `src` channel
    and `ref` share code, and `first` when this join is that first touch), so the data
    side can segment the audience. A reconnect (`since`) is the same visit and is not
    counted again; anonymous viewers and hosts are not recorded. Best effort: a stream
    that cannot be written never refuses a join.

    The joins of a room that reach this process together are written in one go (a join
    storm: a WeCom reminder brings thousands within seconds), one stream write per batch
    instead of a Redis round trip per viewer."""

    def __init__(self, stream: CommerceStream) -> None:
        self.stream = stream
        self._batches: RoomBatcher[JoinFields, str] = RoomBatcher(
            self._record_many, immediate=stream.in_process
        )

    async def stop(self) -> None:
        await self._batches.close()

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
            await self._batches.submit(join.room_id, fields)
        except Exception:
            log.warning(
                "viewer_joined for %s in %s not recorded", ident.uid, join.room_id, exc_info=True
            )

    async def _record_many(self, room_id: str, joins: list[JoinFields]) -> list[str]:
        return await self.stream.append_many(room_id, [("viewer_joined", f) for f in joins])
