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


async def test_zero_leaves_the_default_collector() -> None:
    gc.unfreeze()
    await gcpolicy.manage(freeze_s=0, full_s=0)
    assert gc.get_freeze_count() == 0
