"""Lock statistics in the manner of ``perf lock report`` / ``perf lock contention`` and
/proc/lock_stat, from lock_* and contention_* trace events.

- acquisitions: ``lock_acquire`` events (trylocks and read acquisitions included);
- contentions: ``lock_contended`` and ``contention_begin`` events;
- wait: ``lock_contended`` -> the next ``lock_acquired`` of the same address in the same context,
  and ``contention_begin`` -> the next ``contention_end`` of the same address in the same context;
- hold: ``lock_acquire`` -> the matching ``lock_release`` of the same address in the same context,
  nested re-acquisitions pairing up last-in first-out.

A context is the task (pid); events flagged hardirq/softirq/NMI belong to that interrupt context
of their CPU, and the idle tasks (pid 0) to their CPU (see common.context_exprs).  Acquires and
releases without a partner (the trace starts or ends inside the section, or events were lost) are
left out of the hold times and counted in ``unmatched``; contentions without an end (and
contention ends without a begin) likewise in ``wait_unmatched``.

contention_* events carry the lock object's address, not the lockdep_map address of lock_*
events, and no name: their class is ``contention:<flags>`` (e.g. ``contention:SPIN``).
"""

from __future__ import annotations

import polars as pl

from ..parse.fields import CONTENTION_EVENTS, LOCK_EVENTS
from .common import (
    ORDER,
    context_exprs,
    duration_columns,
    fill_counts,
    ordered,
    pair_next,
    sort_top,
    summarize,
    task_names,
)

BY_KEYS = {"class": ["name"], "instance": ["addr", "name"], "task": ["task"], "cpu": ["cpu"]}
SORT_ALIASES = {
    "acquired": "acquired",
    "contended": "contended",
    "avg_wait": "wait_mean",
    "wait_total": "wait_total",
    "wait_max": "wait_max",
    "wait_min": "wait_min",
    "hold_total": "hold_total",
    "hold_max": "hold_max",
    "hold_min": "hold_min",
    "avg_hold": "hold_mean",
}
_CTX = ["ctx_kind", "ctx_id", "addr"]
_ATTRS = ["name", "addr", "pid", "cpu"]


def lock_events(events: pl.DataFrame) -> pl.DataFrame:
    """The lock_* and contention_* rows with their context and a class name for every row."""
    ev = ordered(events)
    rows = ev.filter(pl.col("event").is_in(LOCK_EVENTS + CONTENTION_EVENTS)).select(
        ORDER, "ts_ns", "cpu", "pid", "comm", "event", "addr", "name", "lock_flags", *context_exprs()
    )
    is_cont = pl.col("event").is_in(CONTENTION_EVENTS)
    cname = pl.when(pl.col("event") == "contention_begin").then(
        pl.lit("contention:") + pl.col("lock_flags").fill_null("")
    )
    filled = cname.forward_fill().backward_fill().over("addr").fill_null("contention:unknown")
    return rows.with_columns(
        pl.when(is_cont).then(filled).otherwise(pl.col("name")).alias("name")
    )


def hold_pairs(events: pl.DataFrame, rows: pl.DataFrame | None = None) -> pl.DataFrame:
    """Every lock_acquire/lock_release row with ``matched`` and, on acquires, ``hold_ns``.

    Nesting depth per (context, address) is the running sum of +1 (acquire) / -1 (release); an
    acquire at depth d pairs with the next release that takes the depth from d back to d-1, which
    is the next event at the same level (acquire: depth after it, release: depth before it).
    """
    rows = lock_events(events) if rows is None else rows
    sub = rows.filter(pl.col("event").is_in(["lock_acquire", "lock_release"])).with_columns(
        pl.when(pl.col("event") == "lock_acquire").then(1).otherwise(-1).alias("_d")
    )
    sub = sub.with_columns(pl.col("_d").cum_sum().over(_CTX).alias("_depth"))
    sub = sub.with_columns(
        pl.when(pl.col("_d") > 0).then(pl.col("_depth")).otherwise(pl.col("_depth") + 1).alias("level")
    )
    sub = pair_next(sub, "lock_acquire", "lock_release", [*_CTX, "level"])
    return sub.with_columns(
        (pl.col("starts_pair") | pl.col("ends_pair")).alias("matched"),
        pl.when(pl.col("starts_pair")).then(pl.col("next_ts") - pl.col("ts_ns")).alias("hold_ns"),
    )


def wait_pairs(events: pl.DataFrame, rows: pl.DataFrame | None = None) -> pl.DataFrame:
    """Contention rows with ``matched`` and, on the contention starts, ``wait_ns``.

    lock_contended pairs with the next lock_acquired of the same (context, address) when no other
    lock_contended comes between; contention_begin likewise with contention_end.  A
    lock_acquired without a contention before it is an uncontended acquisition, not unmatched.
    """
    rows = lock_events(events) if rows is None else rows
    a = pair_next(rows, "lock_contended", "lock_acquired", _CTX)
    a = a.with_columns(
        pl.col("starts_pair").alias("matched"),
    ).filter(pl.col("event") == "lock_contended")
    b = pair_next(rows, "contention_begin", "contention_end", _CTX).with_columns(
        (pl.col("starts_pair") | pl.col("ends_pair")).alias("matched")
    )
    out = pl.concat([a, b]).sort(ORDER)
    return out.with_columns(
        pl.when(pl.col("starts_pair")).then(pl.col("next_ts") - pl.col("ts_ns")).alias("wait_ns")
    )


def _keyed(df: pl.DataFrame, by: str, tasks: pl.DataFrame) -> pl.DataFrame:
    if by == "task":
        return df.join(tasks, on="pid", how="left")
    return df


def lock_stats(events: pl.DataFrame, by: str = "class", sort: str | None = None,
               top: int | None = None, strict: bool = True) -> pl.DataFrame:
    """One row per lock class (or instance, task, CPU; see BY_KEYS) with counts and times in ns."""
    keys = BY_KEYS[by]
    rows = lock_events(events)
    tasks = task_names(rows)
    rows_k = _keyed(rows, by, tasks)
    counts = rows_k.group_by(keys).agg(
        (pl.col("event") == "lock_acquire").sum().cast(pl.UInt32).alias("acquired"),
        pl.col("event").is_in(["lock_contended", "contention_begin"]).sum().cast(pl.UInt32)
        .alias("contended"),
    )
    holds = _keyed(hold_pairs(events, rows), by, tasks)
    waits = _keyed(wait_pairs(events, rows), by, tasks)
    unmatched = holds.group_by(keys).agg((~pl.col("matched")).sum().cast(pl.UInt32).alias("unmatched"))
    wait_unmatched = waits.group_by(keys).agg(
        (~pl.col("matched")).sum().cast(pl.UInt32).alias("wait_unmatched")
    )
    hold_s = summarize(holds.filter(pl.col("hold_ns").is_not_null()), keys, "hold_ns", "hold")
    wait_s = summarize(waits.filter(pl.col("wait_ns").is_not_null()), keys, "wait_ns", "wait")
    out = counts
    for part in (unmatched, wait_unmatched, wait_s, hold_s):
        out = out.join(part, on=keys, how="left", nulls_equal=True)
    zero = ["unmatched", "wait_unmatched", "wait_n", "wait_total", "hold_n", "hold_total"]
    out = fill_counts(out, zero)
    columns = (keys + ["acquired", "contended", "unmatched", "wait_unmatched"]
               + list(duration_columns("wait")) + list(duration_columns("hold")))
    out = out.select(columns)
    return sort_top(out, keys, "acquired", sort, SORT_ALIASES, top, strict)
