"""`tracereplay reduce`: shrink a trace to a minimal reproduction of one finding."""

from __future__ import annotations

import sys

import click
from tqdm import tqdm

from .. import api


@click.command("reduce")
@click.argument("trace")
@click.option("--finding", "fingerprint", required=True, metavar="FINGERPRINT",
              help="The finding's fingerprint (as `check --format json` prints it).")
@click.option("-o", "--output", "out", default="-", show_default=True, metavar="FILE",
              help="Where to write the reduced trace ('-': standard output).")
@click.option("--mapping", "mappings", multiple=True, metavar="TOML", help="Extra event-to-model mappings.")
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: on a terminal).")
def command(trace, fingerprint, out, mappings, progress) -> None:
    """Shrink TRACE to a minimal subset of its events that still produces the finding FINGERPRINT
    (delta debugging), written as the original lines under the file's header."""
    show = sys.stderr.isatty() if progress is None else progress
    bar = tqdm(desc="reduce", unit=" replays", file=sys.stderr, disable=not show, leave=False)

    def step(tests: int, size: int) -> None:
        bar.update(1)
        bar.set_postfix(events=size, refresh=False)

    try:
        res = api.reduce_trace(trace, fingerprint, None if out == "-" else out, mappings=list(mappings),
                               progress=step)
    finally:
        bar.close()
    if out == "-":
        sys.stdout.write(res.text)
    f = res.finding
    click.echo(f"reduced {res.before} events ({res.consumed} consumed by a model) to {res.after} "
               f"in {res.tests} replays; {f.rule} {f.fingerprint}: {f.title}", err=True)
