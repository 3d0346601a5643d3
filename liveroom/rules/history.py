"""Reading room history: recovery ranges and the recent-comments view."""

from __future__ import annotations

from collections.abc import Iterable


def recovery(since: int, current_seq: int, oldest_kept: int | None) -> str:
    """'none' (nothing missed), 'range' (history holds it all) or 'gap' (too old).

    A `since` beyond the room's seq is a gap too: the room was reset (a memory engine
    restarted, an empty Redis), so what the client holds is from another life of the room.
    """
    if since > current_seq:
        return "gap"
    if since == current_seq:
        return "none"
    if since < 0 or oldest_kept is None or oldest_kept > since + 1:
        return "gap"
    return "range"


def recent_comments(
    newest_first: Iterable[dict], deleted: set[str] | frozenset[str], n: int
) -> list[dict]:
    """The last n comments still standing, oldest first, as a joining viewer sees them."""
    if n <= 0:
        return []
    out: list[dict] = []
    for event in newest_first:
        if event.get("type") == "comment" and event.get("id") not in deleted:
            out.append(event)
            if len(out) >= n:
                break
    out.reverse()
    return out
