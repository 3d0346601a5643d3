"""The key builder: every room key carries the room's hash tag, so a room is one slot."""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import pytest
import redis as redis_sync
from hypothesis import given, settings
from hypothesis import strategies as st
from redis.crc import key_slot

from liveroom.redis.keys import (
    AnalyticsKeys,
    DrawKeys,
    JobKeys,
    Keys,
    RoomKeys,
    SaleKeys,
    ShowKeys,
)
from liveroom.redis.scripts import load
from tests.conftest import REDIS_URL

# what the surfaces accept as a room id (1-64 of A-Z a-z 0-9 _ . -)
room_ids = st.from_regex(r"\A[A-Za-z0-9_.\-]{1,64}\Z")
# uids, sale ids, request ids, nonces...: anything, braces and non-ASCII included
anything = st.text(max_size=24)


def builders(owner: object) -> Iterator[tuple[str, object]]:
    """Every public key builder of a key class: its properties and its methods."""
    for name, member in inspect.getmembers(type(owner)):
        if name.startswith("_") or name in ("prefix", "room_id"):
            continue
        if isinstance(member, property) or inspect.isfunction(member):
            yield name, member


def room_keys(keys: Keys, room_id: str, arg: str) -> dict[str, str]:
    """Every name of one room, each method called with `arg` for each of its parameters."""
    out = {"commerce_stream": keys.commerce_stream(room_id), "webhook": keys.webhook(room_id)}
    owners = (keys.room(room_id), keys.sale(room_id), keys.draws(room_id))
    for owner in (*owners, keys.jobs(room_id), keys.show(room_id), keys.analytics(room_id)):
        for name, member in builders(owner):
            label = f"{type(owner).__name__}.{name}"
            if isinstance(member, property):
                out[label] = getattr(owner, name)
            else:
                n = len(inspect.signature(member).parameters) - 1
                out[label] = getattr(owner, name)(*[arg] * n)
    return out


def test_every_key_class_is_covered() -> None:
    """A new key class or builder shows up here, and so is held to the tests below."""
    names = set(room_keys(Keys("lr"), "r", "x"))
    assert {"RoomKeys.channel", "RoomKeys.dedup", "SaleKeys.answer", "DrawKeys.won"} <= names
    assert len(names) == 2 + sum(
        len(list(builders(c("lr", "r"))))
        for c in (
            RoomKeys,
            SaleKeys,
            DrawKeys,
            JobKeys,
            ShowKeys,
            AnalyticsKeys,
        )
    )


@settings(max_examples=200, deadline=None)
@given(room_id=room_ids, arg=anything)
def test_a_rooms_keys_and_channel_share_the_rooms_slot(room_id: str, arg: str) -> None:
    keys = Keys("lr-test")
    slot = key_slot(f"{{{room_id}}}".encode())
    for label, name in room_keys(keys, room_id, arg).items():
        assert name.startswith(f"lr-test:{{{room_id}}}:"), label
        assert key_slot(name.encode()) == slot, (label, name)


def test_global_keys_are_the_documented_ones() -> None:
    """Keys outside any room: adding one means saying why in keys.py and docs/redis.md."""
    keys = Keys("lr")
    globals_ = {
        name
        for name, _ in builders(keys)
        if name
        not in ("room", "sale", "draws", "jobs", "show", "analytics", "commerce_stream", "webhook")
    }
    assert globals_ == {
        "products",
        "rooms_with_sales",
        "draws_due",
        "nonce",
        "node_channel",
        "jobs_due",
        "wecom_pace",
        "series",
        "series_episodes",
        "viewer",
        "viewers_seen",
        "viewers_spend",
        "coupon_template",
        "coupon_templates",
        "coupon_drops",
        "webhook_rooms",
    }
    assert (keys.products, keys.rooms_with_sales, keys.draws_due) == (
        "lr:products",
        "lr:sale:rooms",
        "lr:draws:due",
    )
    assert keys.nonce("n1") == "lr:merchant:nonce:n1"
    assert keys.node_channel("abc") == "lr:node:abc"
    assert keys.viewer("u1") == "lr:an:viewer:u1"
    assert (keys.viewers_seen, keys.viewers_spend) == ("lr:an:seen", "lr:an:spend")


@pytest.mark.parametrize("prefix", ["", "a{b}", "lr}", "{lr"])
def test_a_prefix_that_would_become_every_keys_hash_tag_is_refused(prefix: str) -> None:
    with pytest.raises(ValueError):
        Keys(prefix)


HARNESS = """
local R = sale_room(KEYS[1], KEYS[2], '100')
return {R.due, R.timers, R.orders, R.sales, sale_key(R, ARGV[1]), takens_key(R, ARGV[1]),
  sale_holds_key(R, ARGV[1]), hold_key(R, ARGV[2]), answer_key(R, ARGV[1], ARGV[3], ARGV[4])}
"""


@pytest.fixture(scope="module")
def lua_sale_keys() -> Iterator[object]:
    client = redis_sync.Redis.from_url(REDIS_URL)
    yield client.register_script(load("lib_sale").text + HARNESS)
    client.close()


@settings(max_examples=50, deadline=None)
@given(room_id=room_ids, sale_id=anything, hold_id=anything, uid=anything, request_id=anything)
def test_the_sale_scripts_derive_the_keys_python_names(
    lua_sale_keys: object, room_id: str, sale_id: str, hold_id: str, uid: str, request_id: str
) -> None:
    """The sale scripts build their keys from the base in Lua: the same names as SaleKeys,
    so what a script writes is what the store reads."""
    k = Keys("lr").sale(room_id)
    got = lua_sale_keys(  # type: ignore[operator]
        keys=[k.base, "lr:{x}:stream"], args=[sale_id, hold_id, uid, request_id]
    )
    assert [g.decode() for g in got] == [
        k.due,
        k.timers,
        k.orders,
        k.sales,
        k.sale(sale_id),
        k.takens(sale_id),
        k.sale_holds(sale_id),
        k.hold(hold_id),
        k.answer(sale_id, uid, request_id),
    ]
