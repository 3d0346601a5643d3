"""The one Redis outage guard: "Redis cannot answer right now" becomes `Unavailable`.

Every Redis call of liveroom runs inside `guard()` (or a method decorated `guarded`), so a
caller handles one exception, whichever store it called, and every surface gives a client
one answer for it (errors.Unavailable: the same request may be sent again later).

What counts as "not now":
- the connection: refused, reset, closed mid-reply, the pool's wait for a free connection
  timed out, a socket timeout (a stalled Redis), any OSError under them;
- replies from a server that is there but cannot serve the call yet: LOADING (restarting,
  reading its data), MASTERDOWN (a replica that lost its master and will not serve stale
  data), READONLY (a replica, or a master demoted by a failover), TRYAGAIN (a cluster slot
  is migrating under a multi-key call), CLUSTERDOWN (slots not covered yet);
- on a Redis Cluster, the client's own "not now": no node of the slot map answers, a slot
  no master serves for a moment (a failover under way), a call redirected more times
  than it allows (slots moving);
- a connection torn down under a call: when a cluster node dies, redis-py closes the
  node's connections while other calls are still writing on them, and those calls fail
  inside its connection code with AttributeError (`_writer` already None) or RuntimeError
  (uvloop: "the handler is closed"). Only errors raised there count: the same types from
  anywhere else are bugs.

Not an outage, so passed on unchanged: authentication failures (retrying cannot help; an
operator must fix the password), and every other error reply (a bug to see, not hide).
"""

from __future__ import annotations

import functools
import os
import traceback
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import ParamSpec, TypeVar

from redis import exceptions as rexc

from liveroom.errors import Unavailable

# Error codes (the reply's first word) of a server that is up but cannot serve yet.
NOT_NOW_REPLIES = frozenset({"LOADING", "MASTERDOWN", "READONLY", "TRYAGAIN", "CLUSTERDOWN"})

# redis-py's classes for the same replies (it strips the code from their message).
_NOT_NOW_CLASSES = (
    rexc.BusyLoadingError,
    rexc.ClusterError,  # ClusterDownError and MasterDownError, and "TTL exhausted" redirects
    rexc.ReadOnlyError,
    rexc.TryAgainError,
    rexc.SlotNotCoveredError,
)
_DOWN = (rexc.ConnectionError, rexc.TimeoutError, OSError)  # OSError: ConnectionError, TimeoutError
# redis-py's connection module: a closed connection written to fails in there
_CONNECTION_CODE = os.path.join("redis", "asyncio", "connection.py")
_OUR_CODE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _torn_down(exc: BaseException) -> bool:
    """AttributeError or RuntimeError raised by redis-py's connection code (or below it,
    asyncio's streams, uvloop) on a connection closed under the call."""
    if not isinstance(exc, (AttributeError, RuntimeError)):
        return False
    files = [frame.f_code.co_filename for frame, _ in traceback.walk_tb(exc.__traceback__)]
    last = max((i for i, f in enumerate(files) if f.endswith(_CONNECTION_CODE)), default=-1)
    return last >= 0 and not any(f.startswith(_OUR_CODE) for f in files[last:])


def is_outage(exc: BaseException) -> bool:
    """True when `exc` means Redis cannot answer right now (see the module docstring)."""
    if isinstance(exc, rexc.AuthenticationError):
        return False
    if isinstance(exc, _DOWN) or isinstance(exc, _NOT_NOW_CLASSES):
        return True
    if _torn_down(exc):
        return True
    if isinstance(exc, rexc.RedisClusterException):
        # "Redis Cluster cannot be connected", raised from the connection error of the
        # last node it tried
        cause = exc.__cause__
        return cause is not None and is_outage(cause)
    if isinstance(exc, rexc.ResponseError):
        # an error reply redis-py has no class for, or one a script passed on
        text = str(exc)
        return text.split(" ", 1)[0] in NOT_NOW_REPLIES or any(
            f"-{code} " in text for code in NOT_NOW_REPLIES
        )
    return False


class _Guard:
    """A plain context manager (no generator): it wraps every Redis call on hot paths."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        if exc is not None and is_outage(exc):
            raise Unavailable(f"redis unavailable: {str(exc) or type(exc).__name__}") from exc
        return False


_GUARD = _Guard()


def guard() -> _Guard:
    """`with guard(): await client...`: an outage leaves as Unavailable."""
    return _GUARD


P = ParamSpec("P")
T = TypeVar("T")


def guarded(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """The same for a whole coroutine function (a store method of Redis calls)."""

    @functools.wraps(fn)
    async def run(*args: P.args, **kwargs: P.kwargs) -> T:
        with _GUARD:
            return await fn(*args, **kwargs)

    return run
