"""Shared test helpers: where the real corpus lives, and writing traces in the real format."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TRACEREPLAY_SHARED", REPO.parent / "shared"))
CORPUS = SHARED / "corpus"

HEADER = """# tracer: nop
#
# entries-in-buffer/entries-written: {n}/{n}   #P:4
#
#                                _-----=> irqs-off/BH-disabled
#                               / _----=> need-resched
#                              | / _---=> hardirq/softirq
#                              || / _--=> preempt-depth
#                              ||| / _-=> migrate-disable
#                              |||| /     delay
#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION
#              | |         |   |||||     |         |
"""
HEADER_LINES = HEADER.count("\n")


def need_corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS} (set TRACEREPLAY_SHARED)")
    return CORPUS


def corpus_files(sub: str) -> list[Path]:
    """The files under the corpus folder ``sub`` (none when the corpus is not there), for
    parametrising at collection, where a skip would skip the whole module."""
    folder = CORPUS / sub
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "INDEX.tsv")


def ev(comm: str, pid: int, cpu: int, ts: float, body: str, flags: str = ".....") -> str:
    """One event line exactly as /sys/kernel/tracing/trace prints it (6.x, irq-info on)."""
    sec, usec = divmod(round(ts * 1_000_000), 1_000_000)
    return f"{comm:>16}-{pid:<7} [{cpu:03d}] {flags} {sec:5d}.{usec:06d}: {body}"


@pytest.fixture
def trace_file(tmp_path):
    """Write event lines under a tracefs header; line N of the events is file line HEADER_LINES+N."""

    def write(lines: list[str], name: str = "trace.txt", header: bool = True) -> str:
        p = tmp_path / name
        text = (HEADER.format(n=len(lines)) if header else "") + "\n".join(lines) + "\n"
        p.write_text(text)
        return str(p)

    return write


def simulated(tmp_path: Path, name: str, seed: int = 1) -> str:
    """A GPUVM/dma_fence review-thread scenario written as a trace by `tracereplay simulate`."""
    from click.testing import CliRunner

    from tracereplay.cli import main

    out = tmp_path / f"{name}-{seed}.txt"
    r = CliRunner().invoke(main, ["simulate", name, "--seed", str(seed), "-o", str(out)])
    assert r.exit_code == 0, r.output
    return str(out)


# A driver's refcounted object added to the refcount model by mapping only (the docs' example).
MYDRV_REFCOUNT_MAPPING = """
[[map]]
event = "mydrv_bo_get"
op = "ref.get_count"
fields = { obj = "kv:bo", kind = "lit:mydrv_bo", count = "kv:refcount" }

[[map]]
event = "mydrv_bo_put"
op = "ref.put_count"
fields = { obj = "kv:bo", kind = "lit:mydrv_bo", count = "kv:refcount" }

[[map]]
event = "mydrv_bo_create"
op = "ref.init"
fields = { obj = "kv:bo", kind = "lit:mydrv_bo" }
"""
