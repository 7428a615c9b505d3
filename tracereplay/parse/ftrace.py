"""Parse ftrace text into the canonical event table.

Two paths, one grammar (grammars/ftrace.lark): the regular event line is taken in bulk by a
polars pattern built from the grammar's terminals; every other line (headers, markers, lines
without a task column, latency-format lines, and anything odd) goes through the lark parser.
Every input line ends up counted as an event, a known non-event, or a malformed line.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import polars as pl
from lark import Token, Tree
from lark.exceptions import UnexpectedInput

from .grammar import (
    body_patterns,
    event_prefix_pattern,
    ftrace_parser,
    named_head_pattern,
    prefix_tail_pattern,
    terminal,
)

# Columns every parse path produces, before typing.
BASE = ["line", "comm", "pid", "tgid", "cpu", "flags", "ts", "event", "body"]
_BASE_SCHEMA = {c: (pl.UInt32 if c == "line" else pl.String) for c in BASE}

# Known non-event kinds, by the grammar rule that recognised them.
NON_EVENT_RULES = {
    "comment_line": "comment",
    "lost_line": "lost",
    "dropped_line": "lost",
    "buffer_started_line": "buffer_started",
    "preamble_line": "preamble",
    "cpu_empty_line": "preamble",
    "stack_frame_line": "stack_frame",
    "funcgraph_line": "function_graph",
    "blank_line": "blank",
}

_HTML_START = re.compile(r"^\s*<(!DOCTYPE html|html)", re.I)


@dataclass
class Marker:
    """A known non-event line that says something about the trace's completeness."""

    line: int
    kind: str  # lost | buffer_started | overwritten
    cpu: int | None
    count: int | None
    text: str


@dataclass
class ParsedFile:
    file: str
    lines: int
    events: pl.DataFrame  # BASE columns (untyped strings), or typed rows when typed is set; file order
    typed: bool = False  # events went through the typer given to parse_blocks
    dotted_stamps: bool = False  # some timestamp has a decimal point (not a raw counter clock)
    non_events: dict[str, int] = field(default_factory=dict)
    malformed: list[tuple[int, str]] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    entries: tuple[int, int] | None = None  # entries-in-buffer / entries-written
    cpus_header: int | None = None


def split_lines(text: str | bytes) -> pl.Series:
    """Lines of the text (CRLF tolerated); a final newline does not start another line.

    Bytes are split and decoded by polars' multithreaded CSV reader, read as one column whose
    separator is a control byte the text does not hold: that is several times cheaper than
    Python's ``str.split`` plus building a Series from the pieces. Bytes that are not UTF-8
    become U+FFFD, the same as Python's ``errors="replace"``.
    """
    data = text.encode("utf-8", errors="surrogatepass") if isinstance(text, str) else text
    sep = next((c for c in _SEPARATORS if data.find(c) < 0), None)
    if sep is None or not data or data.startswith(_DECOMPRESSED_BY_POLARS):
        parts = data.decode("utf-8-sig", errors="replace").split("\n")  # a BOM goes, as there
        if data.endswith(b"\n") or not data:
            parts.pop()
        return pl.Series("raw", parts, dtype=pl.String).str.strip_suffix("\r")
    lines = pl.read_csv(data, has_header=False, separator=sep.decode(), quote_char=None,
                        schema={"raw": pl.String}, encoding="utf8-lossy", comment_prefix=None)
    return lines.to_series().fill_null("")  # blank lines come back null


# The CSV reader decompresses bytes that start like gzip, zlib or zstd data: text that starts
# so (garbage at the end of a file, cut off as a block of its own) is split by Python instead.
_DECOMPRESSED_BY_POLARS = (b"\x1f\x8b", b"\x28\xb5\x2f\xfd", b"\x78\x01", b"\x78\x5e", b"\x78\x9c",
                           b"\x78\xda")
# Column separators for split_lines: control bytes that ftrace text practically never holds.
_SEPARATORS = [bytes([c]) for c in (0x1F, 0x1E, 0x1D, 0x1C, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06)]


