"""The command line: thin commands that parse options and call tracereplay.api.

Each command lives in its own module in this package and exposes a click command named
``command``; the modules are listed in ``COMMAND_MODULES``.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from ..errors import InputError, UsageError

COMMAND_MODULES = [
    "parse_cmd",
    "info_cmd",
    "check_cmd",
    "dmesg_cmd",
    "stats_cmd",
    "history_cmd",
    "slice_cmd",
    "reduce_cmd",
    "export_cmd",
    "rules_cmd",
    "explain_cmd",
    "probes_cmd",
    "simulate_cmd",
]


class _Group(click.Group):
    """Turns library errors into one line on stderr and exit status 2, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (InputError, UsageError) as e:
            click.echo(f"tracereplay: error: {e}", err=True)
            sys.exit(2)
        except BrokenPipeError:
            sys.exit(0)
        except (click.exceptions.Exit, click.exceptions.ClickException, click.exceptions.Abort):
            raise  # click's own exits and usage errors (exit 2)
        except Exception as e:  # a bug of ours: one line, and the traceback only on request
            if os.environ.get("TRACEREPLAY_DEBUG"):
                raise
            click.echo(f"tracereplay: internal error: {type(e).__name__}: {e} "
                       "(set TRACEREPLAY_DEBUG=1 for the traceback)", err=True)
            sys.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tracereplay")
def main() -> None:
    """Replay kernel traces and logs through shadow models and report broken invariants."""


for _name in COMMAND_MODULES:
    main.add_command(importlib.import_module(f"{__name__}.{_name}").command)
