"""Slices of a capture: the selected events' original lines, with the file's header, so the
slice is a smaller trace in the same text format that parses back to exactly those events.

Lines are copied from the input, never re-rendered. Kept besides the selected event lines: the
header (``#`` comment lines and the trace-cmd preamble before the first event), the ``=> func``
stack-frame lines under a selected stack event, and the lost-events / buffer-started markers
that fall inside the selected span on a selected CPU (so the slice still says where it is
incomplete). ``entries-in-buffer/entries-written`` is rewritten for the events kept (and keeps
the count of overwritten events when the original buffer had overwritten some).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from ..errors import UsageError
from ..io import display_name, read_text
from ..parse.ftrace import parse_text
from ..table import TraceTable, build_table
from .common import header_lines, raw_lines, selection, stack_lines, write_lines


@dataclass
class SliceResult:
    text: str  # the slice, ready to write
    events: int  # event lines kept
    total: int  # event lines in the input
    lines: list[int]  # input line numbers of the kept events, file order


def select(table: TraceTable, **filters) -> pl.DataFrame:
    """The rows of the event table that the filters select (see common.selection)."""
    return table.events.filter(selection(**filters))


def sub_table(table: TraceTable, rows: pl.DataFrame) -> TraceTable:
    """A table over some of the rows of another (same files and health)."""
    return TraceTable(rows, table.files, table.health)


def slice_lines(text: str, table: TraceTable, event_lines: list[int], *, keep_overwritten: bool = True,
                keep_markers: bool = True) -> str:
    """The text of a one-file capture cut down to the given event lines (input numbering)."""
    raw = raw_lines(text)
    first = table.events["line"].min() if len(table.events) else None
    numbers = header_lines(raw, first) + list(event_lines) + stack_lines(raw, event_lines)
    if keep_markers and event_lines and not table.health.is_empty():
        cpus = set(table.events.filter(pl.col("line").is_in(list(event_lines)))["cpu"].to_list())
        lo, hi = min(event_lines), max(event_lines)
        marks = table.health.filter(
            pl.col("kind").is_in(["lost", "buffer_started"])
            & pl.col("line").is_between(lo, hi)
            & (pl.col("cpu").is_null() | pl.col("cpu").is_in(list(cpus)))
        )
        numbers += marks["line"].to_list()
    return write_lines(raw, numbers, len(event_lines), keep_overwritten)


def slice_text(text: str, name: str = "<text>", **filters) -> SliceResult:
    """Slice a one-file capture given as text (see common.selection for the filters)."""
    table = build_table([(name, parse_text(text, name))])
    rows = select(table, **filters)
    if rows.is_empty():
        raise UsageError(f"{name}: no event matches the selection")
    lines = sorted(rows["line"].to_list())
    return SliceResult(slice_lines(text, table, lines), len(lines), len(table.events), lines)


def slice_file(path: str, out: str | None = None, **filters) -> SliceResult:
    """Slice one trace file; write the slice to ``out`` when given."""
    res = slice_text(read_text(path), display_name(path), **filters)
    if out is not None:
        Path(out).write_text(res.text, encoding="utf-8")
    return res
