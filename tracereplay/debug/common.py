"""Shared pieces of the debugging tools: time and task options, event selection, raw lines."""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

import polars as pl

from ..errors import UsageError
from ..parse.ftrace import split_lines

_TASK = re.compile(r"^(?P<comm>.*)-(?P<pid>\d+)$")
# trace-cmd report's preamble ("version = 6", "cpus=8"), as grammars/ftrace.lark has it
_PREAMBLE = re.compile(r"[ \t]*(version = \d+|(\S+: )?cpus=\d+)[ \t]*")
_ENTRIES = re.compile(r"(entries-in-buffer/entries-written:\s*)(\d+)/(\d+)")


def to_ns(value: str | float | int | Decimal | None, what: str = "time") -> int | None:
    """Seconds as the trace prints them (``12.345678``; a number or a string) -> nanoseconds."""
    if value is None:
        return None
    try:
        d = Decimal(str(value).strip())
    except InvalidOperation:
        raise UsageError(f"{what} {value!r} is not a time in seconds (like 12.345678)") from None
    if not d.is_finite():
        raise UsageError(f"{what} {value!r} is not a time in seconds (like 12.345678)")
    return int(d * 1_000_000_000)


def task_filter(task: str | int) -> pl.Expr:
    """Events of one task: ``comm-pid``, a pid, or a comm."""
    t = str(task).strip()
    if t.isdigit():
        return pl.col("pid") == int(t)
    m = _TASK.match(t)
    if m:
        return (pl.col("pid") == int(m["pid"])) & (pl.col("comm") == m["comm"])
    return pl.col("comm") == t


def glob_regex(pattern: str) -> str:
    """A shell glob (``*``, ``?``) as a regular expression polars understands."""
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)


def _as_list(v) -> list:
    if v is None:
        return []
    if isinstance(v, str | int):
        return [v]
    return list(v)


def selection(*, since=None, until=None, task=None, cpu=None, event=None) -> pl.Expr:
    """The rows a set of filters selects. ``task``, ``cpu`` and ``event`` take one value or a
    list (any of them); ``event`` patterns are shell globs (``lock_*``); times are seconds."""
    cond = pl.lit(True)
    lo, hi = to_ns(since, "--from"), to_ns(until, "--to")
    if lo is not None and hi is not None and lo > hi:
        raise UsageError(f"--from {since} is after --to {until}")
    if lo is not None:
        cond = cond & (pl.col("ts_ns") >= lo)
    if hi is not None:
        cond = cond & (pl.col("ts_ns") <= hi)
    tasks = _as_list(task)
    if tasks:
        c = pl.lit(False)
        for t in tasks:
            c = c | task_filter(t)
        cond = cond & c
    cpus = _as_list(cpu)
    if cpus:
        try:
            cond = cond & pl.col("cpu").is_in([int(c) for c in cpus])
        except ValueError:
            raise UsageError(f"--cpu takes CPU numbers, not {cpus}") from None
    pats = [p for e in _as_list(event) for p in str(e).split(",") if p]
    if pats:
        rx = "|".join(glob_regex(p) for p in pats)
        cond = cond & pl.col("event").str.contains(f"^(?:{rx})$")
    return cond.fill_null(False)


def raw_lines(text: str) -> list[str]:
    """The file's lines, numbered like the parser numbers them (line n is item n - 1)."""
    return split_lines(text).to_list()


def header_lines(raw: list[str], first_event_line: int | None) -> list[int]:
    """Line numbers of the header: the ``#`` comment lines (and tracefs preamble) before the
    first event line."""
    end = first_event_line if first_event_line is not None else len(raw) + 1
    keep = []
    for n in range(1, end):
        s = raw[n - 1]
        if s.lstrip().startswith("#") or _PREAMBLE.fullmatch(s):
            keep.append(n)
    return keep


def stack_lines(raw: list[str], event_lines: Iterable[int]) -> list[int]:
    """The ``=> func`` stack-frame lines that follow the given event lines."""
    out = []
    for n in event_lines:
        k = n + 1
        while k <= len(raw) and raw[k - 1].lstrip().startswith("=> "):
            out.append(k)
            k += 1
    return out


def adjust_entries(line: str, kept: int, keep_overwritten: bool) -> str:
    """``entries-in-buffer/entries-written: N/M`` for a file of ``kept`` events: kept/kept, or
    kept/(kept + M - N) when the original ring buffer had overwritten events and the slice keeps
    saying so."""
    m = _ENTRIES.search(line)
    if not m:
        return line
    lost = max(int(m[3]) - int(m[2]), 0) if keep_overwritten else 0
    return line[: m.start()] + f"{m[1]}{kept}/{kept + lost}" + line[m.end():]


def write_lines(raw: list[str], numbers: Iterable[int], kept_events: int, keep_overwritten: bool) -> str:
    """The text of the given lines (file order), the entries header adjusted."""
    out = []
    for n in sorted(set(numbers)):
        s = raw[n - 1]
        if "entries-in-buffer/entries-written" in s:
            s = adjust_entries(s, kept_events, keep_overwritten)
        out.append(s)
    return "\n".join(out) + ("\n" if out else "")
