"""Marks shared by the suites."""

from __future__ import annotations

import pytest

# Tests that drive thousands of sockets or several busy server processes at once. scripts/test
# runs the suite on four pytest-xdist workers with `--dist loadgroup`: these share one worker,
# so they run one after another instead of starving each other of the machine's two cores.
crowd = pytest.mark.xdist_group("crowd")
