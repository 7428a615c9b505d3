"""`tracereplay export`: the capture and its findings for a timeline viewer."""

from __future__ import annotations

from collections import Counter

import click

from .. import api
from .common import report_malformed


@click.command("export")
@click.argument("trace")
@click.option("--perfetto", "out", required=True, metavar="OUT.json",
              help="Write the Chrome JSON trace-event format (Perfetto UI, chrome://tracing).")
@click.option("--mapping", "mappings", multiple=True, metavar="TOML", help="Extra event-to-model mappings.")
def command(trace, out, mappings) -> None:
    """Export TRACE for a timeline viewer: lock hold and wait spans per task, fence emit ->
    signal spans per timeline, object lifetimes, and every finding as an instant event carrying
    its rule and evidence lines."""
    res, data = api.export_perfetto([trace], out, mappings=list(mappings))
    report_malformed(res.table)
    n = Counter(e.get("cat") for e in data["traceEvents"] if e["ph"] in ("X", "b", "i"))
    click.echo(f"{out}: {n['lock.hold']} lock holds, {n['lock.wait']} lock waits, {n['dma_fence']} fences, "
               f"{n['object']} objects, {n['finding']} findings", err=True)
