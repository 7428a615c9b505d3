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

from .grammar import body_patterns, event_prefix_pattern, ftrace_parser, named_head_pattern

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


def split_lines(text: str) -> pl.Series:
    """Lines of the text (CRLF tolerated); a final newline does not start another line."""
    parts = text.split("\n")  # str.split is cheaper than building one huge polars string
    if text.endswith("\n") or not text:
        parts.pop()
    return pl.Series("raw", parts, dtype=pl.String).str.strip_suffix("\r")


def is_html(raw: pl.Series) -> bool:
    """Systrace/Perfetto HTML wraps the ftrace text in markup, scripts and JSON."""
    return any(_HTML_START.match(h or "") for h in raw.head(20).to_list())


CHUNK_CHARS = 8 << 20  # lines are parsed in chunks of about this many characters


def chunks(text: str, size: int = CHUNK_CHARS):
    """(first line number, chunk) pieces of the text, cut after a newline."""
    line, pos, n = 1, 0, len(text)
    while pos < n:
        end = text.find("\n", min(pos + size, n) - 1)
        end = n if end < 0 else end + 1
        piece = text[pos:end]
        yield line, piece
        line += piece.count("\n")
        pos = end


def _fast_chunk(first_line: int, piece: str, vectorised: bool) -> pl.LazyFrame:
    """The vectorised pass over one chunk, as a query: every line with its prefix fields and, when
    the pattern took it, its event and body (null: the line is left for lark)."""
    raw = split_lines(piece)
    n = len(raw)
    df = pl.DataFrame({"line": pl.int_range(first_line, first_line + n, eager=True, dtype=pl.UInt32), "raw": raw})
    pattern = event_prefix_pattern() if vectorised else "^(?P<pre>$^)(?P<comm>)(?P<pid>)(?P<tgid>)(?P<cpu>)(?P<flags>)(?P<ts>)"
    # Body shapes in the lexer's priority order: the first pattern that takes the rest wins.
    # A named body (by far the most common) is its EVENT_HEAD and what follows it.
    head = pl.col("rest").str.extract_groups(named_head_pattern())
    shapes = [(shape, pl.col("rest").str.extract_groups(pattern)) for shape, pattern in body_patterns()[1:]]
    event = pl.coalesce([head.struct.field("event")] + [_event_name(shape, m) for shape, m in shapes])
    body = pl.coalesce(
        [pl.when(head.struct.field("head").is_not_null()).then(_after("rest", head.struct.field("head")))]
        + [m.struct.field("body") for _, m in shapes]
    )
    return (
        df.lazy()
        .with_columns(pl.col("raw").str.extract_groups(pattern).alias("m"))
        .unnest("m")
        .with_columns(_after("raw", "pre").alias("rest"))
        .with_columns(event.alias("event"), body.alias("body"))
        .drop("pre", "rest")
    )


def parse_text(text: str, file: str, *, vectorised: bool = True, chunk_chars: int = CHUNK_CHARS) -> ParsedFile:
    """Parse one file's text. ``vectorised=False`` sends every line through lark (the
    differential tests compare the two paths)."""
    return parse_blocks([text], file, vectorised=vectorised, chunk_chars=chunk_chars)


def parse_blocks(blocks: Iterable[str], file: str, *, vectorised: bool = True,
                 chunk_chars: int = CHUNK_CHARS,
                 typer: Callable[[pl.DataFrame], pl.DataFrame] | None = None) -> ParsedFile:
    """Parse a file given as consecutive blocks of text, each ending after a newline (except
    perhaps the last): large files are read and parsed piece by piece to bound memory.

    ``typer`` (optional) turns each chunk's BASE rows into their final form as soon as they are
    parsed, so the untyped strings of a large file never exist all at once."""
    dotted = False

    def finish(rows: pl.DataFrame) -> pl.DataFrame:
        nonlocal dotted
        dotted = dotted or bool(rows["ts"].str.contains(".", literal=True).any())
        return typer(rows) if typer else rows

    fasts, slows, n = [], [], 0
    batch = max(1, pl.thread_pool_size())  # chunks in flight at once: one per thread
    head_text = ""

    def pieces():
        nonlocal head_text
        line = 1
        for text in blocks:
            if not head_text:
                head_text = text[:4096]
            first, piece = 1, ""
            for first, piece in chunks(text, chunk_chars):
                yield line + first - 1, piece
            line += first - 1 + piece.count("\n")  # the lines before the last piece, then its own

    def work(first: int, piece: str) -> tuple[pl.DataFrame, pl.DataFrame, int]:
        done = _fast_chunk(first, piece, vectorised).collect()
        ok = pl.col("body").is_not_null()
        return finish(done.filter(ok).select(BASE)), done.filter(~ok).select("line", "raw"), len(done)

    def take(future) -> None:
        nonlocal n
        f, sl, k = future.result()
        fasts.append(f)
        slows.append(sl)
        n += k

    # Chunks are parsed and typed on a few threads (polars releases the GIL), a bounded number
    # in flight so memory stays flat; results are taken in order.
    with ThreadPoolExecutor(max_workers=batch) as pool:
        pending: deque = deque()
        for first, piece in pieces():
            pending.append(pool.submit(work, first, piece))
            if len(pending) >= batch:
                take(pending.popleft())
        while pending:
            take(pending.popleft())
    fast = pl.concat(fasts) if fasts else finish(pl.DataFrame(schema=_BASE_SCHEMA))
    slow = pl.concat(slows) if slows else pl.DataFrame(schema={"line": pl.UInt32, "raw": pl.String})

    result = ParsedFile(file=file, lines=n, events=fast)
    slow_df = pl.DataFrame(_parse_slow(slow.iter_rows(), result), schema=_BASE_SCHEMA, orient="row")
    if is_html(split_lines(head_text)) and result.malformed:
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


def _after(col: str, prefix: str | pl.Expr) -> pl.Expr:
    """What follows a matched prefix of a column, without the separating blanks (``_SP?``)."""
    p = pl.col(prefix) if isinstance(prefix, str) else prefix
    return pl.col(col).str.slice(p.str.len_chars()).str.strip_chars_start(" \t")


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
