"""The one Lua script loader: every script of liveroom lives in liveroom/redis/lua/.

A script is named by its owner (`room_*` the engine, `sale_*` the sale store, `draw_*` the
draw store); a `lib_*` file holds helpers that scripts include. Every file starts with a
header of comment lines, in this order:

    -- sale_end: what the script does, in a line or a few.
    -- flags: no-writes              (optional: Redis 7 script flags, see below)
    -- include: lib_sale             (optional, repeated: a lib_* file pasted in first)
    -- KEYS[1] sale_base: what the key holds
    -- KEYS[2] stream: ...
    -- ARGV[1] stream_cap: what the argument means
    -- ARGV[4...] grabs: a repeated tail of arguments, from 4 on
    -- Returns: the reply.

Only scripts read KEYS and ARGV (helpers take what they need as parameters), so a script's
header names all it is given, and tests/redis/test_scripts.py holds every header to its
body. A script touches only the keys it is given, or keys derived from a given key base by
appending to it (the sale scripts: see keys.py), so every key of a call is in one slot.

The loader prepends `#!lua` (with the header's flags) to each script: Redis 7 then treats
it as a script with declared flags, and on a cluster refuses, rather than silently runs,
any access to a key outside the slot of the call. So liveroom needs Redis 7.0 or later.

Scripts publish with `redis.call(PUBLISH, channel, message)`: the loader defines `PUBLISH`
after the shebang, as 'PUBLISH' for one Redis and 'SPUBLISH' for a Redis Cluster, where a
room's channel is a shard channel (liveroom/redis/pubsub.py). One file per script either
way; what differs is one line the loader writes.

Scripts are called with EVALSHA; on NOSCRIPT (a restarted or failed-over Redis, or the
first call on a node) the same call goes out once as EVAL with the text, which runs it and
teaches that node the script (`Script`). redis-py's Script answers NOSCRIPT with a SCRIPT
LOAD and a second EVALSHA: two more round trips, and on a cluster client the SCRIPT LOAD
is not routed by the call's keys; EVAL goes by its keys to the one node that lacks it.

Adding a script: write `lua/<owner>_<verb>.lua` with the header above, then call
`redis.script("<owner>_<verb>")` (liveroom.redis.RedisLayer) where the store is built.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from redis.exceptions import NoScriptError

LUA = resources.files("liveroom.redis").joinpath("lua")

_NAMED = re.compile(r"^-- (KEYS|ARGV)\[(\d+)(\.\.\.)?\] (\w+):")
_INCLUDE = re.compile(r"^-- include: (\w+)$")
_FLAGS = re.compile(r"^-- flags: ([\w,-]+)$")
_TITLE = re.compile(r"^-- (\w+): ")


class ScriptError(Exception):
    """A script file that does not follow the layout (found when it is loaded)."""


@dataclass(frozen=True)
class Header:
    keys: tuple[str, ...]  # the names of KEYS[1..n]
    argv: tuple[str, ...]  # the names of ARGV[1..m]
    argv_rest: str  # the name of the repeated tail ARGV[m+1...], "" when there is none
    flags: str
    includes: tuple[str, ...]


@dataclass(frozen=True)
class Source:
    name: str
    header: Header
    body: str  # the file as written
    text: str  # what Redis runs: the shebang, the included helpers, the body


def names() -> list[str]:
    """Every script (not the lib_* helpers), by name."""
    return sorted(
        f.name.removesuffix(".lua")
        for f in LUA.iterdir()
        if f.name.endswith(".lua") and not f.name.startswith("lib_")
    )


def libs() -> list[str]:
    return sorted(
        f.name.removesuffix(".lua")
        for f in LUA.iterdir()
        if f.name.endswith(".lua") and f.name.startswith("lib_")
    )


def parse_header(name: str, body: str) -> Header:
    lines = []
    for line in body.splitlines():
        if not line.startswith("--"):
            break
        lines.append(line)
    title = _TITLE.match(lines[0]) if lines else None
    if title is None or title.group(1) != name:
        raise ScriptError(f"{name}.lua must start with '-- {name}: <what it does>'")
    named: dict[str, list[tuple[int, str, bool]]] = {"KEYS": [], "ARGV": []}
    includes: list[str] = []
    flags = ""
    for line in lines[1:]:
        if m := _NAMED.match(line):
            named[m.group(1)].append((int(m.group(2)), m.group(4), bool(m.group(3))))
        elif m := _INCLUDE.match(line):
            includes.append(m.group(1))
        elif m := _FLAGS.match(line):
            flags = m.group(1)
    for table, entries in named.items():
        if [i for i, _, _ in entries] != list(range(1, len(entries) + 1)):
            raise ScriptError(f"{name}.lua: {table}[i] must be listed 1, 2, 3, ... in order")
        if any(rest for _, _, rest in entries[:-1]):
            raise ScriptError(f"{name}.lua: only the last ARGV entry may be a repeated tail")
        if table == "KEYS" and entries and entries[-1][2]:
            raise ScriptError(f"{name}.lua: KEYS are named one by one, never a repeated tail")
    argv = named["ARGV"]
    rest = argv[-1][1] if argv and argv[-1][2] else ""
    fixed = argv[:-1] if rest else argv
    return Header(
        keys=tuple(n for _, n, _ in named["KEYS"]),
        argv=tuple(n for _, n, _ in fixed),
        argv_rest=rest,
        flags=flags,
        includes=tuple(includes),
    )


def _read(name: str) -> str:
    path = LUA.joinpath(f"{name}.lua")
    if not path.is_file():
        raise ScriptError(f"no script {name!r} in liveroom/redis/lua")
    return path.read_text()


def _included(name: str, seen: list[str], stack: tuple[str, ...] = ()) -> None:
    """Add `name`'s includes, each once, helpers before what uses them."""
    for lib in parse_header(name, _read(name)).includes:
        if lib in stack:
            raise ScriptError(f"include cycle: {' -> '.join((*stack, name, lib))}")
        if lib not in seen:
            _included(lib, seen, (*stack, name))
            seen.append(lib)


