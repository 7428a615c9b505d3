"""`tracereplay explain RULE`: a rule's documentation."""

from __future__ import annotations

import textwrap

import click

from ..errors import UsageError
from ..rules import catalogue


@click.command("explain")
@click.argument("rule_id", metavar="RULE")
def command(rule_id: str) -> None:
    """Print the documentation of RULE (an ID from `tracereplay rules`)."""
    rules = catalogue()
    r = rules.get(rule_id) or rules.get(rule_id.upper())
    if r is None:
        near = sorted(i for i in rules if i.startswith(rule_id.upper().rstrip("*")))
        hint = f" (did you mean {', '.join(near)}?)" if near else " (see `tracereplay rules`)"
        raise UsageError(f"unknown rule {rule_id!r}{hint}")
    click.echo(f"{r.id}: {r.title}")
    click.echo(f"severity: {r.severity}")
    click.echo(f"family:   {r.family}")
    click.echo(f"mirrors:  {r.kernel}")
    click.echo("")
    click.echo(textwrap.fill(r.doc, width=78))
