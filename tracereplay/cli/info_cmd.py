"""`tracereplay info`: line accounting, time span, CPUs, tasks, event counts and health."""

from __future__ import annotations

import json

import click

from ..info import describe
from ..report.text import fmt_ns
from ..table import load_table
from .common import report_malformed


@click.command("info")
@click.argument("traces", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def command(traces: tuple[str, ...], fmt: str) -> None:
    """Describe TRACE... (one capture, possibly split into files)."""
    table = load_table(list(traces))
    d = describe(table)
    if fmt == "json":
        click.echo(json.dumps(d, indent=2))
        return
    report_malformed(table)
    for f in d["files"]:
        ne = ", ".join(f"{v} {k}" for k, v in sorted(f["non_events"].items()))
        click.echo(f"{f['path']}: {f['lines']} lines = {f['events']} events + "
                   f"{sum(f['non_events'].values())} non-events ({ne or 'none'}) + {f['malformed']} malformed")
        extra = [f"clock {f['clock']}"]
        if f["entries"]:
            extra.append(f"entries-in-buffer/entries-written {f['entries'][0]}/{f['entries'][1]}")
        if f["out_of_order"]:
            extra.append(f"{f['out_of_order']} lines out of time order (sorted)")
        click.echo("  " + "; ".join(extra))
    if d["span_ns"]:
        a, b = d["span_ns"]
        click.echo(f"time span: {fmt_ns(a)} .. {fmt_ns(b)} ({(b - a) / 1e9:.6f} s)")
    click.echo(f"cpus: {', '.join(map(str, d['cpus'])) or '-'}; tasks: {d['tasks']}; events: {d['events']}")
    click.echo("events by type:")
    for name, n in d["event_counts"].items():
        click.echo(f"  {n:>10}  {name}")
    if d["health"]:
        click.echo("trace health (incomplete windows):")
        for h in d["health"]:
            click.echo(f"  {h['file']}:{h['line']}: {h['kind']}: {h['detail']} "
                       f"[{fmt_ns(h['start_ns'])} .. {fmt_ns(h['end_ns'])}]")
    else:
        click.echo("trace health: complete (no lost events, no overwritten buffer, time monotonic per CPU)")
