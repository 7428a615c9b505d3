"""Slab object lifetimes from kmem events: kmalloc/kmem_cache_alloc (and the ``_node``
variants) -> kfree/kmem_cache_free of the same ``ptr``.

An allocation pairs with the next event of its pointer when that is a free.  What is left:
- ``live``: allocations that are the last event of their pointer (still allocated at the end);
- ``lost_frees``: allocations followed by another allocation of the same pointer (the free was
  not traced, e.g. lost events);
- ``unmatched_frees``: frees whose allocation is not in the trace.
NULL and ZERO_SIZE_PTR pointers (``kfree(NULL)``, ``kmalloc(0)``) are left out.

Grouping: ``class`` by slab cache: the ``name`` of the matching ``kmem_cache_free`` (6.x kernels),
else the cache other objects of the same allocation call site were freed to, else ``kmalloc``
for kmalloc objects and ``kmem_cache`` when unknown; ``instance`` by allocation call site (the
free's call site for unmatched frees); ``task`` and ``cpu`` by the allocating task and CPU.
"""

from __future__ import annotations

import polars as pl

from ..parse.fields import KMEM_ALLOC, KMEM_FREE
from .common import (
    ORDER,
    duration_columns,
    fill_counts,
    group_sorted,
    next_in_group,
    ordered,
    prev_in_group,
    sort_top,
    summarize,
    task_names,
)

BY_KEYS = {"class": ["cache"], "instance": ["call_site"], "task": ["task"], "cpu": ["cpu"]}
SORT_ALIASES = {
    "count": "allocs",
    "avg_lifetime": "lifetime_mean",
}
_NULL_PTR = r"^(?:0x)?0*(?:10)?$"


def kmem_events(events: pl.DataFrame) -> pl.DataFrame:
    """The alloc and free rows with ``is_alloc``, ``next_*`` (next event of the same ptr) and
    ``prev_is_alloc``."""
    ev = ordered(events)
    rows = ev.filter(
        pl.col("event").is_in(KMEM_ALLOC + KMEM_FREE)
        & pl.col("ptr").is_not_null()
        & ~pl.col("ptr").str.contains(_NULL_PTR)
    ).select(ORDER, "ts_ns", "cpu", "pid", "comm", "event", "call_site", "ptr", "bytes_req",
             "bytes_alloc", "name")
    is_alloc = pl.col("event").is_in(KMEM_ALLOC)
    rows = group_sorted(rows.with_columns(is_alloc.alias("is_alloc")), ["ptr"])
    return rows.with_columns(
        next_in_group("is_alloc").alias("next_is_alloc"),
        next_in_group("ts_ns").alias("next_ts"),
        next_in_group("name").alias("next_name"),
        prev_in_group("is_alloc").alias("prev_is_alloc"),
    ).drop("_same_prev", "_same_next").sort(ORDER)


def objects(events: pl.DataFrame, rows: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per allocation, and one per free without its allocation (``alloc`` false), with
    ``cache``, ``state`` (freed, live, lost_free, unmatched_free) and ``lifetime_ns``."""
    rows = kmem_events(events) if rows is None else rows
    allocs = rows.filter(pl.col("is_alloc"))
    freed = pl.col("next_is_alloc").eq(False)
    allocs = allocs.with_columns(
        pl.when(freed).then(pl.lit("freed"))
        .when(pl.col("next_is_alloc").is_null()).then(pl.lit("live"))
        .otherwise(pl.lit("lost_free")).alias("state"),
        pl.when(freed).then(pl.col("next_ts") - pl.col("ts_ns")).alias("lifetime_ns"),
        pl.when(freed).then(pl.col("next_name")).alias("free_name"),
    )
    site_cache = (
        allocs.filter(pl.col("free_name").is_not_null())
        .group_by("call_site", "free_name").agg(pl.len().alias("n"))
        .sort(["call_site", "n", "free_name"], descending=[False, True, False])
        .group_by("call_site", maintain_order=True).agg(pl.col("free_name").first().alias("site_cache"))
    )
    allocs = allocs.join(site_cache, on="call_site", how="left", nulls_equal=True)
    kmalloc = pl.col("event").is_in(["kmalloc", "kmalloc_node"])
    allocs = allocs.with_columns(
        pl.coalesce(
            "free_name",
            pl.when(~kmalloc).then(pl.col("site_cache")),
            pl.when(kmalloc).then(pl.lit("kmalloc")).otherwise(pl.lit("kmem_cache")),
        ).alias("cache"),
        pl.lit(True).alias("alloc"),
    )
    frees = rows.filter(~pl.col("is_alloc") & ~pl.col("prev_is_alloc").fill_null(False))
    frees = frees.with_columns(
        pl.coalesce(
            "name",
            pl.when(pl.col("event") == "kfree").then(pl.lit("kmalloc")).otherwise(pl.lit("kmem_cache")),
        ).alias("cache"),
        pl.lit("unmatched_free").alias("state"),
        pl.lit(None, pl.Int64).alias("lifetime_ns"),
        pl.lit(False).alias("alloc"),
    )
    cols = [ORDER, "ts_ns", "cpu", "pid", "event", "ptr", "call_site", "bytes_req", "bytes_alloc",
            "cache", "alloc", "state", "lifetime_ns"]
    return pl.concat([allocs.select(cols), frees.select(cols)]).sort(ORDER)


def object_stats(events: pl.DataFrame, by: str = "class", sort: str | None = None,
                 top: int | None = None, strict: bool = True) -> pl.DataFrame:
    """One row per slab cache (or call site, task, CPU); lifetimes in ns, sizes in bytes."""
    keys = BY_KEYS[by]
    rows = kmem_events(events)
    objs = objects(events, rows)
    if by == "task":
        objs = objs.join(task_names(rows), on="pid", how="left")
    state = pl.col("state")
    counts = objs.group_by(keys).agg(
        pl.col("alloc").sum().cast(pl.UInt32).alias("allocs"),
        state.is_in(["freed", "unmatched_free"]).sum().cast(pl.UInt32).alias("frees"),
        pl.col("bytes_req").sum().alias("bytes_req"),
        pl.col("bytes_alloc").sum().alias("bytes_alloc"),
        (state == "live").sum().cast(pl.UInt32).alias("live"),
        pl.col("bytes_alloc").filter(state == "live").sum().alias("live_bytes"),
        (state == "lost_free").sum().cast(pl.UInt32).alias("lost_frees"),
        (state == "unmatched_free").sum().cast(pl.UInt32).alias("unmatched_frees"),
    )
    life = summarize(objs.filter(pl.col("lifetime_ns").is_not_null()), keys, "lifetime_ns", "lifetime")
    out = counts.join(life, on=keys, how="left", nulls_equal=True)
    out = fill_counts(out, ["lifetime_n", "lifetime_total"])
    columns = (keys + ["allocs", "frees", "bytes_req", "bytes_alloc", "live", "live_bytes",
                       "lost_frees", "unmatched_frees"] + list(duration_columns("lifetime")))
    return sort_top(out.select(columns), keys, "allocs", sort, SORT_ALIASES, top, strict)
