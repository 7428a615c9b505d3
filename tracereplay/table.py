"""The canonical event table: one polars DataFrame for one capture, plus what we know of its health.

Columns (exported under these names): ``file``, ``line``, ``ts_ns``, ``cpu``, ``pid``, ``tgid``,
``comm``, the decoded irq-info flags (``irqs_off``, ``bh_off``, ``need_resched``, ``hardirq``,
``softirq``, ``nmi``, ``preempt_depth``, ``migrate_disable``; null without an irq-info column),
``event``, ``body``, and the typed fields of known events (see parse/fields.py).
The table is in timestamp order (stable, so equal stamps keep file order).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import polars as pl

from .errors import InputError
from .io import display_name, iter_bytes
from .parse.fields import TYPED, add_typed_fields
from .parse.ftrace import CHUNK_CHARS, Marker, ParsedFile, parse_blocks

BASE_COLUMNS = [
    "file", "line", "ts_ns", "cpu", "pid", "tgid", "comm",
    "irqs_off", "bh_off", "need_resched", "hardirq", "softirq", "nmi", "preempt_depth", "migrate_disable",
    "event", "body",
]
COLUMNS = BASE_COLUMNS + list(TYPED)

HEALTH_SCHEMA = {
    "file": pl.String,
    "kind": pl.String,  # lost | overwritten | buffer_started | time_backwards
    "cpu": pl.Int64,  # null: every CPU
    "start_ns": pl.Int64,  # null: from the start of the trace
    "end_ns": pl.Int64,  # null: to the end of the trace
    "line": pl.Int64,
    "detail": pl.String,
}


@dataclass
class FileInfo:
    """Line accounting and shape of one input file."""

    path: str
    lines: int
    events: int
    non_events: dict[str, int]
    malformed: list[tuple[int, str]]
    clock: str  # "ns" (sec.usec / sec.nsec stamps) or "counter" (raw counter clocks)
    entries: tuple[int, int] | None
    cpus_header: int | None
    out_of_order: int

    @property
    def accounted(self) -> bool:
        return self.events + sum(self.non_events.values()) + len(self.malformed) == self.lines


@dataclass
class TraceTable:
    events: pl.DataFrame
    files: list[FileInfo] = field(default_factory=list)
    health: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=HEALTH_SCHEMA))

    def incomplete_at(self, file: str, ts_ns: int | None, cpu: int | None = None) -> str | None:
        """Why the trace is incomplete at this time (and CPU), or None where it is complete."""
        if ts_ns is None or self.health.is_empty():
            return None
        for wfile, kind, wcpu, lo, hi, line, detail in self._windows:
            if wfile != file or (kind == "lost" and wcpu is not None and cpu is not None and wcpu != cpu):
                continue
            # events were lost strictly between the two events around a LOST marker; an
            # overwritten buffer leaves everything up to its end stamp uncertain
            if (lo < ts_ns < hi) if kind == "lost" else (lo <= ts_ns <= hi):
                return f"{kind} ({detail}, {wfile}:{line})"
        return None

    def incomplete_between(self, file: str, lo: int, hi: int) -> str | None:
        """A window of the file, on any CPU, that overlaps [lo, hi], or None."""
        for wfile, kind, _cpu, wlo, whi, line, detail in self._windows:
            overlaps = (wlo < hi and whi > lo) if kind == "lost" else (wlo <= hi and whi >= lo)
            if wfile == file and overlaps and kind != "time_backwards":
                return f"{kind} ({detail}, {wfile}:{line})"
        return None

    @cached_property
    def _windows(self) -> list[tuple]:
        lo, hi = -(2**63), 2**63 - 1
        return [
            (w["file"], w["kind"], w["cpu"], lo if w["start_ns"] is None else w["start_ns"],
             hi if w["end_ns"] is None else w["end_ns"], w["line"], w["detail"])
            for w in self.health.iter_rows(named=True)
        ]


def _decode_flags() -> list[pl.Expr]:
    f = pl.col("flags")
    c = [f.str.slice(i, 1) for i in range(5)]
    return [
        c[0].is_in(["d", "D", "X"]).alias("irqs_off"),
        c[0].is_in(["D", "b"]).alias("bh_off"),
        (c[1] != ".").alias("need_resched"),
        c[2].is_in(["h", "H", "Z"]).alias("hardirq"),
        c[2].is_in(["s", "H"]).alias("softirq"),
        c[2].is_in(["z", "Z"]).alias("nmi"),
        c[3].replace(".", "0").str.to_integer(base=16, strict=False).cast(pl.Int8).alias("preempt_depth"),
        pl.when(f.str.len_chars() >= 5)
        .then(c[4].replace(".", "0").str.to_integer(base=16, strict=False))
        .cast(pl.Int8)
        .alias("migrate_disable"),
    ]


_FLAG_COLUMNS = ["irqs_off", "bh_off", "need_resched", "hardirq", "softirq", "nmi", "preempt_depth",
                 "migrate_disable"]


def decoded_flags(flags: pl.Series) -> pl.DataFrame:
    """The irq-info columns of each row (null where the trace has no flags column).

    A trace holds a few dozen distinct flag strings: each is decoded once and joined back.
    """
    known = flags.unique().to_frame("flags").filter(pl.col("flags").is_not_null())
    known = known.with_columns(_decode_flags())
    return (
        flags.to_frame("flags")
        .join(known, on="flags", how="left", maintain_order="left")
        .select(_FLAG_COLUMNS)
    )


def _ts_ns_expr() -> pl.Expr:
    ts = pl.col("ts")
    parts = ts.str.split_exact(".", 1)
    sec = parts.struct.field("field_0").cast(pl.Int64, strict=False)
    frac = parts.struct.field("field_1").str.pad_end(9, "0").str.slice(0, 9).cast(pl.Int64, strict=False)
    return pl.when(ts.str.contains(".", literal=True)).then(sec * 1_000_000_000 + frac).otherwise(sec)


def ts_ns(ts: pl.Series) -> pl.Series:
    """Stamps in integer nanoseconds; raw counter clocks (no decimal point) keep their value.

    A trace prints every stamp with the same number of decimals: then the stamp without its
    point, scaled once, is the value, at a third of the cost of splitting each one.
    """
    dot = ts.str.find(".", literal=True)
    decimals = ts.str.len_bytes().cast(pl.Int64) - dot.cast(pl.Int64) - 1
    if dot.null_count() == len(ts):
        return ts.cast(pl.Int64, strict=False).alias("ts_ns")
    if dot.null_count() == 0 and decimals.min() == decimals.max() <= 9:
        scale = 10 ** (9 - int(decimals.min()))
        return (ts.str.replace(".", "", literal=True).cast(pl.Int64, strict=False) * scale).alias("ts_ns")
    return ts.to_frame("ts").select(_ts_ns_expr().alias("ts_ns")).to_series()


def type_rows(rows: pl.DataFrame, file: str) -> pl.DataFrame:
    """BASE rows (untyped strings) of one file -> rows of the canonical typed table."""
    df = rows.with_columns(
        pl.lit(file).alias("file"),
        # the kernel's own widths (pid_t, int cpu): half the memory of 64-bit columns
        # (a number too wide for them is no number the kernel printed: null, not a crash)
        pl.col("pid").cast(pl.Int32, strict=False),
        pl.when(pl.col("tgid").str.contains(r"^\d+$")).then(pl.col("tgid")).cast(pl.Int32, strict=False).alias("tgid"),
        pl.col("cpu").cast(pl.Int32, strict=False),
        ts_ns(rows["ts"]),
        pl.col("line").cast(pl.Int64),
    )
    df = pl.concat([df, decoded_flags(rows["flags"])], how="horizontal")
    df = add_typed_fields(df)
    return df.select(COLUMNS)


def typed_events(parsed: ParsedFile, file: str) -> pl.DataFrame:
    """The canonical typed table for one file, in file order."""
    return parsed.events if parsed.typed else type_rows(parsed.events, file)


def _health(file: str, df: pl.DataFrame, markers: list[Marker], *, backwards: bool = True) -> list[dict]:
    """Windows where the trace is incomplete, from markers and from the stamps themselves.

    ``backwards=False`` says the file's stamps never decrease, so no CPU's can: the per-CPU
    scan for time going back is skipped."""
    df = df.select("cpu", "ts_ns", "line")  # narrow first: filters below copy what they keep
    rows: list[dict] = []
    for m in markers:
        if m.kind == "overwritten":
            # The oldest events were overwritten on some CPU: nothing before the latest first
            # event of any CPU can be trusted to be complete.
            firsts = df.group_by("cpu").agg(pl.col("ts_ns").min())["ts_ns"]
            end = int(firsts.max()) if len(firsts) else None
            rows.append(dict(file=file, kind="overwritten", cpu=None, start_ns=None, end_ns=end,
                             line=m.line, detail=f"ring buffer overwrote {m.count} events"))
            continue
        on_cpu = df.filter(pl.col("cpu") == m.cpu)
        before = on_cpu.filter(pl.col("line") < m.line)["ts_ns"]
        after = on_cpu.filter(pl.col("line") > m.line)["ts_ns"]
        start = int(before.max()) if m.kind == "lost" and len(before) else None
        end = int(after.min()) if len(after) else None
        what = f"{m.count} events lost" if m.count is not None else "events lost"
        if m.kind == "buffer_started":
            what = "older data of this CPU overwritten"
        rows.append(dict(file=file, kind=m.kind, cpu=m.cpu, start_ns=start, end_ns=end, line=m.line,
                         detail=f"CPU {m.cpu}: {what}"))
    if not backwards:
        return rows
    back = (
        df.with_columns(prev=pl.col("ts_ns").shift(1).over("cpu"))
        .filter(pl.col("ts_ns") < pl.col("prev"))
        .select("cpu", "ts_ns", "prev", "line")
    )
    for cpu, ts, prev, line in back.iter_rows():
        rows.append(dict(file=file, kind="time_backwards", cpu=cpu, start_ns=ts, end_ns=prev, line=line,
                         detail=f"CPU {cpu}: time went back by {prev - ts} ns"))
    return rows


def build_table(parsed: list[tuple[str, ParsedFile]]) -> TraceTable:
    frames, infos, health = [], [], []
    for file, p in parsed:
        df = typed_events(p, file)
        ooo = int(df.select((pl.col("ts_ns") < pl.col("ts_ns").cum_max().shift(1)).sum()).item() or 0)
        if p.typed:
            clock = "ns" if p.dotted_stamps or not len(df) else "counter"
        else:
            clock = "ns" if not len(df) or p.events["ts"].str.contains(".", literal=True).any() else "counter"
        infos.append(FileInfo(file, p.lines, len(df), dict(p.non_events), list(p.malformed), clock,
                              p.entries, p.cpus_header, ooo))
        health.extend(_health(file, df, p.markers, backwards=ooo > 0 or df["ts_ns"].null_count() > 0))
        frames.append(df)
        p.events = p.events.clear()  # the typed table replaces it
    events = pl.concat(frames) if frames else pl.DataFrame(schema={c: pl.String for c in COLUMNS})
    # tracefs `trace` is already merged in time order: sort only when it is not (per-CPU
    # buffers, systrace, several files), stably so equal stamps keep file order.
    ts = events["ts_ns"]
    in_order = len(frames) == 1 and infos[0].out_of_order == 0 and not ts.null_count()
    if not in_order and (ts.null_count() or len(ts) > 1 and not (ts.diff().drop_nulls() >= 0).all()):
        events = events.sort("ts_ns", maintain_order=True, nulls_last=False)
    return TraceTable(events, infos, pl.DataFrame(health, schema=HEALTH_SCHEMA))


def parse_file(path: str, *, require_events: bool = True) -> tuple[str, ParsedFile]:
    name = display_name(path)
    p = parse_blocks(iter_bytes(path, CHUNK_CHARS), name, typer=lambda rows: type_rows(rows, name))
    if require_events and p.events.is_empty():
        first_bad = p.malformed[0][0] if p.malformed else None
        raise InputError(name, f"no trace event in {p.lines} lines (not ftrace text?)", line=first_bad)
    return name, p


def load_table(paths: list[str], *, require_events: bool = True) -> TraceTable:
    """Read, parse and type one capture (one or more files of it) into the canonical table."""
    return build_table([parse_file(p, require_events=require_events) for p in paths])
