"""`tracereplay check`: replay each capture through the models and report findings."""

from __future__ import annotations

import sys

import click

from .. import api
from ..findings import severity_rank
from ..report.jsonl import to_jsonl
from ..report.text import format_finding, summary
from .common import report_malformed


@click.command("check")
@click.argument("traces", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="json: JSON Lines, one finding per line.")
@click.option("--fail-on", type=click.Choice(["error", "warning", "info"]), default="error", show_default=True,
              help="Exit 1 when a finding is at or above this severity.")
@click.option("--mapping", "mappings", multiple=True, metavar="TOML", help="Extra event-to-model mappings.")
@click.option("--select", multiple=True, metavar="RULE", help="Only these rules (IDs or prefixes).")
@click.option("--ignore", multiple=True, metavar="RULE", help="Drop these rules (IDs or prefixes).")
@click.option("-q", "--quiet", is_flag=True, help="No summary line.")
def command(traces, fmt, fail_on, mappings, select, ignore, quiet) -> None:
    """Check each TRACE (one capture per file) and report every broken invariant."""
    failing = 0
    for path in traces:
        res = api.check([path], mappings=list(mappings), select=list(select), ignore=list(ignore))
        report_malformed(res.table)
        if fmt == "json":
            sys.stdout.write(to_jsonl(res.findings))
        else:
            for f in res.findings:
                click.echo(format_finding(f))
                click.echo("")
            if not quiet:
                t = res.table
                click.echo(summary(res.findings, len(t.events), sum(f.lines for f in t.files), len(t.files),
                                   sum(len(f.malformed) for f in t.files)), err=fmt == "json")
        failing += sum(1 for f in res.findings if severity_rank(f.severity) >= severity_rank(fail_on))
    sys.exit(1 if failing else 0)
