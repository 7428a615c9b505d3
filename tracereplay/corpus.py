"""A corpus of captures: expand PATH... (files, directories, globs) into the captures to check.

Files are recognised by their content, never by their names: the first lines (up to 64 KiB,
decompressed by :func:`tracereplay.io.read_bytes` when the file is compressed) are sniffed for
ftrace text (event lines ``comm-pid [cpu] ... ts: event:``, a ``# tracer:`` header, a trace-cmd
``cpus=N`` / ``version = N`` preamble) or a kernel log (dmesg ``[   12.345678]`` stamps, syslog
``kernel:`` lines, report markers such as ``WARNING: possible circular locking dependency``).

Each trace file is one capture. A kernel log is paired with the trace in the same directory whose
*capture key* is the same (see :func:`capture_key`):

* ``X.trace.txt`` + ``X.dmesg.txt`` (also ``X.ftrace``/``X.kmsg``/``X.console``/``X.log``, and
  ``X-trace``/``X_dmesg`` spellings),
* ``X.txt`` + ``X.dmesg`` (or ``X.log``),
* ``trace.txt`` + ``dmesg.txt`` (any role word alone) in one directory,

with compression suffixes (``.gz``, ``.xz``, ``.zst``, ``.bz2``) ignored. A kernel log with no
trace to pair with is a capture of its own (its kernel reports are listed). Files that are
neither are skipped when found in a directory or by a glob; a file named on the command line is
checked as a trace whatever it holds. A path that does not exist, a glob that matches nothing and
a file that cannot be read are captures with an error, so the rest of the corpus is still checked.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from .errors import InputError
from .io import compression_of, read_bytes

TRACE = "trace"
LOG = "log"
UNKNOWN = "unknown"

SNIFF_BYTES = 65536
SNIFF_LINES = 1000

_COMPRESSION_SUFFIXES = (".gz", ".xz", ".zst", ".zstd", ".bz2")
_ROLE_WORDS = ("trace", "ftrace", "dmesg", "kmsg", "console", "log", "kernel")
_TEXT_SUFFIXES = (".txt", ".log", ".dat", ".html", ".out")

# ftrace: "comm-pid  (tgid) [cpu] flags  ts: event:" (comm-pid, flags and tgid optional), the latency
# format "comm-pid  10dNh1 382171111us : event", and the tracefs/trace-cmd headers.
_FTRACE_EVENT = re.compile(
    r"^\s*(?:\S.*?-\d+\s+)?(?:\(\s*(?:\d+|-+)\)\s+)?\[\d+\]\s+(?:[^\s\[\]]{4,6}\s+)?\d+\.\d+:\s+\S"
    r"|^\s*\d+\.\d+:\s+\w+:\s"  # snippets cut down to "ts: event: ..."
)
_FTRACE_LATENCY = re.compile(r"^\s*\S.*?-\d+\s+\d+[\w.]{4,6}\s+\d+us\s*:\s+\S")
_FTRACE_HEADER = re.compile(r"^(?:# tracer: \S+|cpus=\d+\s*$|version = \d+\s*$|#\s+TASK-PID\s)")
# kernel log: dmesg stamps ([ts], [ts][T123], [  +0.000021], <4>[ts]), kernel test robot
# "kern  :err   : [ts]", syslog "Mon DD hh:mm:ss host kernel:", journalctl -k.
_LOG_LINE = re.compile(
    r"^\s*(?:<\d+>)?\[\s*\+?\d+\.\d+\]"
    r"|^kern\s*:\s*\w+\s*:"
    r"|^\w{3}\s+\d+\s+\d\d:\d\d:\d\d\s+\S+\s+kernel:"
)
_LOG_MARKER = re.compile(
    r"WARNING: (?:possible|inconsistent|suspicious|bad unlock|held lock|CPU: \d+ PID)"
    r"|BUG: (?:KASAN|KFENCE|sleeping function|scheduling while atomic|Invalid wait context|"
    r"unable to handle|kernel NULL pointer|spinlock|workqueue|bad unlock)"
    r"|-{10,}\[ cut here \]-{10,}|\bCall Trace:|\bCall trace:|refcount_t: |\*\*\* DEADLOCK \*\*\*"
    r"|is trying to acquire lock:|Kernel panic - not syncing|general protection fault|Oops: "
    r"|INFO: (?:possible|task .* blocked|rcu_)|Hardware name: |Modules linked in:"
    r"|BUG: memory leak|unreferenced object 0x"
)


@dataclass(frozen=True)
class Capture:
    """One unit of the gate: a trace file and the kernel log paired with it (either may be None)."""

    name: str  # the trace's path as given (the log's for a log-only capture)
    trace: str | None = None
    log: str | None = None
    error: str | None = None  # why the capture cannot be checked (missing, unreadable, ...)


@dataclass
class Corpus:
    captures: list[Capture]
    skipped: list[str] = field(default_factory=list)  # files that are neither trace nor log


def classify_text(text: str) -> str:
    """TRACE, LOG or UNKNOWN for the beginning of a decoded file."""
    events = headers = stamps = markers = 0
    for n, line in enumerate(text.splitlines()):
        if n >= SNIFF_LINES:
            break
        if _FTRACE_EVENT.match(line) or _FTRACE_LATENCY.match(line):
            events += 1
        elif _FTRACE_HEADER.match(line):
            headers += 1
        if _LOG_LINE.match(line):
            stamps += 1
        if _LOG_MARKER.search(line):
            markers += 1
    trace_score = events + 20 * headers
    log_score = stamps + 5 * markers
    if trace_score == log_score == 0:
        return UNKNOWN
    return TRACE if trace_score > log_score else LOG


def _head(path: str) -> bytes:
    """The first SNIFF_BYTES of the file, decompressed; InputError when it cannot be read."""
    if os.path.isdir(path):
        raise InputError(path, "is a directory, not a trace file")
    try:
        with open(path, "rb") as f:
            head = f.read(SNIFF_BYTES)
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except OSError as e:
        raise InputError(path, f"cannot read: {e.strerror}") from None
    if compression_of(head[:8]):
        head = read_bytes(path)[:SNIFF_BYTES]
    elif b"\x00" in head:
        raise InputError(path, "binary file (NUL bytes), not text", line=head.count(b"\n", 0, head.index(b"\x00")) + 1)
    return head


def sniff(path: str) -> tuple[str, str | None]:
    """(kind, error) for one file: kind is TRACE, LOG or UNKNOWN; error is set when unreadable."""
    try:
        head = _head(path)
    except InputError as e:
        return UNKNOWN, str(e)
    text = head.decode("utf-8", errors="replace")
    if len(head) == SNIFF_BYTES and "\n" in text:
        text = text[: text.rindex("\n")]  # never judge a cut last line
    return classify_text(text), None


def capture_key(filename: str) -> str:
    """The name a trace and its kernel log share: the file name without compression suffixes,
    a text suffix (.txt, .log, ...) and a role word (.trace, .dmesg, -trace, _dmesg, ...).
    A file named by a role word alone (``trace.txt``, ``dmesg``) has the key ``""``."""
    name = os.path.basename(filename)
    lower = name.lower()
    for suf in _COMPRESSION_SUFFIXES:
        if lower.endswith(suf):
            name, lower = name[: -len(suf)], lower[: -len(suf)]
            break
    for suf in _TEXT_SUFFIXES:
        if lower.endswith(suf) and len(lower) > len(suf):
            name, lower = name[: -len(suf)], lower[: -len(suf)]
            break
    if lower in _ROLE_WORDS:
        return ""
    for word in _ROLE_WORDS:
        for sep in (".", "-", "_"):
            if lower.endswith(sep + word):
                return name[: -len(sep + word)]
    return name


# Documentation, source and settings found while walking a directory are not captures, even
# when they quote kernel log lines (a README often does). Files named explicitly are sniffed.
NOT_CAPTURES = frozenset({".md", ".rst", ".adoc", ".py", ".c", ".h", ".sh", ".toml", ".json",
                          ".yaml", ".yml", ".cfg", ".ini", ".lark", ".xml", ".sarif"})


def _walk(directory: str) -> Iterator[str]:
    """Every regular file under ``directory`` (hidden files and directories left out)."""
    for root, dirs, files in os.walk(directory, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield os.path.normpath(os.path.join(root, name))


def expand(paths: Iterable[str]) -> tuple[list[tuple[str, bool]], list[Capture]]:
    """(files, errors): each file with whether it was named explicitly, and error captures for
    paths that do not exist and globs that match nothing. Duplicates are dropped."""
    files: dict[str, tuple[str, bool]] = {}
    errors: list[Capture] = []

    def add(path: str, explicit: bool) -> None:
        real = path if path == "-" else os.path.realpath(path)
        old = files.get(real)
        files[real] = (path, explicit) if old is None else (min(old[0], path), old[1] or explicit)

    for raw in paths:
        if raw == "-":
            add("-", True)
            continue
        if glob.has_magic(raw):
            matches = sorted(glob.glob(raw, recursive=True))
            if not matches:
                errors.append(Capture(raw, trace=raw, error=f"{raw}: no file matches this pattern"))
            for m in matches:
                if os.path.isdir(m):
                    for f in _walk(m):
                        add(f, False)
                elif os.path.isfile(m):
                    add(os.path.normpath(m), False)
            continue
        if os.path.isdir(raw):
            for f in _walk(raw):
                add(f, False)
        elif os.path.exists(raw):
            add(os.path.normpath(raw), True)
        else:
            errors.append(Capture(raw, trace=raw, error=f"{raw}: no such file"))
    return sorted(files.values()), errors


def pair(kinds: list[tuple[str, str, bool, str | None]]) -> Corpus:
    """Build captures from (path, kind, explicit, error) rows: pair each kernel log with the
    trace in the same directory that has the same capture key."""
    captures: list[Capture] = []
    skipped: list[str] = []
    traces: dict[tuple[str, str], list[str]] = {}
    logs: list[str] = []
    for path, kind, explicit, error in sorted(kinds):
        if error is not None:
            captures.append(Capture(path, trace=path, error=error))
        elif kind == TRACE or (kind == UNKNOWN and explicit):
            traces.setdefault((os.path.dirname(path), capture_key(path)), []).append(path)
        elif kind == LOG:
            logs.append(path)
        else:
            skipped.append(path)
    paired: dict[str, str] = {}
    for log in logs:
        key = (os.path.dirname(log), capture_key(log))
        cands = [t for t in traces.get(key, []) if t not in paired]
        if cands:
            paired[cands[0]] = log
        else:
            captures.append(Capture(log, log=log))
    for group in traces.values():
        for t in group:
            captures.append(Capture(t, trace=t, log=paired.get(t)))
    captures.sort(key=lambda c: c.name)
    return Corpus(captures, sorted(skipped))


def _sniff_row(item: tuple[str, bool]) -> tuple[str, str, bool, str | None]:
    path, explicit = item
    if path == "-":
        return path, TRACE, True, None
    if not explicit and os.path.splitext(path)[1].lower() in NOT_CAPTURES:
        return path, UNKNOWN, explicit, None  # found by walking: documentation, not a capture
    kind, error = sniff(path)
    return path, kind, explicit, error


def build(files: list[tuple[str, bool]], errors: list[Capture], map_fn: Callable = map) -> Corpus:
    """Captures from :func:`expand`'s result. ``map_fn`` (``map`` or an executor's ``map``) runs
    the content sniffing, which reads (and decompresses) the start of every file."""
    corpus = pair(list(map_fn(_sniff_row, files)))
    corpus.captures = sorted(corpus.captures + errors, key=lambda c: c.name)
    return corpus


def collect(paths: Iterable[str], map_fn: Callable = map) -> Corpus:
    """Expand ``paths`` (files, directories, globs) into captures."""
    files, errors = expand(paths)
    return build(files, errors, map_fn)
