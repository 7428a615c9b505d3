"""The library facade: read -> parse -> table -> replay -> findings/statistics.

The CLI and notebooks both call these functions; nothing here prints.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from .engine import replay
from .findings import Finding, severity_rank
from .table import TraceTable, load_table


@dataclass
class CheckResult:
    table: TraceTable
    findings: list[Finding]

    def at_or_above(self, severity: str) -> list[Finding]:
        return [f for f in self.findings if severity_rank(f.severity) >= severity_rank(severity)]


def filter_rules(findings: list[Finding], select: list[str] | None, ignore: list[str] | None) -> list[Finding]:
    """Keep findings whose rule matches --select (IDs or ID prefixes) and not --ignore."""
    def match(rule: str, pats: list[str]) -> bool:
        return any(rule == p or rule.startswith(p.rstrip("*")) for p in pats)

    out = findings
    if select:
        out = [f for f in out if match(f.rule, select)]
    if ignore:
        out = [f for f in out if not match(f.rule, ignore)]
    return out


def check_table(table: TraceTable, *, mappings: list[str] | None = None, select: list[str] | None = None,
                ignore: list[str] | None = None) -> CheckResult:
    return CheckResult(table, filter_rules(replay(table, mappings=mappings), select, ignore))


def check(paths: list[str], **kw) -> CheckResult:
    """Check one capture (one or more files of one trace)."""
    return check_table(load_table(paths), **kw)


def findings_frame(findings: list[Finding]) -> pl.DataFrame:
    rows = [
        {
            "rule": f.rule, "severity": f.severity, "title": f.title, "file": f.file, "line": f.line,
            "ts_ns": f.ts_ns, "task": f.task, "cpu": f.cpu, "objects": f.objects,
            "evidence": [f"{e.file}:{e.line}" for e in f.evidence], "fingerprint": f.fingerprint,
            "incomplete": f.incomplete,
        }
        for f in findings
    ]
    schema = {
        "rule": pl.String, "severity": pl.String, "title": pl.String, "file": pl.String, "line": pl.Int64,
        "ts_ns": pl.Int64, "task": pl.String, "cpu": pl.Int64, "objects": pl.List(pl.String),
        "evidence": pl.List(pl.String), "fingerprint": pl.String, "incomplete": pl.String,
    }
    return pl.DataFrame(rows, schema=schema)


class Trace:
    """A loaded capture for notebooks: ``tracereplay.load(path).events``, ``.check()``."""

    def __init__(self, table: TraceTable) -> None:
        self.table = table

    @property
    def events(self) -> pl.DataFrame:
        return self.table.events

    def findings(self, **kw) -> list[Finding]:
        return check_table(self.table, **kw).findings

    def check(self, **kw) -> pl.DataFrame:
        return findings_frame(self.findings(**kw))


def load(*paths: str) -> Trace:
    return Trace(load_table(list(paths)))
