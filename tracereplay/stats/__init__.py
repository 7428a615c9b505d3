"""Aggregate statistics over the canonical event table (issue 9), computed with polars
expressions: lock hold and wait times (locks.py), dma_fence latencies (fences.py), event counts
and rates with the trace's span and health (events.py), slab object lifetimes (objects.py), and
PNG plots of them (plots.py, needs matplotlib).

Every figure depends only on the events in timestamp order, so a capture split into several
files gives the same statistics as the whole file.  Durations are in ns; percentiles are
nearest-rank (always an observed value).
"""

from __future__ import annotations

import polars as pl

from ..errors import UsageError
from ..table import TraceTable
from . import events as _events
from . import fences as _fences
from . import locks as _locks
from . import objects as _objects
from .common import ordered
from .events import event_stats
from .fences import fence_stats
from .locks import lock_stats
from .objects import object_stats

SECTIONS = ("locks", "fences", "events", "objects")
BY = ("class", "instance", "task", "cpu")
# Frames whose rows are sorted and cut by `sort` / `top`.
RANKED = {"locks", "fences", "events", "tasks", "cpus", "objects"}
_ALIASES = {
    "locks": _locks.SORT_ALIASES,
    "fences": _fences.SORT_ALIASES,
    "objects": _objects.SORT_ALIASES,
    "events": _events.SORT_ALIASES,
    "tasks": _events.SORT_ALIASES,
    "cpus": _events.SORT_ALIASES,
}

__all__ = ["BY", "SECTIONS", "compute_stats", "event_stats", "fence_stats", "lock_stats",
           "object_stats"]


def compute_stats(table: TraceTable, section: str = "all", by: str = "class",
                  sort: str | None = None, top: int | None = None) -> dict[str, pl.DataFrame]:
    """The statistics of one capture, as named DataFrames.

    section ``locks`` -> ``locks``; ``fences`` -> ``fences``; ``events`` -> ``events``, ``tasks``,
    ``cpus``, ``summary``, ``health``; ``objects`` -> ``objects``; ``all`` -> all of them.
    ``by`` groups locks (class = lock name, instance = address, task, cpu), objects (class =
    slab cache, instance = allocation call site, task, cpu) and fences (class = driver and
    timeline, instance = and context; task/cpu keep driver and timeline).  ``sort`` is a
    perf-lock key (acquired, contended, avg_wait, wait_total, wait_max, wait_min, hold_total,
    hold_max, avg_hold), ``count``, or any column name; frames without it keep their default
    order (most frequent first).  ``top`` keeps the first N rows of the ranked frames.
    """
    if section != "all" and section not in SECTIONS:
        raise UsageError(f"unknown section {section!r}; use one of: {', '.join(SECTIONS)}, all")
    if by not in BY:
        raise UsageError(f"unknown grouping {by!r}; use one of: {', '.join(BY)}")
    if top is not None and top < 0:
        raise UsageError(f"--top must be 0 or more, not {top}")
    wanted = SECTIONS if section == "all" else (section,)
    ev = ordered(table.events)
    out: dict[str, pl.DataFrame] = {}
    for name in wanted:
        if name == "locks":
            out["locks"] = lock_stats(ev, by, sort, top, strict=False)
        elif name == "fences":
            out["fences"] = fence_stats(ev, by, sort, top, strict=False)
        elif name == "events":
            out.update(event_stats(table, sort, top, strict=False))
        elif name == "objects":
            out["objects"] = object_stats(ev, by, sort, top, strict=False)
    if sort is not None and not any(
        _ALIASES[k].get(sort, sort) in df.columns for k, df in out.items() if k in RANKED
    ):
        keys = sorted({c for k, df in out.items() if k in RANKED for c in df.columns}
                      | {a for k in out if k in RANKED for a in _ALIASES[k]})
        raise UsageError(f"unknown sort key {sort!r} for {section}; use one of: {', '.join(keys)}")
    return out
