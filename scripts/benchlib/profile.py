"""Sampling profiles of the server under load (py-spy), summarised as the top costs.

py-spy attaches to the running server without changing it; `--format raw` writes collapsed
stacks ("frame;frame;frame count"), from which we compute each function's own share of the
samples (where the CPU actually went) and its inclusive share (what it and its callees cost).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path


def py_spy() -> str | None:
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


def start(pid: int, seconds: float, out: Path, rate: int = 100) -> subprocess.Popen | None:
    exe = py_spy()
    if exe is None:
        print("py-spy not installed: pip install py-spy", file=sys.stderr)
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [exe, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", str(rate),
           "--format", "raw", "--output", str(out), "--nonblocking", "--subprocesses"]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def summarize(path: Path, top: int = 15) -> dict[str, list[tuple[str, float]]]:
    """Top functions by own and by inclusive share of samples (percent)."""
    own: Counter = Counter()
    incl: Counter = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        raw = stack.split(";")
        frames = [_short(f) for f in raw]
        total += n
        own[_short(raw[-1], line=True)] += n
        for f in set(frames):
            incl[f] += n
    if not total:
        return {"own": [], "inclusive": [], "samples": []}
    return {
        "own": [(f, 100 * n / total) for f, n in own.most_common(top)],
        "inclusive": [(f, 100 * n / total) for f, n in incl.most_common(top * 3)],
        "samples": [("total", float(total))],
    }


def _short(frame: str, line: bool = False) -> str:
    """`func (path/to/site-packages/pkg/mod.py:123)` -> `func (pkg/mod.py)`, or with `:123`."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    file = where if line else where.rsplit(":", 1)[0]
    for marker in ("site-packages/", "lib/python3.11/", "/work/main/"):
        if marker in file:
            file = file.split(marker, 1)[1]
    return f"{name} ({file})" if file else name


def render(summary: dict[str, list[tuple[str, float]]], top: int = 12) -> str:
    lines = ["own time (where the CPU went):"]
    lines += [f"  {pct:5.1f}%  {f}" for f, pct in summary["own"][:top]]
    lines.append("inclusive (liveroom and uvicorn frames):")
    shown = 0
    for f, pct in summary["inclusive"]:
        if ("liveroom/" in f or "uvicorn/" in f or "uvloop" in f) and shown < top:
            lines.append(f"  {pct:5.1f}%  {f}")
            shown += 1
    return "\n".join(lines)
