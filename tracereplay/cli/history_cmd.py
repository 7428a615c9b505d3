"""`tracereplay history`: every event that touched one object, with the models' state after each."""

from __future__ import annotations

import sys

import click

from .. import api
from ..debug.history import object_kind
from ..report.text import fmt_ns
from .common import report_malformed


@click.command("history")
@click.argument("trace")
@click.argument("obj", metavar="OBJECT")
@click.option("--from", "since", metavar="SECONDS", help="Only events at or after this time (e.g. 12.345678).")
@click.option("--to", "until", metavar="SECONDS", help="Only events at or before this time.")
@click.option("--task", multiple=True, help="Only events of this task (comm-pid, pid or comm); repeatable.")
@click.option("--cpu", multiple=True, type=int, help="Only events on this CPU; repeatable.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv"]), default="text", show_default=True,
              help="json: JSON Lines, one event per line.")
@click.option("--mapping", "mappings", multiple=True, metavar="TOML", help="Extra event-to-model mappings.")
def command(trace, obj, since, until, task, cpu, fmt, mappings) -> None:
    """Every event of TRACE that touched OBJECT, in order, with file:line, time, task, CPU and
    the models' state of the object after each event.

    OBJECT is a lock class (&mm->mmap_lock) or instance address, a fence context:seqno, an
    address or pointer (0xffff888..., hashed 00000000ee02c684: kmem ptr, GEM/VM/vm_bo/VA
    pointers in kprobe arguments), or a task (comm-pid or pid). Exits 1 when no event touches it.
    """
    table, rows = api.history([trace], obj, since=since, until=until, task=list(task), cpu=list(cpu),
                              mappings=list(mappings))
    report_malformed(table)
    if fmt == "json":
        sys.stdout.write(rows.write_ndjson())
    elif fmt == "csv":
        sys.stdout.write(rows.write_csv())
    else:
        for r in rows.iter_rows(named=True):
            cpu_s = "---" if r["cpu"] is None else f"{r['cpu']:03d}"
            state = f"  -> {r['state']}" if r["state"] is not None else ""
            click.echo(f"{r['file']}:{r['line']}  {fmt_ns(r['ts_ns'])}  {r['task']} [{cpu_s}]  "
                       f"{r['event']}: {r['body']}{state}")
    click.echo(f"{len(rows)} events touched {obj} ({object_kind(obj)})", err=True)
    sys.exit(0 if len(rows) else 1)
