"""The library facade: read -> parse -> table -> replay -> findings/statistics.

The CLI and notebooks both call these functions; nothing here prints.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from .engine import replay
from .errors import UsageError
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
    """A loaded capture for notebooks.

    ``tracereplay.load(path)`` -> ``.events`` (the polars event table), ``.check()`` (findings as
    a DataFrame), ``.stats()``, ``.history(obj)``, ``.slice(...)``, ``.export_perfetto(out)``.
    """

    def __init__(self, table: TraceTable, paths: list[str] | None = None, *, slice_of: str | None = None) -> None:
        self.table = table
        self.paths = list(paths) if paths is not None else [f.path for f in table.files]
        self.slice_of = slice_of  # an in-memory slice has no file of its own

    def __repr__(self) -> str:
        where = f"slice of {self.slice_of}" if self.slice_of else (", ".join(self.paths) or "(no file)")
        return f"<Trace {where}: {len(self.table.events)} events>"

    def _one_file(self, what: str) -> str:
        if self.slice_of:
            raise UsageError(f"{what} needs a file: write the slice with .slice(..., out=FILE) and load it")
        if len(self.paths) != 1 or self.paths[0] in ("-", "<stdin>"):
            raise UsageError(f"{what} needs a capture loaded from exactly one file")
        return self.paths[0]

    @property
    def events(self) -> pl.DataFrame:
        return self.table.events

    def findings(self, **kw) -> list[Finding]:
        return check_table(self.table, **kw).findings

    def check(self, **kw) -> pl.DataFrame:
        return findings_frame(self.findings(**kw))

    def stats(self, **kw) -> dict[str, pl.DataFrame]:
        """``tracereplay.stats.compute_stats`` of the capture (section=, by=, sort=, top=)."""
        try:
            from .stats import compute_stats
        except ImportError:
            raise UsageError("statistics are not available in this installation (no tracereplay.stats)") from None
        return compute_stats(self.table, **kw)

    def history(self, obj: str, **filters) -> pl.DataFrame:
        """Every event that touched ``obj`` with the models' state after each (see
        tracereplay.debug.history); filters: since=, until= (seconds), task=, cpu=, mappings=."""
        from .debug.history import history

        return history(self.table, obj, **filters)

    def slice(self, *, since=None, until=None, task=None, cpu=None, event=None,
              out: str | None = None) -> Trace:
        """The capture cut down to the selected events (times in seconds, ``task`` a comm-pid,
        pid or comm, ``cpu`` a number, ``event`` a glob such as ``lock_*``; each may be a list).
        With ``out``, write the slice as a trace file (original lines under the header) and return
        it loaded from there; without, return an in-memory slice (events, check, stats, history,
        export)."""
        from .debug.slice import select, slice_file, sub_table

        filters = dict(since=since, until=until, task=task, cpu=cpu, event=event)
        if out is not None:
            slice_file(self._one_file("writing a slice"), out, **filters)
            return load(out)
        return Trace(sub_table(self.table, select(self.table, **filters)), [],
                     slice_of=self.slice_of or ", ".join(self.paths))

    def reduce(self, fingerprint: str, out: str | None = None, **kw):
        """A minimal subset of the events that still produces the finding (ddmin); see
        tracereplay.debug.reduce.ReduceResult. One-file captures only."""
        return reduce_trace(self._one_file("reducing"), fingerprint, out, **kw)

    def export_perfetto(self, out: str, *, mappings: list[str] | None = None) -> dict:
        """Write the Chrome JSON trace-event file (Perfetto UI, chrome://tracing); returns it."""
        from .debug.perfetto import export_perfetto

        return export_perfetto(self.table, self.findings(mappings=mappings), out)


def load(*paths: str) -> Trace:
    return Trace(load_table(list(paths)), list(paths))


# -- debugging helpers the CLI calls (tracereplay/debug/) ---------------------------------------
def history(paths: list[str], obj: str, **filters) -> tuple[TraceTable, pl.DataFrame]:
    """Load a capture and return it with the history of one object."""
    from .debug.history import history as _history

    table = load_table(paths)
    return table, _history(table, obj, **filters)


def slice_trace(path: str, out: str | None = None, **filters):
    """Write the selected events of one trace file to ``out`` (see tracereplay.debug.slice)."""
    from .debug.slice import slice_file

    return slice_file(path, out, **filters)


def reduce_trace(path: str, fingerprint: str, out: str | None = None, **kw):
    """Shrink one trace file to a minimal reproduction of a finding (see tracereplay.debug.reduce)."""
    from .debug.reduce import reduce_file

    return reduce_file(path, fingerprint, out, **kw)


def export_perfetto(paths: list[str], out: str, *, mappings: list[str] | None = None) -> tuple[CheckResult, dict]:
    """Check a capture and write its Chrome JSON trace-event file (see tracereplay.debug.perfetto)."""
    from .debug.perfetto import export_perfetto as _export

    res = check(paths, mappings=mappings)
    return res, _export(res.table, res.findings, out)
