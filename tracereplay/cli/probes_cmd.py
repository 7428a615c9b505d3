"""`tracereplay probes`: print the kprobe_events definitions and recording commands of a probe kit."""

from __future__ import annotations

import click

from ..errors import UsageError
from ..probes import DEFAULT_OFFSETS, render


@click.command("probes")
@click.argument("kit", type=click.Choice(["gpuvm"]))
@click.option("--offset", "offsets", multiple=True, metavar="NAME=VALUE",
              help="Struct offset for the register fallbacks, e.g. drm_gpuvm_bo.kref=0x18 (see pahole).")
def command(kit, offsets) -> None:
    """Print the probe definitions for KIT and the tracefs/trace-cmd commands to record them."""
    off: dict[str, int] = {}
    for item in offsets:
        name, _, value = item.partition("=")
        if name not in DEFAULT_OFFSETS:
            raise UsageError(f"unknown offset {name!r} (known: {', '.join(DEFAULT_OFFSETS)})")
        try:
            off[name] = int(value, 0)
        except ValueError:
            raise UsageError(f"offset {item!r}: value is not a number") from None
    click.echo(render(off), nl=False)
