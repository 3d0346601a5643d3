"""The two ways a request fails for reasons other than a bug.

`Refusal`: the request cannot be honoured (a stable `code` a client can act on, a readable
`message`, and any `extra` fields such as retry_after or limit_left that go with them).
Each feature keeps its own subclass, so a handler catches only the refusals it expects.

`Unavailable`: the backing store (Redis) cannot be reached right now. Nothing was
changed, or the change is idempotent by its request id: the same request may be sent
again. Every store raises this one type, promptly, instead of hanging, and every surface
answers it the same way (error code `unavailable` with `retry_after`, HTTP 503).
"""

from __future__ import annotations

from typing import Any


class Refusal(Exception):
    def __init__(self, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra


class Unavailable(Exception):
    """The store is unreachable for a moment; retry the same request."""
