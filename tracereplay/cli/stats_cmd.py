"""`tracereplay stats`: lock hold/wait times, fence latency, event rates and object lifetimes."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import UsageError
from ..stats import BY, SECTIONS, compute_stats
from ..stats.render import FORMATS, render, write_parquet
from ..table import load_table
from .common import report_malformed

_SORT_HELP = ("sort key, largest first: acquired, contended, avg_wait, wait_total, wait_max, "
              "wait_min, hold_total, hold_max, avg_hold, count, or any column "
              "(default: acquisitions / counts)")


def _notes(frames: dict, by: str) -> dict[str, str]:
    notes = {"locks": f"by {by}; times in ns", "fences": "times in ns",
             "objects": f"by {by}; lifetimes in ns, sizes in bytes"}
    return {k: v for k, v in notes.items() if k in frames}


@click.command("stats")
@click.argument("traces", nargs=-1, required=True)
@click.option("--section", type=click.Choice(SECTIONS + ("all",)), default="all", show_default=True,
              help="which statistics")
@click.option("--by", type=click.Choice(BY), default="class", show_default=True,
              help="group locks (and objects) by class, instance (address / call site), task or cpu")
@click.option("--sort", "sort", default=None, metavar="KEY", help=_SORT_HELP)
@click.option("--top", type=click.IntRange(min=0), default=None, metavar="N",
              help="keep the first N rows of each table")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("-o", "--output", default=None, metavar="FILE",
              help="write to FILE instead of stdout (needed for parquet; several tables go to "
                   "FILE-<table>.parquet)")
@click.option("--plot", "plot_dir", default=None, metavar="DIR",
              help="also write PNG histograms and a per-CPU timeline into DIR (needs matplotlib)")
def command(traces: tuple[str, ...], section: str, by: str, sort: str | None, top: int | None,
            fmt: str, output: str | None, plot_dir: str | None) -> None:
    """Statistics of TRACE... (one capture, possibly split into files)."""
    if fmt == "parquet" and output is None:
        raise UsageError("--format parquet needs -o FILE")
    if plot_dir is not None:
        from ..stats.plots import require_matplotlib, write_plots

        require_matplotlib()
    table = load_table(list(traces))
    report_malformed(table)
    frames = compute_stats(table, section=section, by=by, sort=sort, top=top)
    if plot_dir is not None:
        for path in write_plots(table, plot_dir):
            click.echo(f"wrote {path}", err=True)
    if fmt == "parquet":
        for path in write_parquet(frames, output):
            click.echo(f"wrote {path}", err=True)
        return
    text = render(frames, fmt, _notes(frames, by))
    if output is None:
        click.echo(text, nl=False)
    else:
        Path(output).write_text(text)
        click.echo(f"wrote {output}", err=True)
