"""What a valid comment is."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from liveroom.errors import Refusal


class CommentRejected(Refusal):
    pass


def _fold(text: str) -> str:
    # NFKC folds full-width and compatibility forms, so "ＶＸ" cannot dodge a filter on "vx".
    return unicodedata.normalize("NFKC", text).casefold()


def clean_text(text: str, max_chars: int) -> str:
    """Strip control characters and outer blanks; refuse empty or over-long comments."""
    cleaned = "".join(
        ch for ch in text if ch in "\n" or unicodedata.category(ch)[0] != "C" or ch == "\u200d"
    ).strip()
    if not cleaned:
        raise CommentRejected("empty", "comment is empty")
    if len(cleaned) > max_chars:
        raise CommentRejected("too_long", f"comment longer than {max_chars} characters")
    return cleaned


def blocked_keyword(text: str, keywords: Iterable[str]) -> str | None:
    """The first room keyword the text contains, ignoring case, width and spaces."""
    folded = _fold(text).replace(" ", "")
    for word in keywords:
        w = _fold(word).replace(" ", "")
        if w and w in folded:
            return word
    return None


def check_comment(text: str, *, max_chars: int, keywords: Iterable[str]) -> str:
    cleaned = clean_text(text, max_chars)
    if blocked_keyword(cleaned, keywords) is not None:
        raise CommentRejected("blocked_word", "comment contains a word this room does not allow")
    return cleaned
