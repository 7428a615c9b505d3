"""Timing one child process: wall time and that child's own peak memory (os.wait4)."""

from __future__ import annotations

import os
import subprocess
import time


def run_child(cmd: list[str], *, allow: tuple[int, ...] = (0,)) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of ``cmd``; an exit status outside ``allow`` stops the
    benchmark (``check`` exits 1 when it finds something, which a benchmark may allow)."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in allow:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}")
    return time.perf_counter() - t, usage.ru_maxrss
