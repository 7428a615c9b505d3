"""`tracereplay rules`: the rule catalogue (ID, severity, title, the kernel rule it mirrors)."""

from __future__ import annotations

import json

import click

from ..rules import catalogue


@click.command("rules")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="json: JSON Lines, one rule per line (id, severity, title, kernel, family, doc).")
def command(fmt: str) -> None:
    """List every rule a finding can have."""
    rules = sorted(catalogue().values(), key=lambda r: (r.family, r.id))
    if fmt == "json":
        for r in rules:
            click.echo(json.dumps({"id": r.id, "severity": r.severity, "title": r.title, "kernel": r.kernel,
                                   "family": r.family, "doc": r.doc}))
        return
    width = max((len(r.id) for r in rules), default=2)
    click.echo(f"{'ID':<{width}}  {'SEVERITY':<8}  TITLE / KERNEL RULE")
    for r in rules:
        click.echo(f"{r.id:<{width}}  {r.severity:<8}  {r.title}")
        click.echo(f"{'':<{width}}  {'':<8}  mirrors: {r.kernel}")