@functools.cache
def load(name: str, sharded: bool = False) -> Source:
    """The script as Redis runs it; `sharded`: on a Redis Cluster (PUBLISH is SPUBLISH)."""
    body = _read(name)
    header = parse_header(name, body)
    libs_in: list[str] = []
    _included(name, libs_in)
    shebang = "#!lua" + (f" flags={header.flags}" if header.flags else "")
    publish = f"local PUBLISH = '{'SPUBLISH' if sharded else 'PUBLISH'}'"
    parts = [shebang, publish, *(f"-- {lib}.lua\n{_read(lib)}" for lib in libs_in), body]
    return Source(name, header, body, "\n".join(parts))


class Script:
    """A loaded script bound to a client: `await script(keys=[...], args=[...])`."""

    __slots__ = ("client", "script", "sha")

    def __init__(self, client: Any, text: str) -> None:
        self.client = client
        self.script = text
        self.sha = hashlib.sha1(text.encode()).hexdigest()

    async def __call__(self, keys: Sequence[Any] = (), args: Sequence[Any] = ()) -> Any:
        try:
            return await self.client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            # nothing ran: run it by its text, which also caches it on that node
            return await self.client.eval(self.script, len(keys), *keys, *args)

    def queue(self, pipe: Any, keys: Sequence[Any] = (), args: Sequence[Any] = ()) -> None:
        """Add the call to a pipeline; execute it with `run_pipeline`, which answers the
        calls a node did not know the script for."""
        calls = getattr(pipe, "liveroom_calls", None)
        if calls is None:
            calls = pipe.liveroom_calls = []
        calls.append((len(pipe), self, keys, args))
        pipe.execute_command("EVALSHA", self.sha, len(keys), *keys, *args)


async def run_pipeline(pipe: Any) -> list[Any]:
    """Execute a pipeline whose script calls were queued with `Script.queue`: a call that
    met NOSCRIPT (nothing ran) is run again on its own, by its text; any other error is
    raised, as `pipe.execute()` would."""
    calls = getattr(pipe, "liveroom_calls", ())
    replies = await pipe.execute(raise_on_error=False)
    for i, script, keys, args in calls:
        if isinstance(replies[i], NoScriptError):
            replies[i] = await script(keys, args)
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    return replies
