"""Summaries of a gate run: the line `tracereplay check` ends with, and a short markdown one for
a CI merge-request comment."""

from __future__ import annotations

from ..gate import Outcome
from .text import summary

MAX_ROWS = 20


def count(n: int, one: str, many: str | None = None) -> str:
    """"1 capture", "3 captures", "2 stale baseline entries"."""
    return f"{n} {one if n == 1 else many or one + 's'}"


def _cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def summary_line(outcome: Outcome) -> str:
    """The one line `tracereplay check` ends with: findings by severity, what was read, and the
    gate's verdicts (baseline, kernel reports, captures that could not be checked)."""
    res = outcome.results
    findings = [f for r in res for f in r.findings]
    line = summary(findings, sum(r.events for r in res), sum(r.lines for r in res), sum(r.files for r in res),
                   sum(r.malformed for r in res))
    if len(res) != 1:
        line = f"{len(res)} captures: {line}"
    s = outcome.summary()
    if outcome.baseline is not None:
        line += f"; {s['new']} new, {s['known']} known (baseline)"
        if s["stale"]:
            line += f"; {count(s['stale'], 'stale baseline entry', 'stale baseline entries')}"
    if s["reports"]:
        line += f"; {count(s['reports'], 'kernel report')} in kernel logs"
    if s["errors"]:
        line += f"; {count(s['errors'], 'capture')} could not be checked"
    if outcome.skipped:
        line += f"; {count(len(outcome.skipped), 'file')} skipped (neither trace nor log)"
    return line


def to_markdown(outcome: Outcome) -> str:
    s = outcome.summary()
    code = outcome.exit_code
    verdict = {0: "passed", 1: "failed", 2: "could not check every capture"}[code]
    out = [f"### tracereplay: {verdict}", ""]
    line = f"{count(s['captures'], 'capture')} checked: {count(s['findings'], 'finding')}"
    if outcome.baseline is not None:
        line += f" ({s['new']} new, {s['known']} known)"
    line += f", {s['failing']} failing at or above `{outcome.fail_on}`"
    if s["errors"]:
        line += f", {s['errors']} unreadable"
    if s["stale"]:
        line += f", {count(s['stale'], 'stale baseline entry', 'stale baseline entries')}"
    if s["reports"]:
        line += f", {count(s['reports'], 'kernel report')} in kernel logs"
    out += [line + ".", ""]
    failing = [f for r in outcome.results for f in outcome.failures(r)]
    if failing:
        out += ["| Rule | Severity | Finding | Location | Fingerprint |", "|---|---|---|---|---|"]
        for f in failing[:MAX_ROWS]:
            out.append(f"| `{f.rule}` | {f.severity} | {_cell(f.title)} | `{_cell(f.file)}:{f.line}` "
                       f"| `{f.fingerprint}` |")
        if len(failing) > MAX_ROWS:
            out.append(f"\n... and {len(failing) - MAX_ROWS} more.")
        out.append("")
    if outcome.errored:
        out.append("Captures that could not be checked:")
        out += [f"- `{_cell(r.name)}`: {_cell('; '.join(r.errors))}" for r in outcome.errored[:MAX_ROWS]]
        out.append("")
    if outcome.stale:
        out.append("Stale baseline entries (no longer found; remove them with `--update-baseline`):")
        out += [f"- `{e.fingerprint}` [{e.rule}] {_cell(e.title)}" for e in outcome.stale[:MAX_ROWS]]
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"
