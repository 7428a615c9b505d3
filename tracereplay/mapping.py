"""Declarative mapping from trace events to model operations.

A mapping file (TOML) lists, per event name, the model operation it is and where each operand
comes from. Operands are taken in vectorised passes over the event table, so adding a driver's
tracepoint or a kprobe event to a model needs no code:

    [[map]]
    event = "my_fence_signal"       # the event name as the trace prints it
    op = "fence.signal"             # a model operation (see `tracereplay mappings --ops`)
    [map.fields]
    context = "kv:ctx"              # `ctx=` in the body (or in a kprobe's arguments)
    seqno = "kv:seqno"

An operand is a column of the canonical table (`addr`, `context`, `ptr`, ...), `kv:KEY` for a
`KEY=value` pair in the body, or `lit:VALUE` for a constant. `where` (optional) is a
`kv:KEY=VALUE` or `COLUMN=VALUE` condition an event must meet to count.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import polars as pl

from .errors import UsageError
from .parse.fields import kv


@dataclass(frozen=True)
class MapEntry:
    event: str
    op: str
    fields: dict[str, str]
    where: str | None
    source: str  # file the entry came from, for error messages


def _entries(text: str, source: str) -> list[MapEntry]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{source}: not valid TOML: {e}") from None
    out = []
    for i, row in enumerate(data.get("map", []), 1):
        try:
            out.append(MapEntry(row["event"], row["op"], dict(row.get("fields", {})), row.get("where"), source))
        except KeyError as e:
            raise UsageError(f"{source}: map entry {i} lacks {e.args[0]!r}") from None
    return out


@cache
def _default_mappings() -> tuple[MapEntry, ...]:
    entries: list[MapEntry] = []
    pkg = resources.files("tracereplay.mappings")
    for f in sorted(pkg.iterdir(), key=lambda p: p.name):
        if f.name.endswith(".toml"):
            entries += _entries(f.read_text("utf-8"), f"tracereplay/mappings/{f.name}")
    return tuple(entries)


def default_mappings() -> list[MapEntry]:
    """The shipped mappings (read once per process)."""
    return list(_default_mappings())


def load_mappings(extra: list[str] | None = None) -> list[MapEntry]:
    entries = default_mappings()
    for path in extra or []:
        try:
            text = Path(path).read_text("utf-8")
        except OSError as e:
            raise UsageError(f"{path}: cannot read mapping: {e.strerror}") from None
        entries += _entries(text, path)
    return entries


def operand(spec: str) -> pl.Expr:
    """The polars expression for one operand spec."""
    if spec.startswith("kv:"):
        key = spec[3:]
        return pl.coalesce(kv(key, "args"), kv(key, "body"))
    if spec.startswith("lit:"):
        return pl.lit(spec[4:])
    return pl.col(spec)


def condition(spec: str, schema: Mapping[str, pl.DataType] | None = None) -> pl.Expr:
    """The polars expression for a ``where`` spec; with the frame's ``schema``, a text column
    is compared as it is (the same result as through the cast, without copying it)."""
    lhs, _, value = spec.partition("=")
    if schema is not None and schema.get(lhs) in (pl.String, pl.Categorical):
        return pl.col(lhs) == value
    return operand(lhs).cast(pl.String) == value


def validate(entries: list[MapEntry], ops: dict[str, tuple[str, ...]], columns: list[str]) -> None:
    """Every entry names a known operation and gives it every operand it needs."""
    for e in entries:
        if e.op not in ops:
            known = ", ".join(sorted(ops))
            raise UsageError(f"{e.source}: event {e.event!r} maps to unknown op {e.op!r} (known: {known})")
        missing = [f for f in ops[e.op] if f not in e.fields]
        if missing:
            raise UsageError(f"{e.source}: op {e.op!r} for event {e.event!r} needs fields {missing}")
        for name, spec in e.fields.items():
            if not (spec.startswith(("kv:", "lit:")) or spec in columns):
                raise UsageError(f"{e.source}: field {name}={spec!r} of {e.event!r} is not a column, kv: or lit:")
