"""Social proof: how a room sees that people buy ("A** just bought Longjing 250g").

Pure: no I/O, times are unix milliseconds passed in. Two decisions live here:
- how the buyer's nick is shown, by the room's `social_proof` setting (`mask`);
- when a purchase may be announced (`take_slot`): at most one announcement per room per
  window, the purchases in between folded into the next one's `others`, never dropped.
  The engines keep the pace state; the Redis engine runs the same arithmetic in Lua
  (lib_room.lua pace_take), and tests/contract/test_lua_rules.py holds the two equal.
"""

from __future__ import annotations

from dataclasses import dataclass

MASKED = "masked"
FULL = "full"
OFF = "off"
MODES = (MASKED, FULL, OFF)
DEFAULT_MODE = MASKED

MASK = "**"


class SocialProofError(ValueError):
    pass


def check_mode(mode: object) -> str:
    """The mode, or SocialProofError naming the allowed ones."""
    if mode not in MODES:
        raise SocialProofError(f"mode must be one of {', '.join(MODES)}")
    return str(mode)


def mask(nick: str, mode: str) -> str | None:
    """The buyer's name as the room sees it; None when the room shows no purchases.

    `masked` keeps the first character (a code point, so a Chinese nick shows its first
    character) and hides the rest, whatever its length: a one-letter nick still reads
    `A**`, so the mask never tells how long the name is. A buyer without a nick is shown
    as an empty name in either mode (a client shows its own word for "someone")."""
    if mode == OFF:
        return None
    name = nick.strip()
    if not name or mode == FULL:
        return name
    return name[0] + MASK


@dataclass(frozen=True, slots=True)
class Pace:
    """A room's announcement pace: when the last announcement went out (0: never) and how
    many items wait for the next one."""

    last_at: int = 0
    pending: int = 0

    def next_at(self, window_ms: int) -> int:
        return self.last_at + window_ms


def take_slot(pace: Pace, added: int, now: int, window_ms: int) -> tuple[Pace, int]:
    """Add `added` items; if the window since the last announcement has passed and
    something waits, the slot is taken: return the new pace and how many items the
    announcement made now stands for (0: none now, they wait for the next slot)."""
    pending = pace.pending + added
    if pending > 0 and (pace.last_at == 0 or now >= pace.last_at + window_ms):
        return Pace(now, 0), pending
    return Pace(pace.last_at, pending), 0
