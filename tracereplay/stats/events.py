"""Event counts and rates per event type, task and CPU; the trace's time span and health.

Rates are events per second over the span of the whole trace (first to last stamp); they are
null when the span is zero or the clock is a raw counter (no seconds to divide by).
"""

from __future__ import annotations

import polars as pl

from ..table import TraceTable
from .common import sort_top, task_names

SORT_ALIASES = {"count": "count", "rate": "count"}


def span(events: pl.DataFrame) -> tuple[int | None, int | None]:
    """First and last stamp (ns) of the events."""
    if events.is_empty():
        return None, None
    ts = events["ts_ns"]
    return ts.min(), ts.max()


def _rate(span_ns: int | None, counter_clock: bool) -> pl.Expr:
    if not span_ns or counter_clock:
        return pl.lit(None, pl.Float64).alias("rate_per_s")
    return (pl.col("count").cast(pl.Float64) * 1e9 / span_ns).alias("rate_per_s")


def _counter_clock(table: TraceTable) -> bool:
    return any(f.clock == "counter" for f in table.files)


def _counted(events: pl.DataFrame, keys: list[str], rate: pl.Expr) -> pl.DataFrame:
    return events.group_by(keys).agg(
        pl.len().cast(pl.UInt32).alias("count"),
        pl.col("ts_ns").min().alias("first_ns"),
        pl.col("ts_ns").max().alias("last_ns"),
    ).with_columns(rate)


def event_stats(table: TraceTable, sort: str | None = None, top: int | None = None,
                strict: bool = True) -> dict[str, pl.DataFrame]:
    """``events`` (per event type), ``tasks`` (per comm-pid), ``cpus``, ``summary`` (one row)
    and ``health`` (the windows where the trace is incomplete)."""
    ev = table.events
    first, last = span(ev)
    span_ns = None if first is None else last - first
    rate = _rate(span_ns, _counter_clock(table))

    per_event = _counted(ev, ["event"], rate).select(
        "event", "count", "rate_per_s", "first_ns", "last_ns"
    )
    tasks = task_names(ev)
    per_task = (
        _counted(ev.filter(pl.col("pid").is_not_null()), ["pid"], rate)
        .join(
            ev.filter(pl.col("pid").is_not_null()).group_by("pid").agg(
                pl.col("event").n_unique().cast(pl.UInt32).alias("event_types"),
                pl.col("cpu").n_unique().cast(pl.UInt32).alias("cpus"),
            ),
            on="pid",
        )
        .join(tasks, on="pid", how="left")
        .select("task", "pid", "count", "rate_per_s", "event_types", "cpus", "first_ns", "last_ns")
    )
    per_cpu = (
        _counted(ev, ["cpu"], rate)
        .join(ev.group_by("cpu").agg(pl.col("pid").n_unique().cast(pl.UInt32).alias("tasks")),
              on="cpu", nulls_equal=True)
        .select("cpu", "count", "rate_per_s", "tasks", "first_ns", "last_ns")
    )
    out = {
        "events": sort_top(per_event, ["event"], "count", sort, SORT_ALIASES, top, strict),
        "tasks": sort_top(per_task, ["pid"], "count", sort, SORT_ALIASES, top, strict),
        "cpus": sort_top(per_cpu, ["cpu"], "count", sort, SORT_ALIASES, top, strict),
    }
    out["summary"] = summary(table, first, last)
    out["health"] = table.health.sort("start_ns", "cpu", nulls_last=False, maintain_order=True)
    return out


def summary(table: TraceTable, first: int | None = None, last: int | None = None) -> pl.DataFrame:
    """One row: files, lines, events, non-event and malformed lines, span, overall rate, CPUs,
    tasks, event types, incomplete windows by kind and the number of lost events known."""
    ev = table.events
    if first is None and not ev.is_empty():
        first, last = span(ev)
    span_ns = None if first is None else last - first
    health = table.health
    lost = health.filter(pl.col("kind") == "lost")["detail"].str.extract(r"(\d+) events lost", 1)
    counter = _counter_clock(table)
    row = {
        "files": len(table.files),
        "lines": sum(f.lines for f in table.files),
        "events": ev.height,
        "non_event_lines": sum(sum(f.non_events.values()) for f in table.files),
        "malformed_lines": sum(len(f.malformed) for f in table.files),
        "clock": "counter" if counter else "ns",
        "first_ns": first,
        "last_ns": last,
        "span_ns": span_ns,
        "rate_per_s": (ev.height * 1e9 / span_ns) if span_ns and not counter else None,
        "cpus": ev["cpu"].n_unique() if ev.height else 0,
        "tasks": ev["pid"].drop_nulls().n_unique() if ev.height else 0,
        "event_types": ev["event"].n_unique() if ev.height else 0,
        "lost_windows": int((health["kind"] == "lost").sum()),
        "lost_events": int(lost.cast(pl.Int64).sum() or 0),
        "overwritten": int(health["kind"].is_in(["overwritten", "buffer_started"]).sum()),
        "time_backwards": int((health["kind"] == "time_backwards").sum()),
        "out_of_order": sum(f.out_of_order for f in table.files),
    }
    schema = {k: pl.Int64 for k in row} | {"clock": pl.String, "rate_per_s": pl.Float64}
    return pl.DataFrame([row], schema=schema)
