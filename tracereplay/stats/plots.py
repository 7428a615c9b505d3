"""PNG plots of the statistics: lock wait and hold time histograms, dma_fence emit->signal
latency histogram and a per-CPU event timeline (events per time bin and CPU).

Rendered with matplotlib's Agg canvas directly (no pyplot, no display, no network); matplotlib
is the optional ``plot`` extra.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ..errors import UsageError
from ..table import TraceTable
from .common import ordered
from .fences import fences
from .locks import hold_pairs, lock_events, wait_pairs

PLOTS = ("lock_wait.png", "lock_hold.png", "fence_latency.png", "cpu_timeline.png")
_MISSING = "--plot needs matplotlib: pip install 'tracereplay[plot]'"
_GROUPS = 6  # series per histogram; the rest is "other"
_TIME_BINS = 200


def require_matplotlib() -> None:
    """UsageError unless matplotlib can be imported (check before doing the work)."""
    _matplotlib()


def _matplotlib():
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:
        raise UsageError(_MISSING) from e
    return Figure, FigureCanvasAgg


def _figure(title: str):
    Figure, Canvas = _matplotlib()
    fig = Figure(figsize=(9, 5), dpi=100)
    Canvas(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.set_title(title)
    return fig, ax


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, format="png")
    return path


def _histogram(values: pl.DataFrame, group: str, value: str, title: str, what: str, path: Path) -> Path:
    """Stacked histogram (in us) of `value`, one series for each of the most frequent groups."""
    import numpy as np

    fig, ax = _figure(title)
    values = values.filter(pl.col(value).is_not_null())
    if values.is_empty():
        ax.text(0.5, 0.5, f"no {what} in this trace", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_axis_off()
        return _save(fig, path)
    top = (values.group_by(group).agg(pl.len().alias("n"))
           .sort(["n", group], descending=[True, False], nulls_last=True).head(_GROUPS)[group])
    values = values.with_columns(
        pl.when(pl.col(group).is_in(top.implode())).then(pl.col(group)).otherwise(pl.lit("other"))
        .fill_null("(none)").alias("_series"),
        (pl.col(value).cast(pl.Float64) / 1000.0).alias("_us"),
    )
    us = values["_us"].to_numpy()
    positive = us[us > 0]
    log = positive.size > 0 and positive.max() / positive.min() >= 100
    if log:
        bins = np.geomspace(positive.min(), positive.max() * 1.001, 50)
        ax.set_xscale("log")
    else:
        bins = np.linspace(us.min(), max(us.max(), us.min() + 1e-3), 50)
    labels = [s for s in list(top.fill_null("(none)")) + ["other"] if s in set(values["_series"])]
    data = [np.clip(values.filter(pl.col("_series") == s)["_us"].to_numpy(), bins[0], None)
            for s in labels]
    ax.hist(data, bins=bins, stacked=True, label=[str(s)[:40] for s in labels])
    ax.set_xlabel("microseconds" + (" (log; 0 shown in the first bin)" if log else ""))
    ax.set_ylabel("count")
    ax.legend(fontsize="small")
    return _save(fig, path)


def _timeline(events: pl.DataFrame, path: Path) -> Path:
    import numpy as np

    fig, ax = _figure("events per CPU over time")
    ev = events.filter(pl.col("cpu").is_not_null() & pl.col("ts_ns").is_not_null())
    if ev.is_empty():
        ax.text(0.5, 0.5, "no events with a CPU", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return _save(fig, path)
    first, last = ev["ts_ns"].min(), ev["ts_ns"].max()
    width = max((last - first) / _TIME_BINS, 1)
    cpus = sorted(ev["cpu"].unique().to_list())
    row = {c: i for i, c in enumerate(cpus)}
    counts = ev.group_by(
        "cpu", ((pl.col("ts_ns") - first) / width).floor().cast(pl.Int64).clip(0, _TIME_BINS - 1).alias("bin")
    ).agg(pl.len().alias("n"))
    grid = np.zeros((len(cpus), _TIME_BINS))
    for cpu, b, n in counts.iter_rows():  # one row per (cpu, bin): at most cpus x 200
        grid[row[cpu], b] = n
    span_s = (last - first) / 1e9
    img = ax.imshow(grid, aspect="auto", interpolation="nearest", origin="lower", cmap="viridis",
                    extent=(0, span_s if span_s > 0 else 1e-6, -0.5, len(cpus) - 0.5))
    ax.set_yticks(range(len(cpus)))
    ax.set_yticklabels([str(c) for c in cpus])
    ax.set_xlabel(f"seconds after {first / 1e9:.6f}")
    ax.set_ylabel("CPU")
    fig.colorbar(img, ax=ax, label=f"events per {width / 1e3:.1f} us")
    return _save(fig, path)


def write_plots(table: TraceTable, outdir: str | Path) -> list[Path]:
    """Write the PNGs of PLOTS into `outdir` (created if needed) and return their paths.

    A plot with nothing to show still gets a file saying so.
    """
    _matplotlib()
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    ev = ordered(table.events)
    rows = lock_events(ev)
    waits = wait_pairs(ev, rows)
    holds = hold_pairs(ev, rows)
    fl = fences(ev).with_columns((pl.col("driver") + " " + pl.col("timeline")).alias("fence_tl"))
    return [
        _histogram(waits, "name", "wait_ns", "lock wait time (contended -> acquired)",
                   "lock waits", out / PLOTS[0]),
        _histogram(holds, "name", "hold_ns", "lock hold time (acquire -> release)",
                   "lock acquire/release pairs", out / PLOTS[1]),
        _histogram(fl, "fence_tl", "latency_ns", "dma_fence latency (emit -> signaled)",
                   "emitted and signalled fences", out / PLOTS[2]),
        _timeline(ev, out / PLOTS[3]),
    ]