def is_html(raw: pl.Series) -> bool:
    """Systrace/Perfetto HTML wraps the ftrace text in markup, scripts and JSON."""
    return any(_HTML_START.match(h or "") for h in raw.head(20).to_list())


CHUNK_CHARS = 12 << 20  # lines are parsed in chunks of about this many bytes


def chunks(data: bytes, size: int = CHUNK_CHARS):
    """Pieces of about ``size`` bytes of the data, each cut after a newline."""
    pos, n = 0, len(data)
    while pos < n:
        end = data.find(b"\n", min(pos + size, n) - 1)
        end = n if end < 0 else end + 1
        yield data[pos:end]
        pos = end


def _fast_chunk(piece: bytes, vectorised: bool) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The vectorised pass over one chunk: (BASE rows of the lines it took, in line order;
    ``line``/``raw`` of the lines left for lark), lines numbered from 1 in the chunk.

    ASCII lines of named events, nearly all lines, take the cheap route: the task name ends
    where ``prefix_tail_pattern`` first matches, and that pattern, anchored there, splits what
    follows up to the body. Lines with other characters, whose byte offsets are not character
    offsets, and the other body shapes take the full prefix pattern instead.
    """
    raw = split_lines(piece)
    df = pl.DataFrame({"line": pl.int_range(1, 1 + len(raw), eager=True, dtype=pl.UInt32),
                       "raw": raw})
    if not vectorised:
        return pl.DataFrame(schema=_BASE_SCHEMA), df
    ascii_ = df.select(pl.col("raw").str.len_bytes() == pl.col("raw").str.len_chars()).to_series()
    if ascii_.all():
        wide = None
    else:
        wide, df = df.filter(~ascii_), df.filter(ascii_)
    found = _named_lines(df)
    named = found.filter(pl.col("ok")).select(BASE)
    parts, slow = [named], [found.filter(pl.col("ok").not_()).select("line", "raw")]
    if wide is not None:
        slow.append(wide)
    rest = pl.concat(slow)
    if len(rest):
        # The remaining lines: other body shapes, and lines with non-ASCII characters.
        other = _full_prefix(rest).collect()
        ok = pl.col("body").is_not_null()
        parts.append(other.filter(ok).select(BASE))
        slow = [other.filter(~ok).select("line", "raw")]
    events = pl.concat(parts)
    if len(parts) > 1 and len(parts[1]):
        events = events.sort("line")
    return events, pl.concat(slow) if len(slow) > 1 else slow[0]


def _named_lines(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` (ASCII lines) with the prefix fields, ``event``, ``body`` and ``ok`` (the line is
    a named event taken here), in line order.

    Where the task name ends is searched for (a DFA pass), except on lines laid out like most of
    the chunk: tracefs pads task names to one width, so when a sample of lines agrees on where
    the tail starts, a line with a "-" there and no "-digit" before it (where no earlier match
    can start) has its tail there without a search.
    """
    sample = df["raw"].head(_SAMPLE_LINES).str.find(prefix_tail_pattern())
    usual = sample.drop_nulls().mode().sort()
    at = int(usual[0]) if len(usual) and sample.null_count() * 2 < len(sample) else None
    if at is None:
        return _split_prefix(df, None).collect()
    raw = pl.col("raw")
    here = (raw.str.slice(at, 1) == "-") & ~raw.str.slice(0, at).str.contains(rf"(?-u)-{terminal('PID')}")
    mask = df.select(here).to_series()
    if mask.all():
        return _split_prefix(df, at).collect()
    parts = pl.collect_all([_split_prefix(df.filter(mask), at), _split_prefix(df.filter(~mask), None)])
    return pl.concat(parts).sort("line")


_SAMPLE_LINES = 256


