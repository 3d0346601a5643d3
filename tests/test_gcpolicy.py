import asyncio
import contextlib
import gc
import weakref

from liveroom import gcpolicy


class _Node:
    me: object


async def test_long_lived_objects_are_frozen_and_thawed_by_the_full_pass() -> None:
    gc.unfreeze()
    keep = [[i] for i in range(1000)]  # long-lived containers, like a room's connections
    task = asyncio.create_task(gcpolicy.manage(freeze_s=0.02, full_s=0.2))
    try:
        await asyncio.sleep(0.1)
        assert gc.get_freeze_count() >= len(keep)  # out of the collector's sight
        # the full pass unfreezes, collects, then freezes again: a cycle made now is freed
        node = _Node()
        node.me = node
        alive = weakref.ref(node)
        del node
        await asyncio.sleep(0.4)  # frozen in between: only the full pass can free a cycle
        assert alive() is None
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        gc.unfreeze()


async def test_cpythons_own_full_collections_are_off_while_it_runs() -> None:
    """A full collection walks every object of every viewer: only the policy's own pass,
    every full_s, may run one; CPython's automatic ones (measured at up to 836 ms in a
    flash sale's grab burst) do not."""
    before = gc.get_threshold()
    task = asyncio.create_task(gcpolicy.manage(freeze_s=10, full_s=900))
    try:
        await asyncio.sleep(0)
        full_before = gc.get_stats()[2]["collections"]
        junk = [[i] for i in range(300_000)]  # promoted through the young generations
        del junk
        assert gc.get_stats()[2]["collections"] == full_before
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        gc.unfreeze()
    assert gc.get_threshold() == before


async def test_zero_leaves_the_default_collector() -> None:
    gc.unfreeze()
    await gcpolicy.manage(freeze_s=0, full_s=0)
    assert gc.get_freeze_count() == 0
