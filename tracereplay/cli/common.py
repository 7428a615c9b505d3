"""Bits the commands share: options and the report of malformed lines."""

from __future__ import annotations

import click

from ..table import TraceTable

MALFORMED_SHOWN = 20


def echo_malformed(sample: list[tuple[str, int, str]], total: int, limit: int = MALFORMED_SHOWN) -> None:
    """Malformed lines go to stderr as file:line: reason (the first few, then a count)."""
    for path, line, reason in sample[:limit]:
        click.echo(f"{path}:{line}: malformed: {reason}", err=True)
    shown = min(len(sample), limit)
    if total > shown:
        click.echo(f"... and {total - shown} more malformed lines", err=True)


def report_malformed(table: TraceTable) -> None:
    """The malformed lines of a loaded capture, as echo_malformed prints them."""
    sample = [(f.path, line, reason) for f in table.files for line, reason in f.malformed][:MALFORMED_SHOWN]
    echo_malformed(sample, sum(len(f.malformed) for f in table.files))