def _split_prefix(df: pl.DataFrame, at: int | None) -> pl.LazyFrame:
    """The prefix split after the task name, which ends at ``at`` (searched for when None)."""
    raw = pl.col("raw")
    if at is None:
        lf = df.lazy().with_columns(raw.str.find(prefix_tail_pattern()).alias("at"))
        tail, name = raw.str.slice(pl.col("at")), raw.str.slice(0, pl.col("at"))
    else:
        lf, tail, name = df.lazy(), raw.str.slice(at), raw.str.slice(0, at)
    return (
        lf.with_columns(tail.alias("tail"), name.str.strip_chars_start(" \t").alias("comm"))
        # anchored where the tail starts, its split is a one-pass match
        .with_columns(pl.col("tail").str.extract_groups(prefix_tail_pattern(anchored=True)).alias("m"))
        .unnest("m")
        .with_columns(pl.col("tail").str.slice(pl.col("pre").str.len_bytes()).alias("body"))
        # COMM is /\S.*?/ after LEAD: a line whose first match leaves no name is lark's to decide,
        # and so is a body that is not "EVENT: ..."
        .with_columns((pl.col("comm").str.contains(r"^\S") & pl.col("event").is_not_null()).fill_null(False).alias("ok"))
        .select("line", "raw", *BASE[1:], "ok")
    )


def _full_prefix(df: pl.DataFrame) -> pl.LazyFrame:
    """The whole prefix pattern and every body shape, on lines the ASCII route did not take."""
    head = pl.col("rest").str.extract_groups(named_head_pattern())
    shapes = [(shape, pl.col("rest").str.extract_groups(pattern)) for shape, pattern in body_patterns()[1:]]
    event = pl.coalesce([head.struct.field("event")] + [_event_name(shape, m) for shape, m in shapes])
    body = pl.coalesce(
        [pl.when(head.struct.field("head").is_not_null()).then(_after("rest", head.struct.field("head").str.len_chars()))]
        + [m.struct.field("body") for _, m in shapes]
    )
    return (
        df.lazy()
        .with_columns(pl.col("raw").str.extract_groups(event_prefix_pattern()).alias("m"))
        .unnest("m")
        .with_columns(_after("raw", pl.col("pre").str.len_chars()).alias("rest"))
        .with_columns(event.alias("event"), body.alias("body"))
        .drop("pre", "rest")
    )


def parse_text(text: str, file: str, *, vectorised: bool = True, chunk_chars: int = CHUNK_CHARS) -> ParsedFile:
    """Parse one file's text. ``vectorised=False`` sends every line through lark (the
    differential tests compare the two paths)."""
    return parse_blocks([text], file, vectorised=vectorised, chunk_chars=chunk_chars)


