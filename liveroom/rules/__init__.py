"""Pure rules: decisions that need no I/O, unit-tested without a server."""
