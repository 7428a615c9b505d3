"""Shared pieces of the statistics: duration summaries, execution contexts, task labels, sorting."""

from __future__ import annotations

import polars as pl

from ..errors import UsageError

PERCENTILES = (50, 95, 99)
ORDER = "_ord"

# Execution contexts (see context_exprs).
CTX_TASK, CTX_SOFTIRQ, CTX_HARDIRQ, CTX_NMI, CTX_CPU = 0, 1, 2, 3, 4
CTX_NAMES = {CTX_TASK: "task", CTX_SOFTIRQ: "softirq", CTX_HARDIRQ: "hardirq", CTX_NMI: "nmi",
             CTX_CPU: "cpu"}


def ordered(events: pl.DataFrame) -> pl.DataFrame:
    """The events with their position in the (timestamp-ordered) table as ``_ord``."""
    if ORDER in events.columns:
        return events
    return events.with_row_index(ORDER)


def context_exprs() -> list[pl.Expr]:
    """``ctx_kind`` and ``ctx_id``: who an event runs as.

    An event runs in its task (``ctx_id`` = pid), except that events flagged hardirq, softirq or
    NMI belong to that interrupt context of their CPU, and events of pid 0 (the per-CPU idle
    tasks, all printed as ``<idle>-0``) or without a task column belong to their CPU.
    Interrupt flags are null without an irq-info column; null counts as not set.
    """
    kind = (
        pl.when(pl.col("nmi")).then(pl.lit(CTX_NMI))
        .when(pl.col("hardirq")).then(pl.lit(CTX_HARDIRQ))
        .when(pl.col("softirq")).then(pl.lit(CTX_SOFTIRQ))
        .when(pl.col("pid").is_null() | (pl.col("pid") == 0)).then(pl.lit(CTX_CPU))
        .otherwise(pl.lit(CTX_TASK))
        .cast(pl.Int8)
    )
    ident = pl.when(kind == CTX_TASK).then(pl.col("pid")).otherwise(pl.col("cpu"))
    return [kind.alias("ctx_kind"), ident.alias("ctx_id")]


def task_names(events: pl.DataFrame) -> pl.DataFrame:
    """pid -> ``task`` label ``comm-pid``, using the last known comm of the pid.

    ``<...>`` (comm not in saved_cmdlines) is used only when the pid never shows a real comm.
    """
    known = (
        events.filter(pl.col("pid").is_not_null())
        .select("pid", "comm")
        .with_columns(real=pl.col("comm") != "<...>")
        .group_by("pid", maintain_order=True)
        .agg(
            pl.col("comm").filter(pl.col("real")).last().alias("c1"),
            pl.col("comm").last().alias("c2"),
        )
    )
    return known.select(
        "pid", (pl.coalesce("c1", "c2") + "-" + pl.col("pid").cast(pl.String)).alias("task")
    )


