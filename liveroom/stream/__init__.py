"""The room's commerce event stream: the one durable record of a room's business.

Every sale and hold change, draw result and viewer join of a room (and whatever later
features add: shows, coupons) is an event here, in order, so a merchant backend can
reconcile orders and segment the audience, and a feature can rebuild its figures by folding
over a room's events.

- `events.py`: the event types, their fields, and how entries are written and read;
- `base.py`: the interface (`append`, `read` after an id) and the cap, MAXLEN;
- `memory.py`, `redis.py`: the two backends, held to one contract (tests/stream);
- `joins.py`: the feature that records viewer joins.

Writers: the sale stores record sale and hold events in the same atomic step as the change
(on Redis, inside the sale Lua scripts, which get the stream key and MAXLEN with each
call); other features call `append` (draw results: draws/service.py; joins: joins.py).

Readers: the merchant API pages with `read` (GET /api/rooms/{room}/events). On Redis a
backend may also read the room's stream, `keys.commerce_stream(room)` =
`<prefix>:{<room>}:sale:events`, with a consumer group (XGROUP CREATE ... MKSTREAM,
XREADGROUP ... >, XACK after processing, XAUTOCLAIM to take over a dead worker's
entries); its fields are the encoded strings of events.encode. liveroom itself never
creates groups on it, and reads with XRANGE, which leaves groups alone.
"""

from __future__ import annotations

from liveroom.stream.base import MAXLEN, CommerceStream
from liveroom.stream.events import EVENT_TYPES, decode, encode

__all__ = ["EVENT_TYPES", "MAXLEN", "CommerceStream", "decode", "encode"]
