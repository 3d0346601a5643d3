"""Text out of the one client's bytes replies, for the stores that keep text."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def texts(values: Iterable[Any]) -> list[str]:
    return [text(v) for v in values]


def text_map(reply: Mapping[Any, Any]) -> dict[str, str]:
    """A hash (HGETALL) as str -> str."""
    return {text(k): text(v) for k, v in reply.items()}
