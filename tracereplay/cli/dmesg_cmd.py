"""`tracereplay dmesg LOG...`: list the kernel reports (lockdep, refcount, KASAN, WARN) in logs."""

from __future__ import annotations

import json
import sys

import click

from tracereplay.kernlog import Report, read_log


def _text(rep: Report) -> str:
    out = [f"{rep.file}:{rep.line}: {rep.kind}: {rep.title}"]
    if rep.corrupted:
        out.append(f"  corrupted: {rep.corrupted_reason}")
    if rep.task is not None:
        out.append(f"  task: {rep.task}/{rep.pid}")
    for entry in rep.lock_chain:
        sites = ", ".join(entry["sites"][:3])
        out.append(f"  -> #{entry['index']} {entry['name']} {{{entry['usage']}}}"
                   + (f" at {sites}" if sites else ""))
    return "\n".join(out)


def _group(reports: list[Report]) -> list[dict]:
    groups: dict[str, dict] = {}
    for rep in reports:
        g = groups.get(rep.title)
        where = f"{rep.file}:{rep.line}"
        if g is None:
            groups[rep.title] = {"title": rep.title, "kind": rep.kind, "count": 1,
                                 "first": where, "last": where}
        else:
            g["count"] += 1
            g["last"] = where
    return list(groups.values())


@click.command("dmesg")
@click.argument("logs", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="text blocks or JSON Lines (one report per line)")
@click.option("--group", is_flag=True, help="deduplicate by title across all logs")
def command(logs: tuple[str, ...], fmt: str, group: bool) -> None:
    """List the kernel reports in LOG... (exit 1 when any report is found)."""
    reports: list[Report] = []
    for log in logs:
        reports.extend(read_log(log))
    if group:
        for g in _group(reports):
            if fmt == "json":
                click.echo(json.dumps(g, sort_keys=True))
            else:
                click.echo(f"{g['count']:5d}  {g['title']}  (first {g['first']}, last {g['last']})")
    else:
        for i, rep in enumerate(reports):
            if fmt == "json":
                click.echo(json.dumps(rep.to_dict(), sort_keys=True))
            else:
                if i:
                    click.echo("")
                click.echo(_text(rep))
    sys.exit(1 if reports else 0)
