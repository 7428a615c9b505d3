"""Minimal reproductions: shrink a capture to a small subset of its event lines that still
produces a finding with a given fingerprint (delta debugging, Zeller's ddmin over event lines).

Before ddmin, three cheap cuts are tried, each kept only when the finding survives it: events
that no model consumes (their event name is in no mapping) go; events after the one that
triggered the finding go; and so does everything that is not on the finding's tasks. The result
is 1-minimal: removing any single event of it loses the finding. The reduced trace is the
original raw lines of the kept events under the file's header, and it is parsed and checked
again before it is returned.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from ..engine import replay
from ..errors import UsageError
from ..findings import Finding
from ..io import display_name, read_text
from ..mapping import load_mappings
from ..parse.ftrace import parse_text
from ..table import TraceTable, build_table
from .slice import slice_lines

Progress = Callable[[int, int], None]  # (tests run, events in the current candidate)


@dataclass
class ReduceResult:
    text: str  # the reduced trace
    finding: Finding  # the finding, as the reduced trace produces it
    before: int  # events in the input
    consumed: int  # events some model consumes
    after: int  # events kept
    tests: int  # replays run
    lines: list[int]  # input line numbers of the kept events


def match_finding(findings: list[Finding], fingerprint: str) -> Finding | None:
    """The first finding whose fingerprint is ``fingerprint`` (or starts with it, from 6 hex
    digits on)."""
    fp = fingerprint.strip().lower()
    for f in findings:
        if f.fingerprint == fp or (len(fp) >= 6 and f.fingerprint.startswith(fp)):
            return f
    return None


def ddmin(items: list[int], test: Callable[[list[int]], bool]) -> list[int]:
    """Zeller's ddmin: a 1-minimal sublist of ``items`` (for which ``test`` holds)."""
    n = 2
    while len(items) >= 2:
        size = -(-len(items) // n)
        chunks = [items[k:k + size] for k in range(0, len(items), size)]
        for c in chunks:
            if test(c):
                items, n = c, 2
                break
        else:
            for k in range(len(chunks)):
                rest = [x for j, c in enumerate(chunks) if j != k for x in c]
                if test(rest):
                    items, n = rest, max(n - 1, 2)
                    break
            else:
                if n >= len(items):
                    break
                n = min(len(items), 2 * n)
    return items


class _Oracle:
    """Replays subsets of the table's rows and asks whether the finding comes back."""

    def __init__(self, table: TraceTable, fingerprint: str, mappings: list[str] | None,
                 progress: Progress | None) -> None:
        self.events = table.events
        self.files = table.files
        self.fingerprint = fingerprint
        self.mappings = mappings
        self.progress = progress
        self.cache: dict[tuple[int, ...], bool] = {}
        self.tests = 0

    def findings(self, rows: list[int]) -> list[Finding]:
        ev = self.events.select(pl.all().gather(pl.Series(sorted(rows), dtype=pl.UInt32)))
        return replay(TraceTable(ev, self.files), mappings=self.mappings)

    def __call__(self, rows: list[int]) -> bool:
        key = tuple(sorted(rows))
        if key not in self.cache:
            self.tests += 1
            self.cache[key] = match_finding(self.findings(list(key)), self.fingerprint) is not None
            if self.progress is not None:
                self.progress(self.tests, len(key))
        return self.cache[key]


def reduce_table(table: TraceTable, fingerprint: str, *, mappings: list[str] | None = None,
                 progress: Progress | None = None) -> tuple[list[int], _Oracle, Finding]:
    """Rows of a 1-minimal subset of the table that still produces the finding."""
    full = replay(table, mappings=mappings)
    target = match_finding(full, fingerprint)
    if target is None:
        known = ", ".join(f"{f.fingerprint} ({f.rule})" for f in full[:20]) or "none"
        raise UsageError(f"no finding with fingerprint {fingerprint!r} in the trace; findings: {known}")
    oracle = _Oracle(table, target.fingerprint, mappings, progress)
    ev = table.events
    rows = list(range(len(ev)))
    names = {e.event for e in load_mappings(mappings)}
    consumed = [i for i, name in enumerate(ev["event"].to_list()) if name in names]
    if consumed != rows and oracle(consumed):
        rows = consumed
    trigger = ev.with_row_index("_i").filter(
        (pl.col("file") == target.file) & (pl.col("line") == target.line))["_i"].to_list()
    if trigger:
        early = [i for i in rows if i <= trigger[0]]
        if len(early) < len(rows) and oracle(early):
            rows = early
    pids = {ev["pid"][e_row] for e_row in _evidence_rows(ev, target)}
    if pids:
        pid_list = ev["pid"].to_list()
        own = [i for i in rows if pid_list[i] in pids]
        if own and len(own) < len(rows) and oracle(own):
            rows = own
    rows = ddmin(rows, oracle)
    return rows, oracle, target


def _evidence_rows(ev: pl.DataFrame, f: Finding) -> list[int]:
    where = {(f.file, f.line)} | {(e.file, e.line) for e in f.evidence}
    ix = ev.with_row_index("_i").select("_i", "file", "line")
    return [i for i, file, line in ix.iter_rows() if (file, line) in where]


def reduce_text(text: str, name: str, fingerprint: str, *, mappings: list[str] | None = None,
                progress: Progress | None = None) -> ReduceResult:
    """Reduce a one-file capture given as text."""
    table = build_table([(name, parse_text(text, name))])
    rows, oracle, _ = reduce_table(table, fingerprint, mappings=mappings, progress=progress)
    line_col = table.events["line"].to_list()
    lines = sorted(line_col[i] for i in rows)
    out = slice_lines(text, table, lines, keep_overwritten=False, keep_markers=False)
    again = build_table([(name, parse_text(out, name))])
    found = match_finding(replay(again, mappings=mappings), oracle.fingerprint)
    if found is None:  # the oracle replays the same rows the text parses to; this is a bug
        raise UsageError(f"{name}: the reduced trace no longer produces {oracle.fingerprint}")
    names = {e.event for e in load_mappings(mappings)}
    consumed = sum(1 for e in table.events["event"].to_list() if e in names)
    return ReduceResult(out, found, len(table.events), consumed, len(lines), oracle.tests, lines)


def reduce_file(path: str, fingerprint: str, out: str | None = None, **kw) -> ReduceResult:
    """Reduce one trace file; write the reduced trace to ``out`` when given."""
    res = reduce_text(read_text(path), display_name(path), fingerprint, **kw)
    if out is not None:
        Path(out).write_text(res.text, encoding="utf-8")
    return res
