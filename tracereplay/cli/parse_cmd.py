"""`tracereplay parse`: export the canonical event table."""

from __future__ import annotations

import sys

import click

from ..errors import UsageError
from ..table import load_table
from .common import report_malformed

_FORMATS = (".parquet", ".csv", ".jsonl", ".ndjson")


@click.command("parse")
@click.argument("traces", nargs=-1, required=True)
@click.option("-o", "--output", help="Write the table to FILE (.parquet, .csv or .jsonl); default: CSV on stdout.")
def command(traces: tuple[str, ...], output: str | None) -> None:
    """Parse TRACE... (one capture, possibly split into files) into the canonical event table."""
    table = load_table(list(traces))
    report_malformed(table)
    ev = table.events
    if output is None:
        sys.stdout.flush()
        ev.write_csv(sys.stdout.buffer)  # streamed, not built as one string
        return
    if output.endswith(".parquet"):
        ev.write_parquet(output, statistics=False)
    elif output.endswith(".csv"):
        ev.write_csv(output)
    elif output.endswith((".jsonl", ".ndjson")):
        ev.write_ndjson(output)
    else:
        raise UsageError(f"{output}: unknown output format (use one of {', '.join(_FORMATS)})")
    click.echo(f"wrote {len(ev)} events to {output}", err=True)
