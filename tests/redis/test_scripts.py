"""Every Lua script follows the one layout: its header names exactly the KEYS and ARGV its
body reads, helpers read neither, keys come from KEYS, and Redis compiles the result."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import redis as redis_sync

from liveroom.redis import scripts
from liveroom.redis.scripts import ScriptError, load, parse_header
from tests.conftest import REDIS_URL

LITERAL = re.compile(r"\b(KEYS|ARGV)\[(\d+)\]")
COMPUTED = re.compile(r"\b(KEYS|ARGV)\[(?!\d+\])|#(KEYS|ARGV)\b|unpack\((KEYS|ARGV)\)")
# the command and its first argument, in every redis.call / redis.pcall
CALL = re.compile(r"redis\.p?call\(\s*'(\w+)'\s*(?:,\s*([^,)]+))?")
# commands whose first argument is not a key
NOT_A_KEY = {"PUBLISH", "SPUBLISH", "TIME"}
PUBLISH_BY_NAME = re.compile(r"redis\.p?call\(\s*'S?PUBLISH'", re.I)


def code(body: str) -> str:
    """The Lua without its comments."""
    return "\n".join(line.split("--", 1)[0] for line in body.splitlines())


def used(body: str, table: str) -> set[int]:
    return {int(i) for t, i in LITERAL.findall(code(body)) if t == table}


@pytest.mark.parametrize("name", scripts.names())
def test_the_header_names_exactly_what_the_body_reads(name: str) -> None:
    source = load(name)
    header, body = source.header, source.body
    assert used(body, "KEYS") == set(range(1, len(header.keys) + 1)), "KEYS in header vs body"
    assert used(body, "ARGV") == set(range(1, len(header.argv) + 1)), "ARGV in header vs body"
    computed = {m.group(1) or m.group(2) or m.group(3) for m in COMPUTED.finditer(code(body))}
    assert "KEYS" not in computed, "keys are read by number, each named in the header"
    # a repeated tail of ARGV is read by a computed index; nothing else is
    assert ("ARGV" in computed) == bool(header.argv_rest)
    assert re.search(r"^-- Returns: ", body, re.M), "the header says what the script returns"


@pytest.mark.parametrize("name", scripts.libs())
def test_helpers_read_no_keys_or_arguments_of_their_own(name: str) -> None:
    """Only a script reads KEYS and ARGV, so its header is the whole story of its inputs."""
    body = load(name).body
    assert not LITERAL.search(code(body)) and not COMPUTED.search(code(body))


@pytest.mark.parametrize("name", [*scripts.names(), *scripts.libs()])
def test_every_key_comes_from_keys_not_from_arguments_or_literals(name: str) -> None:
    """A key is KEYS[i], or a name derived from a key (the sale scripts' base, see keys.py):
    never an argument or a literal, which could lie in another slot on a cluster. (That
    every touched key really is in the call's slot, Redis itself checks in
    test_one_slot.py.)"""
    for command, first in CALL.findall(code(load(name).body)):
        if command.upper() in NOT_A_KEY:
            continue
        first = first.strip()
        assert not first.startswith(("ARGV", "'", '"')), f"{command} {first}"


@pytest.mark.parametrize("name", [*scripts.names(), *scripts.libs()])
def test_scripts_publish_with_the_loaders_command(name: str) -> None:
    """`redis.call(PUBLISH, ...)`: the loader makes it SPUBLISH on a Redis Cluster, where a
    room's channel is a shard channel; a script naming the command itself would PUBLISH
    to every node of the cluster, or not reach the room's subscribers at all."""
    assert not PUBLISH_BY_NAME.search(code(load(name).body))


def test_the_loader_chooses_the_publish_command_by_mode() -> None:
    assert "local PUBLISH = 'PUBLISH'" in load("room_publish").text
    assert "local PUBLISH = 'SPUBLISH'" in load("room_publish", sharded=True).text
    assert load("room_publish", sharded=True).text.startswith("#!lua\n")


def test_every_helper_is_used_and_every_include_exists() -> None:
    included = {lib for name in scripts.names() for lib in load(name).header.includes}
    included |= {lib for name in scripts.libs() for lib in load(name).header.includes}
    assert included == set(scripts.libs())


def test_the_loader_inlines_helpers_once_after_the_shebang() -> None:
    grab = load("sale_grab")
    assert grab.text.startswith("#!lua\n")
    assert grab.text.index("local function stream_append") < grab.text.index(
        "local function sale_room"
    )
    assert grab.text.count("local function stream_append") == 1
    assert load("room_snapshot").text.startswith("#!lua flags=no-writes\n")


@pytest.mark.parametrize(
    "header",
    [
        "-- other_name: does things\n",  # named after another file
        "-- x: y\n-- KEYS[2] b: skips one\n",
        "-- x: y\n-- ARGV[1...] rest: a tail\n-- ARGV[2] after: after the tail\n",
        "-- x: y\n-- KEYS[1...] keys: keys are named one by one\n",
    ],
)
def test_a_header_out_of_layout_is_refused(header: str) -> None:
    with pytest.raises(ScriptError):
        parse_header("x", header + "return 1\n")


@pytest.fixture(scope="module")
def client() -> Iterator[redis_sync.Redis]:
    c = redis_sync.Redis.from_url(REDIS_URL)
    yield c
    c.close()


@pytest.mark.parametrize("name", scripts.names())
def test_redis_compiles_every_script(client: redis_sync.Redis, name: str) -> None:
    sha = client.script_load(load(name).text)
    assert client.script_exists(sha) == [True]
