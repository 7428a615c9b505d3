"""What a trace holds: line accounting, time span, CPUs, tasks, event counts, health."""

from __future__ import annotations

import polars as pl

from .table import TraceTable


def describe(table: TraceTable) -> dict:
    ev = table.events
    span = None
    if len(ev) and ev["ts_ns"].null_count() < len(ev):
        span = (int(ev["ts_ns"].min()), int(ev["ts_ns"].max()))
    counts = ev.group_by("event").len().sort(["len", "event"], descending=[True, False])
    tasks = ev.filter(pl.col("pid").is_not_null()).select("comm", "pid").unique().height
    return {
        "files": [
            {
                "path": f.path, "lines": f.lines, "events": f.events, "non_events": f.non_events,
                "malformed": len(f.malformed), "clock": f.clock, "entries": f.entries,
                "cpus_header": f.cpus_header, "out_of_order": f.out_of_order,
            }
            for f in table.files
        ],
        "events": len(ev),
        "span_ns": span,
        "cpus": sorted(c for c in ev["cpu"].unique().to_list() if c is not None),
        "tasks": tasks,
        "event_counts": dict(zip(counts["event"].to_list(), counts["len"].to_list(), strict=True)),
        "health": table.health.to_dicts(),
    }
