"""`tracereplay check PATH...`: gate a corpus of captures (files, directories, globs).

Exit status: 0 clean; 1 a finding (new, when a baseline is given) at or above --fail-on;
2 a usage error, or a capture that could not be read (the rest is still checked and reported).
"""

from __future__ import annotations

import json
import sys

import click
from tqdm import tqdm

from .. import config as _config
from .. import gate
from ..errors import InputError, UsageError
from ..report.jsonl import to_jsonl
from ..report.summary import summary_line
from ..report.text import format_finding
from ..rules import catalogue
from .common import echo_malformed


def _split(values: tuple[str, ...]) -> list[str]:
    """RULE options may repeat and may hold comma-separated lists."""
    return [v.strip() for raw in values for v in raw.split(",") if v.strip()]


def _check_patterns(option: str, patterns: list[str] | None) -> None:
    ids = catalogue()
    for p in patterns or []:
        stem = p.rstrip("*")
        if not any(r == p or r.startswith(stem) for r in ids):
            raise UsageError(f"{option} {p}: no rule has this ID or prefix (see `tracereplay rules`)")


def _write(path: str, text: str) -> None:
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        raise InputError(path, f"cannot write: {e.strerror}") from None


@click.command("check")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="json: JSON Lines, one finding per line.")
@click.option("--fail-on", type=click.Choice(list(_config.FAIL_ON)), default=None,
              help="Exit 1 when a (new) finding is at or above this severity.  [default: error]")
@click.option("--mapping", "mappings", multiple=True, metavar="TOML", help="Extra event-to-model mappings.")
@click.option("--select", multiple=True, metavar="RULE", help="Only these rules (IDs or prefixes).")
@click.option("--ignore", multiple=True, metavar="RULE", help="Drop these rules (IDs or prefixes).")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help="Worker processes (1: check in this process).  [default: all cores]")
@click.option("--baseline", metavar="FILE", default=None,
              help="Known findings (JSON); fail only on findings not in it.")
@click.option("--update-baseline", is_flag=True, help="Write every current finding to the --baseline file.")
@click.option("--json", "json_file", metavar="FILE", help="Write all results as one JSON document.")
@click.option("--junit", "junit_file", metavar="FILE", help="Write JUnit XML (one test case per capture).")
@click.option("--sarif", "sarif_file", metavar="FILE", help="Write SARIF 2.1.0.")
@click.option("--summary", "summary_file", metavar="FILE", help="Write a short markdown summary.")
@click.option("--config", "config_file", metavar="TOML", default=None,
              help="Settings file.  [default: tracereplay.toml or pyproject.toml, searched upward]")
@click.option("--dmesg", "dmesg", metavar="LOG", default=None,
              help="Pair this kernel log with the (only) trace capture, whatever its name.")
@click.option("-q", "--quiet", is_flag=True, help="No summary line and no progress bar.")
def command(paths, fmt, fail_on, mappings, select, ignore, jobs, baseline, update_baseline, json_file,
            junit_file, sarif_file, summary_file, config_file, dmesg, quiet) -> None:
    """Check every capture in PATH... (trace files, directories, globs; kernel logs are paired with
    their trace) and report every broken invariant."""
    cfg = _config.load(config_file)
    fail_on = fail_on or cfg.fail_on or "error"
    select_l = _split(select) or cfg.select or None
    ignore_l = _split(ignore) or cfg.ignore or None
    mappings_l = list(mappings) or list(cfg.mapping)
    baseline = baseline or cfg.baseline
    jobs = jobs or cfg.jobs
    _check_patterns("--select", select_l)
    _check_patterns("--ignore", ignore_l)
    if update_baseline and not baseline:
        raise UsageError("--update-baseline needs --baseline FILE (or baseline = ... in the settings)")
    known = gate.load_baseline(baseline) if baseline and not update_baseline else None

    bar = tqdm(total=0, unit="capture", file=sys.stderr, leave=False, dynamic_ncols=True, delay=0.5,
               disable=quiet or not sys.stderr.isatty())

    def progress(done: int, total: int) -> None:
        if bar.total != total:
            bar.total = total
            bar.refresh()
        bar.update(done - bar.n)

    try:
        corpus, results = gate.check_corpus(paths, jobs=jobs, mappings=mappings_l, select=select_l,
                                            ignore=ignore_l, progress=progress, log=dmesg)
    finally:
        bar.close()
    if not results:
        raise InputError(" ".join(paths), "no trace file or kernel log found")
    if update_baseline:
        known = gate.baseline_entries(results)
        gate.write_baseline(baseline, known)
    outcome = gate.evaluate(results, fail_on=fail_on, baseline=known, skipped=corpus.skipped)

    shown = [f for r in outcome.results for f in r.findings if outcome.is_new(f)]
    if fmt == "json":
        sys.stdout.write(to_jsonl(shown))
    else:
        for f in shown:
            click.echo(format_finding(f))
            click.echo("")
        for r in outcome.results:
            if r.match_text:
                click.echo(f"{r.name}: paired with {r.log}")
                click.echo(r.match_text)
                click.echo("")
                continue
            for rep in r.reports:
                click.echo(f"{r.log}:{rep['line']}: kernel report: {rep['kind']}: {rep['title']}"
                           + (f"  (capture {r.name})" if r.trace else ""))
    to_err = fmt == "json"
    echo_malformed([m for r in outcome.results for m in r.malformed_sample],
                   sum(r.malformed for r in outcome.results))
    for r in outcome.errored:
        for err in r.errors:
            click.echo(f"tracereplay: error: {err}", err=True)
    for e in outcome.stale:
        click.echo(f"stale baseline entry: {e.fingerprint} [{e.rule}] {e.title} (was in {e.capture})", err=to_err)
    if update_baseline:
        click.echo(f"wrote {len(known)} baseline entr{'ies' if len(known) != 1 else 'y'} to {baseline}", err=True)

    if json_file:
        _write(json_file, json.dumps(outcome.to_dict(), indent=2) + "\n")
    if junit_file:
        from ..report.junit import to_junit

        _write(junit_file, to_junit(outcome))
    if sarif_file:
        from ..report.sarif import to_sarif

        _write(sarif_file, json.dumps(to_sarif(outcome), indent=2) + "\n")
    if summary_file:
        from ..report.summary import to_markdown

        _write(summary_file, to_markdown(outcome))
    if not quiet:
        click.echo(summary_line(outcome), err=to_err)
    sys.exit(outcome.exit_code)
