"""Bits the commands share: options and the report of malformed lines."""

from __future__ import annotations

import click

from ..table import TraceTable


def report_malformed(table: TraceTable, limit: int = 20) -> None:
    """Malformed lines go to stderr as file:line: reason (the first few, then a count)."""
    shown = 0
    total = sum(len(f.malformed) for f in table.files)
    for f in table.files:
        for line, reason in f.malformed:
            if shown < limit:
                click.echo(f"{f.path}:{line}: malformed: {reason}", err=True)
                shown += 1
    if total > shown:
        click.echo(f"... and {total - shown} more malformed lines", err=True)


def fmt_ts(ns: int | None) -> str:
    return "-" if ns is None else f"{ns // 1_000_000_000}.{ns % 1_000_000_000:09d}"
