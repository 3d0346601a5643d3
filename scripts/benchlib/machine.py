"""What the machine was and what it was doing: part of every result, or the numbers mean little."""

from __future__ import annotations

import os
import platform
import resource
import sys
import time
from typing import Any

import psutil


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def describe() -> dict[str, Any]:
    vm = psutil.virtual_memory()
    return {
        "when_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model(),
        "ram_gib": round(vm.total / 2**30, 1),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "nofile_limit": resource.getrlimit(resource.RLIMIT_NOFILE),
        "busy_processes": busy_processes(),
    }


def busy_processes(sample_s: float = 1.0, top: int = 8) -> list[dict[str, Any]]:
    """The processes using CPU right now (other people's work shares these cores)."""
    procs = list(psutil.process_iter(["pid", "name", "cmdline"]))
    for p in procs:
        try:
            p.cpu_percent(None)
        except psutil.Error:
            pass
    time.sleep(sample_s)
    out = []
    for p in procs:
        try:
            pct = p.cpu_percent(None)
        except psutil.Error:
            continue
        if pct >= 5:
            cmd = " ".join(p.info.get("cmdline") or [p.info.get("name") or "?"])[:90]
            out.append({"pid": p.pid, "cpu_pct": pct, "cmd": cmd})
    return sorted(out, key=lambda r: -r["cpu_pct"])[:top]
