"""Redis key and channel names for a room.

Every name carries the hash tag `{room_id}`, so all of a room's keys live in one Redis
Cluster slot and each Lua script touches a single slot. The deployment's `key_prefix`
comes first, so several deployments or test runs can share one Redis and be cleaned up
with one `SCAN MATCH prefix:*`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RoomKeys:
    prefix: str
    room_id: str

    def _k(self, name: str) -> str:
        return f"{self.prefix}:{{{self.room_id}}}:{name}"

    @property
    def room(self) -> str:
        """Hash of room fields (title, status, ...); missing fields mean defaults."""
        return self._k("room")

    @property
    def seq(self) -> str:
        return self._k("seq")

    @property
    def history(self) -> str:
        """Stream of events, entry id `<seq>-0`, capped at settings.history_size."""
        return self._k("history")

    @property
    def likes(self) -> str:
        return self._k("likes")

    @property
    def deleted(self) -> str:
        """Set of deleted comment ids (hidden from snapshots)."""
        return self._k("deleted")

    @property
    def moderation(self) -> str:
        """Hash uid -> -1 (banned) or muted-until unix seconds."""
        return self._k("mod")

    @property
    def buckets(self) -> str:
        """Hash uid -> "tokens stamp" of the comment token bucket."""
        return self._k("bucket")

    @property
    def last_comment(self) -> str:
        """Hash uid -> unix seconds of the user's last accepted comment (slow mode)."""
        return self._k("last")

    @property
    def presence(self) -> str:
        """Hash node_id -> "count expiry_ms": each process's viewer count with its TTL."""
        return self._k("presence")

    @property
    def channel(self) -> str:
        """Pub/sub channel of the room's events, like totals and state."""
        return self._k("ch")

    def dedup(self, uid: str, client_id: str) -> str:
        """The accepted comment for (uid, client id); the uid's length keeps pairs apart."""
        return self._k(f"dedup:{len(uid)}:{uid}:{client_id}")


def node_channel(prefix: str, node_id: str) -> str:
    """A process's own channel: its subscriber holds it so the connection always exists."""
    return f"{prefix}:node:{node_id}"