def group_sorted(df: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """`df` sorted by `keys` then table order, with ``_same_prev`` / ``_same_next``: whether the
    row before / after belongs to the same group (sorting once beats hashed windows when there
    are many small groups, such as one per pointer)."""
    s = df.sort([*keys, ORDER])
    idx = pl.int_range(pl.len())
    prev = idx > 0
    nxt = idx < pl.len() - 1
    for k in keys:
        prev = prev & pl.col(k).eq_missing(pl.col(k).shift(1))
        nxt = nxt & pl.col(k).eq_missing(pl.col(k).shift(-1))
    return s.with_columns(prev.alias("_same_prev"), nxt.alias("_same_next"))


def next_in_group(col: str) -> pl.Expr:
    return pl.when(pl.col("_same_next")).then(pl.col(col).shift(-1))


def prev_in_group(col: str) -> pl.Expr:
    return pl.when(pl.col("_same_prev")).then(pl.col(col).shift(1))


def pair_next(rows: pl.DataFrame, start: str, end: str, over: list[str]) -> pl.DataFrame:
    """The `start`/`end` rows (in table order) with ``starts_pair`` / ``ends_pair``.

    A `start` starts a pair when the next row of its `over` group is an `end` (which then ends the
    pair); ``next_ts`` is that row's stamp.  Hashed windows: fast for the few thousand groups
    of (context, lock) (group_sorted is the faster choice for one group per pointer).
    """
    sub = rows.filter(pl.col("event").is_in([start, end]))
    return sub.with_columns(
        pl.col("event").shift(-1).over(over).alias("next_event"),
        pl.col("ts_ns").shift(-1).over(over).alias("next_ts"),
        pl.col("event").shift(1).over(over).alias("prev_event"),
    ).with_columns(
        ((pl.col("event") == start) & (pl.col("next_event") == end)).fill_null(False)
        .alias("starts_pair"),
        ((pl.col("event") == end) & (pl.col("prev_event") == start)).fill_null(False)
        .alias("ends_pair"),
    )


def duration_aggs(value: str, prefix: str) -> list[pl.Expr]:
    """n/total/mean/min/max/p50/p95/p99 of a duration column (ns).

    Percentiles are nearest-rank: the smallest value with at least p% of the values at or below
    it (``sorted[ceil(p/100 * n) - 1]``), so they are always observed durations.
    """
    v = pl.col(value).drop_nulls()
    out = [
        v.len().alias(f"{prefix}_n"),
        v.sum().alias(f"{prefix}_total"),
        v.mean().alias(f"{prefix}_mean"),
        v.min().alias(f"{prefix}_min"),
        v.max().alias(f"{prefix}_max"),
    ]
    for p in PERCENTILES:
        idx = (v.len() * p / 100).ceil().cast(pl.Int64) - 1
        out.append(v.sort().get(idx.clip(lower_bound=0)).alias(f"{prefix}_p{p}"))
    return out


def duration_columns(prefix: str) -> dict[str, pl.DataType]:
    cols: dict[str, pl.DataType] = {
        f"{prefix}_n": pl.UInt32,
        f"{prefix}_total": pl.Int64,
        f"{prefix}_mean": pl.Float64,
        f"{prefix}_min": pl.Int64,
        f"{prefix}_max": pl.Int64,
    }
    cols.update({f"{prefix}_p{p}": pl.Int64 for p in PERCENTILES})
    return cols


def summarize(durations: pl.DataFrame, keys: list[str], value: str, prefix: str) -> pl.DataFrame:
    """One row per key with the duration summary of ``value``; empty n/total are 0, not null."""
    if durations.is_empty():
        schema = {k: durations.schema[k] for k in keys} | duration_columns(prefix)
        return pl.DataFrame(schema=schema)
    out = durations.group_by(keys).agg(duration_aggs(value, prefix))
    return out.with_columns(pl.col(f"{prefix}_n").cast(pl.UInt32))


def fill_counts(df: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Zero instead of null for count and total columns after left joins."""
    return df.with_columns([pl.col(c).fill_null(0) for c in columns if c in df.columns])


def sort_top(df: pl.DataFrame, keys: list[str], default: str, sort: str | None,
             aliases: dict[str, str] | None = None, top: int | None = None,
             strict: bool = True) -> pl.DataFrame:
    """Sort descending by ``sort`` (a column or an alias of one), ties by the key columns, and
    keep the first ``top`` rows.  An unknown key is a UsageError, or (``strict`` false) means
    the default order."""
    column = (aliases or {}).get(sort or default, sort or default)
    if column not in df.columns:
        if strict:
            raise UsageError(f"unknown sort key {sort!r}; use one of: "
                             + ", ".join(sorted(set(aliases or {}) | set(df.columns))))
        column = (aliases or {}).get(default, default)
    by = [column] + [k for k in keys if k != column]
    out = df.sort(by, descending=[True] + [False] * (len(by) - 1), nulls_last=True,
                  maintain_order=True)
    if top is not None:
        out = out.head(top)
    return out


def sort_column(sort: str, aliases: dict[str, str], columns: list[str]) -> str | None:
    """The column a sort key names in a frame with these columns, or None."""
    column = aliases.get(sort, sort)
    return column if column in columns else None
