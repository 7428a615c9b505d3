"""`tracereplay slice`: a smaller trace of the selected events, in the same text format."""

from __future__ import annotations

import sys

import click

from .. import api


@click.command("slice")
@click.argument("trace")
@click.option("--from", "since", metavar="SECONDS", help="Only events at or after this time (e.g. 12.345678).")
@click.option("--to", "until", metavar="SECONDS", help="Only events at or before this time.")
@click.option("--task", multiple=True, help="Only events of this task (comm-pid, pid or comm); repeatable.")
@click.option("--cpu", multiple=True, type=int, help="Only events on this CPU; repeatable.")
@click.option("--event", "events", multiple=True, metavar="PATTERN",
              help="Only events whose name matches this glob (lock_*, a,b); repeatable.")
@click.option("-o", "--output", "out", default="-", show_default=True, metavar="FILE",
              help="Where to write the slice ('-': standard output).")
def command(trace, since, until, task, cpu, events, out) -> None:
    """Write the selected events of TRACE as a smaller trace: the original lines under the
    file's header, so it parses back to exactly those events."""
    res = api.slice_trace(trace, None if out == "-" else out, since=since, until=until, task=list(task),
                          cpu=list(cpu), event=list(events))
    if out == "-":
        sys.stdout.write(res.text)
    click.echo(f"kept {res.events} of {res.total} events", err=True)
