"""Flash sales: products, the room's shopping bag, sales, holds and checkout.

The store matching the engine is built in liveroom/node.py: on Redis it shares the
process's one Redis layer, so rooms and sales live side by side under one key prefix.
"""