def parse_blocks(blocks: Iterable[str | bytes], file: str, *, vectorised: bool = True,
                 chunk_chars: int = CHUNK_CHARS,
                 typer: Callable[[pl.DataFrame], pl.DataFrame] | None = None) -> ParsedFile:
    """Parse a file given as consecutive blocks of text or of UTF-8 bytes, each ending after a
    newline (except perhaps the last): large files are read and parsed piece by piece to bound
    memory.

    ``typer`` (optional) turns each chunk's BASE rows into their final form as soon as they are
    parsed, so the untyped strings of a large file never exist all at once."""
    dotted = False

    def finish(rows: pl.DataFrame) -> pl.DataFrame:
        nonlocal dotted
        dotted = dotted or bool(rows["ts"].str.contains(".", literal=True).any())
        return typer(rows) if typer else rows

    fasts, slows, n = [], [], 0
    # Two chunk workers per polars thread: a worker spends part of its time in Python (holding the
    # GIL) between polars calls, and a second one keeps the pool busy meanwhile; one more chunk
    # is read and queued ahead of them.
    threads = 2 * max(1, pl.thread_pool_size())
    batch = threads + 1
    head = b""

    def pieces():
        nonlocal head
        for block in blocks:
            data = block.encode("utf-8", errors="surrogatepass") if isinstance(block, str) else block
            if not head:
                head = data[:4096]
            if len(data) <= chunk_chars * 3 // 2:
                yield data  # a reader's block is already about a chunk: no copy
            else:
                yield from chunks(data, chunk_chars)

    def work(piece: bytes) -> tuple[pl.DataFrame, pl.DataFrame, int]:
        # line numbers count from 1 in each chunk until ``take`` knows where the chunk starts
        events, slow = _fast_chunk(piece, vectorised)
        return finish(events), slow, len(events) + len(slow)

    def take(future) -> None:
        nonlocal n
        f, sl, k = future.result()
        if n:
            f = f.with_columns(pl.col("line") + n)
            sl = sl.with_columns(pl.col("line") + n)
        fasts.append(f)
        slows.append(sl)
        n += k

    # Chunks are parsed and typed on a few threads (polars releases the GIL), a bounded number
    # in flight so memory stays flat; results are taken in order.
    with ThreadPoolExecutor(max_workers=threads) as pool:
        pending: deque = deque()
        for piece in pieces():
            pending.append(pool.submit(work, piece))
            if len(pending) >= batch:
                take(pending.popleft())
        while pending:
            take(pending.popleft())
    fast = pl.concat(fasts) if fasts else finish(pl.DataFrame(schema=_BASE_SCHEMA))
    slow = pl.concat(slows) if slows else pl.DataFrame(schema={"line": pl.UInt32, "raw": pl.String})

    result = ParsedFile(file=file, lines=n, events=fast)
    slow_df = pl.DataFrame(_parse_slow(slow.iter_rows(), result), schema=_BASE_SCHEMA, orient="row")
    if is_html(split_lines(head[: head.rfind(b"\n") + 1] or head)) and result.malformed:
        # In an HTML wrapper, what is neither an event nor a known ftrace line is the wrapper
        # itself (markup, JavaScript, CSS, JSON): count it as such, by line.
        result.non_events["html"] = result.non_events.get("html", 0) + len(result.malformed)
        result.malformed = []
    if len(slow_df):
        slow_df = finish(slow_df)
        if fast.is_empty() or slow_df["line"].max() < fast["line"].min():
            # the usual case, header lines before the events: no need to copy the table
            result.events = pl.concat([slow_df, fast])
        else:
            result.events = pl.concat([fast, slow_df]).sort("line")
    result.typed = typer is not None
    result.dotted_stamps = dotted
    return result


def _after(col: str, length: pl.Expr) -> pl.Expr:
    """What follows the first ``length`` characters of a column, without the separating blanks
    (``_SP?``)."""
    return pl.col(col).str.slice(length).str.strip_chars_start(" \t")


def _event_name(shape: str, m: pl.Expr) -> pl.Expr:
    """Event names for bodies that print none: the kernel's own event names for them."""
    body = m.struct.field("body")
    if shape == "named":
        return m.struct.field("event")
    if shape == "function":
        return pl.when(body.is_not_null()).then(pl.lit("function"))
    if shape == "syscall_exit":
        return pl.lit("sys_exit_") + m.struct.field("event").str.strip_prefix("sys_")
    if shape == "syscall_enter":
        return pl.lit("sys_enter_") + m.struct.field("event").str.strip_prefix("sys_")
    return (
        pl.when(body.str.starts_with("<user")).then(pl.lit("user_stack"))
        .when(body.is_not_null()).then(pl.lit("kernel_stack"))
    )


_PREFIX_RE: dict[str, re.Pattern] = {}


def _prefix_fields(tok: Token) -> dict[str, str | None]:
    """Split a prefix token into its named parts with the same grammar-built pattern."""
    if not _PREFIX_RE:
        from .grammar import terminal as t

        flags, ts, cpu = t("FLAGS"), t("TIMESTAMP"), t("CPU")
        _PREFIX_RE["EVENT_PREFIX"] = re.compile(event_prefix_pattern())
        _PREFIX_RE["CPU_ONLY_PREFIX"] = re.compile(
            rf"^{t('LEAD')}\[(?P<cpu>{cpu})\]\s+(?:(?P<flags>{flags})\s+)?(?P<ts>{ts}):"
        )
        _PREFIX_RE["TS_ONLY_PREFIX"] = re.compile(rf"^{t('LEAD')}(?P<ts>{ts}):")
        _PREFIX_RE["LAT_PREFIX"] = re.compile(
            rf"^{t('LEAD')}(?:{t('DMESG_STAMP')}{t('LEAD')})?(?P<comm>{t('COMM')})-(?P<pid>{t('PID')})\s+"
            rf"(?P<cpu>{cpu})(?P<flags>{flags})\s+(?P<lat_us>\d+)us"
        )
    m = _PREFIX_RE[tok.type].match(str(tok))
    assert m is not None, tok  # the lexer matched the same pattern
    d = m.groupdict()
    if "lat_us" in d:
        # latency format prints microseconds since the trace start
        d["ts"] = f"{int(d.pop('lat_us')) // 1_000_000}.{int(m['lat_us']) % 1_000_000:06d}"
    return d


