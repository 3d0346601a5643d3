"""Client frame handlers, one module per feature; each registers its frame types here.

A handler gets the session and the validated command and returns the fields of its `ack`
(or None for no reply); it refuses by raising an errors.Refusal (any feature's subclass),
which the socket's read loop turns into the error frame, with the frame's rid.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from liveroom.protocol import Command

if TYPE_CHECKING:
    from liveroom.session import Session

Handler = Callable[["Session", Command], Awaitable[dict[str, Any] | None]]
HANDLERS: dict[str, Handler] = {}


def handles(*frame_types: str) -> Callable[[Handler], Handler]:
    def wrap(fn: Handler) -> Handler:
        for t in frame_types:
            HANDLERS[t] = fn
        return fn

    return wrap


def load_all() -> None:
    """Import every feature module so its handlers register."""
    from liveroom.commands import coupons, draws, host, sales, shows, viewer  # noqa: F401
