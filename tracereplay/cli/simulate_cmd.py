"""`tracereplay simulate`: write a simulated trace of a GPUVM review-thread scenario."""

from __future__ import annotations

import click

from ..simulate import SCENARIOS, names, simulate


@click.command("simulate")
@click.argument("scenario", required=False)
@click.option("--seed", type=int, default=1, show_default=True, help="Picks the interleaving of the racing tasks.")
@click.option("--variant", type=click.Choice(["buggy", "correct"]), default=None,
              help="Variant to write (default: buggy, or correct for a NAME-fixed).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write the trace here instead of stdout.")
@click.option("--list", "list_", is_flag=True, help="List the scenarios and exit.")
def command(scenario, seed, variant, output, list_) -> None:
    """Write a complete trace of SCENARIO (NAME or NAME-fixed); see --list."""
    if list_ or scenario is None:
        if scenario is None and not list_:
            raise click.UsageError("give a SCENARIO or --list")
        for name in names():
            base = name.removesuffix("-fixed")
            sc = SCENARIOS[base]
            what = "correct variant" if name.endswith("-fixed") else f"buggy: {sc.rule}"
            click.echo(f"{name:<26} {what}")
            if not name.endswith("-fixed"):
                click.echo(f"{'':<26} {sc.summary}")
        return
    text = simulate(scenario, seed, variant)
    if output:
        with open(output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        click.echo(text, nl=False)
