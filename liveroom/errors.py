"""The one shape of a refusal: a stable `code` a client can act on, a readable `message`,
and any `extra` fields (retry_after, limit_left, ...) that go into the answer with them.

Each feature keeps its own subclass, so a handler catches only the refusals it expects.
"""

from __future__ import annotations

from typing import Any


class Refusal(Exception):
    def __init__(self, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra
