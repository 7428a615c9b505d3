"""dma_fence statistics per driver and timeline.

A fence is identified by (context, seqno), never by its names: from about 6.17 the names read
``detached-driver`` / ``signaled-timeline`` once the fence is signalled (kernel-spec 2.2), so a
fence's driver and timeline are taken from its init or emit event (else from its first event
with real names, else from its first event).  Pre-4.10 ``fence_*`` events count the same.

- latency: ``emit`` -> first ``signaled`` of the fence (fences without both are left out);
- wait: ``wait_start`` -> the next ``wait_end`` of the same fence in the same context;
- unsignaled: fences with no ``signaled`` and no ``destroy`` event and never shown with the
  signalled placeholder names, i.e. still pending when the trace ends.
"""

from __future__ import annotations

import polars as pl

from ..parse.fields import FENCE_EVENTS
from .common import (
    ORDER,
    context_exprs,
    duration_columns,
    fill_counts,
    ordered,
    pair_next,
    sort_top,
    summarize,
)

PLACEHOLDER_DRIVER = "detached-driver"
PLACEHOLDER_TIMELINE = "signaled-timeline"
BY_KEYS = {"class": ["driver", "timeline"], "instance": ["driver", "timeline", "context"]}
SORT_ALIASES = {
    "count": "fences",
    "avg_latency": "latency_mean",
    "avg_wait": "wait_mean",
}
_FENCE = ["context", "seqno"]


def fence_events(events: pl.DataFrame) -> pl.DataFrame:
    """The dma_fence rows with ``kind`` (init, emit, signaled, wait_start, ...)."""
    ev = ordered(events)
    rows = ev.filter(pl.col("event").is_in(FENCE_EVENTS) & pl.col("context").is_not_null())
    return rows.select(
        ORDER, "ts_ns", "cpu", "pid", "event", "driver", "timeline", "context", "seqno",
        *context_exprs(),
    ).with_columns(kind=pl.col("event").str.replace(r"^(?:dma_)?fence_", ""))


def fences(events: pl.DataFrame, rows: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per fence: names, emit/signal stamps, ``latency_ns`` and its state at the end."""
    rows = fence_events(events) if rows is None else rows
    kind = pl.col("kind")
    real = (pl.col("driver") != PLACEHOLDER_DRIVER) & (pl.col("timeline") != PLACEHOLDER_TIMELINE)
    origin = kind.is_in(["init", "emit"])
    per = rows.group_by(_FENCE, maintain_order=True).agg(
        pl.coalesce(pl.col("driver").filter(origin).first(), pl.col("driver").filter(real).first(),
                    pl.col("driver").first()).alias("driver"),
        pl.coalesce(pl.col("timeline").filter(origin).first(),
                    pl.col("timeline").filter(real).first(),
                    pl.col("timeline").first()).alias("timeline"),
        pl.col("ts_ns").filter(kind == "emit").first().alias("emit_ts"),
        pl.col("ts_ns").filter(kind == "signaled").first().alias("signal_ts"),
        (kind == "emit").any().alias("emitted"),
        (kind == "signaled").any().alias("signaled"),
        (kind == "destroy").any().alias("destroyed"),
        (~real).fill_null(False).any().alias("placeholder"),
    )
    lat = pl.col("signal_ts") - pl.col("emit_ts")
    return per.with_columns(
        pl.when(lat >= 0).then(lat).alias("latency_ns"),
        (~pl.col("signaled") & ~pl.col("destroyed") & ~pl.col("placeholder")).alias("unsignaled"),
    )


def fence_waits(events: pl.DataFrame, rows: pl.DataFrame | None = None) -> pl.DataFrame:
    """wait_start/wait_end rows with ``matched`` and, on the starts, ``wait_ns``."""
    rows = fence_events(events) if rows is None else rows
    w = pair_next(rows.with_columns(pl.col("kind").alias("event")), "wait_start", "wait_end",
                  [*_FENCE, "ctx_kind", "ctx_id"])
    return w.with_columns(
        (pl.col("starts_pair") | pl.col("ends_pair")).alias("matched"),
        pl.when(pl.col("starts_pair")).then(pl.col("next_ts") - pl.col("ts_ns")).alias("wait_ns"),
    )


def fence_stats(events: pl.DataFrame, by: str = "class", sort: str | None = None,
                top: int | None = None, strict: bool = True) -> pl.DataFrame:
    """One row per driver and timeline (by=instance: and context); times in ns."""
    keys = BY_KEYS.get(by, BY_KEYS["class"])
    rows = fence_events(events)
    per = fences(events, rows)
    names = per.select(*_FENCE, "driver", "timeline")
    counts = per.group_by(keys).agg(
        pl.col("context").n_unique().cast(pl.UInt32).alias("contexts"),
        pl.len().cast(pl.UInt32).alias("fences"),
        pl.col("emitted").sum().cast(pl.UInt32),
        pl.col("signaled").sum().cast(pl.UInt32),
        pl.col("unsignaled").sum().cast(pl.UInt32),
    )
    lat = summarize(per.filter(pl.col("latency_ns").is_not_null()), keys, "latency_ns", "latency")
    waits = fence_waits(events, rows).drop("driver", "timeline").join(names, on=_FENCE, how="left")
    wait_s = summarize(waits.filter(pl.col("wait_ns").is_not_null()), keys, "wait_ns", "wait")
    wait_un = waits.group_by(keys).agg(
        (~pl.col("matched")).sum().cast(pl.UInt32).alias("wait_unmatched")
    )
    out = counts
    for part in (lat, wait_s, wait_un):
        out = out.join(part, on=keys, how="left", nulls_equal=True)
    out = fill_counts(out, ["latency_n", "latency_total", "wait_n", "wait_total", "wait_unmatched"])
    columns = (keys + ["contexts", "fences", "emitted", "signaled", "unsignaled"]
               + list(duration_columns("latency")) + list(duration_columns("wait"))
               + ["wait_unmatched"])
    return sort_top(out.select(columns), keys, "fences", sort, SORT_ALIASES, top, strict)
