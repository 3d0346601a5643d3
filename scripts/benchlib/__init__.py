"""Shared machinery of the benchmarks in scripts/: a lean WebSocket load generator that runs in
separate processes, server launchers with CPU/RSS sampling, and result tables.

It lives beside the scripts (not in the liveroom package) because nothing in production uses it.
"""