def _body_fields(tree: Tree | None) -> tuple[str | None, str]:
    if tree is None:
        return None, ""
    toks = [str(c) for c in tree.children]
    if tree.data == "named_body":
        return toks[0][:-1], toks[1] if len(toks) > 1 else ""
    shape = tree.data.removesuffix("_body")
    m = re.match(dict(body_patterns())[shape], toks[0])
    assert m is not None, toks  # the lexer matched the same terminal
    name = m.groupdict().get("event")
    if shape == "syscall_exit":
        return "sys_exit_" + name.removeprefix("sys_"), m["body"]
    if shape == "syscall_enter":
        return "sys_enter_" + name.removeprefix("sys_"), m["body"]
    if shape == "function":
        return "function", m["body"]
    return ("user_stack" if toks[0].startswith("<user") else "kernel_stack"), m["body"]


_LOST_RE = re.compile(r"CPU:(\d+) \[(?:LOST )?(\d+)?")
_BUF_RE = re.compile(r"CPU (\d+) buffer started")
_ENTRIES_RE = re.compile(r"entries-in-buffer/entries-written:\s*(\d+)/(\d+)(?:\s+#P:(\d+))?")
_CPUS_RE = re.compile(r"cpus=(\d+)")


def _parse_slow(rows, result: ParsedFile) -> list[tuple]:
    """Lines the vectorised pattern did not take, through the lark parser."""
    parser = ftrace_parser()
    out: list[tuple] = []
    for line, raw in rows:
        try:
            tree = parser.parse(raw)
        except UnexpectedInput as e:
            result.malformed.append((line, _reason(raw, e)))
            continue
        node = tree.children[0]
        rule = node.data
        if rule in ("event_line", "latency_line"):
            prefix = node.children[0]
            d = _prefix_fields(prefix)
            ev, body = _body_fields(node.children[1] if len(node.children) > 1 else None)
            if ev is None:
                result.malformed.append((line, "event line without an event body"))
                continue
            out.append((line, d.get("comm"), d.get("pid"), d.get("tgid"), d.get("cpu"), d.get("flags"), d["ts"], ev, body))
            continue
        kind = NON_EVENT_RULES[rule]
        result.non_events[kind] = result.non_events.get(kind, 0) + 1
        text = raw.strip()
        if rule in ("lost_line", "dropped_line"):
            m = _LOST_RE.search(text)
            result.markers.append(Marker(line, "lost", int(m[1]), int(m[2]) if m[2] else None, text))
        elif rule == "buffer_started_line":
            result.markers.append(Marker(line, "buffer_started", int(_BUF_RE.search(text)[1]), None, text))
        elif rule == "comment_line" and (m := _ENTRIES_RE.search(text)):
            result.entries = (int(m[1]), int(m[2]))
            if m[3]:
                result.cpus_header = int(m[3])
            if int(m[1]) < int(m[2]):
                result.markers.append(Marker(line, "overwritten", None, int(m[2]) - int(m[1]), text))
        elif rule == "preamble_line" and (m := _CPUS_RE.search(text)):
            result.cpus_header = int(m[1])
    return out


def _reason(raw: str, e: UnexpectedInput) -> str:
    col = getattr(e, "column", None)
    snippet = raw.strip()
    if len(snippet) > 60:
        snippet = snippet[:57] + "..."
    where = f" at column {col}" if isinstance(col, int) and col > 1 else ""
    return f"not an ftrace line{where}: {snippet!r}"
