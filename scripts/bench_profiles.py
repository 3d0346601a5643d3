"""Redis memory of the analytics keys: what one viewer's profile costs, and a show's figures.

Writes N viewer profiles through the real store (liveroom/analytics/redis_store.py), each a
typical regular's (a few shows, comments, clicks on three products, a hold, a purchase),
plus one show's first touches and figures, then reads Redis's own `MEMORY USAGE` of every
key: bytes per profile hash, per index entry (last seen, spend), per first touch. Uses a key
prefix of its own and deletes it afterwards.

    .venv/bin/python scripts/bench_profiles.py --viewers 10000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1])]

from liveroom.analytics.redis_store import RedisAnalyticsStore  # noqa: E402
from liveroom.redis import RedisLayer  # noqa: E402
from liveroom.rules.attribution import FIG, Delta, Touch  # noqa: E402
from liveroom.rules.segments import ProfileDelta  # noqa: E402
from liveroom.settings import Settings  # noqa: E402
from liveroom.stream.redis import RedisStream  # noqa: E402

T0 = 1_796_000_000_000


def regular(i: int) -> list[ProfileDelta]:
    """The profile of a viewer who came to three shows, in three flushes."""
    out = []
    for show in range(3):
        d = ProfileDelta()
        d.add("shows")
        d.add("watch_ms", 1_800_000 + 1000 * i)
        d.add("comments", 4)
        for sku in ("tea-01", "cup-02", "pot-03")[: show + 1]:
            d.add(f"k|{sku}")
        if show == 2:
            d.add("holds")
            d.add("h|tea-01")
            d.add("paid")
            d.add("spend_fen", 9900)
            d.add("b|tea-01")
        d.saw(T0 + show * 86_400_000 + i, f"spring-show-{show}")
        out.append(d)
    return out


async def measure(url: str, viewers: int) -> dict[str, float]:
    prefix = f"lrbench-prof-{os.getpid()}"
    layer = RedisLayer.from_settings(Settings(redis_url=url, key_prefix=prefix))
    store = RedisAnalyticsStore(layer, RedisStream(layer))
    client, keys = layer.client, layer.keys
    room = "spring-show-2"
    try:
        uids = [f"o_{i:08d}wx7Hq2LmT9aK3vB5nC1dE6fG4h" for i in range(viewers)]  # openid-like
        for step in range(3):
            for start in range(0, viewers, 1000):
                batch = {uid: regular(i)[step] for i, uid in enumerate(uids[start : start + 1000])}
                await store.add_profiles(batch)
        for i, uid in enumerate(uids):
            await store.touch(room, uid, Touch("K7QX2M9A" if i % 2 else "", "wecom_group"), 3600)
        d = Delta()
        for sku in ("tea-01", "cup-02", "pot-03"):
            for metric in ("clicks", "holds", "paid", "paid_fen"):
                d.add(FIG, f"p|{sku}|{metric}", 1)
        await store.apply(room, d)
        sample = uids[:: max(1, viewers // 500)]
        profile = [await client.memory_usage(keys.viewer(uid), samples=0) for uid in sample]
        seen = await client.memory_usage(keys.viewers_seen, samples=0)
        spend = await client.memory_usage(keys.viewers_spend, samples=0)
        touches = await client.memory_usage(keys.analytics(room).touches, samples=0)
        fields = await client.hlen(keys.viewer(uids[0]))
        return {
            "viewers": viewers,
            "profile_fields": fields,
            "profile_bytes": sum(profile) / len(profile),
            "seen_bytes_per_viewer": seen / viewers,
            "spend_bytes_per_viewer": spend / viewers,
            "touch_bytes_per_viewer_per_show": touches / viewers,
        }
    finally:
        async for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            await client.delete(key)
        await layer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--viewers", type=int, default=10_000)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    got = asyncio.run(measure(args.redis_url, args.viewers))
    per_viewer = got["profile_bytes"] + got["seen_bytes_per_viewer"] + got["spend_bytes_per_viewer"]
    print(f"viewers: {got['viewers']:,}; a profile has {got['profile_fields']} fields")
    print(f"profile hash (MEMORY USAGE):       {got['profile_bytes']:7.0f} B per viewer")
    print(f"last-seen index entry:             {got['seen_bytes_per_viewer']:7.1f} B per viewer")
    print(f"spend index entry (buyers):        {got['spend_bytes_per_viewer']:7.1f} B per viewer")
    print(f"profile and its indexes:           {per_viewer:7.0f} B per viewer")
    print(f"first touch, per viewer per show:  {got['touch_bytes_per_viewer_per_show']:7.1f} B")


if __name__ == "__main__":
    main()
