"""The CI gate: check every capture of a corpus in parallel and judge the result against a baseline.

``check_corpus(paths, jobs=N)`` expands the paths into captures (:mod:`tracereplay.corpus`),
checks each one in a worker process (``jobs=1``: in this process) and returns the results sorted
by capture name, so they do not depend on ``jobs`` or on the order of the paths. ``evaluate()``
compares the findings with a baseline (known fingerprints) and decides the exit status.

Nothing here prints; progress is reported through a callback.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import multiprocessing
import os
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field

from . import api
from .corpus import Capture, Corpus, build, expand
from .errors import InputError, UsageError
from .findings import Evidence, Finding, severity_rank

MALFORMED_SAMPLE = 20
SNIFF_IN_POOL = 64  # sniff in the worker processes only for more files than this
BASELINE_VERSION = 1

Progress = Callable[[int, int], None]  # (captures done, captures in total)


@dataclass
class CaptureResult:
    """What checking one capture produced. ``errors`` says why (part of) it could not be read."""

    name: str
    trace: str | None
    log: str | None
    findings: list[Finding] = field(default_factory=list)
    reports: list[dict] = field(default_factory=list)  # kernel reports (Report.to_dict())
    match: object = None  # tracereplay.kernlog.match.match_reports() result, as plain data
    errors: list[str] = field(default_factory=list)
    events: int = 0
    lines: int = 0
    files: int = 0
    malformed: int = 0
    malformed_sample: list[tuple[str, int, str]] = field(default_factory=list)
    match_text: str | None = None  # the matcher's text form, for the text output

    def to_dict(self) -> dict:
        return {
            "name": self.name, "trace": self.trace, "log": self.log, "errors": list(self.errors),
            "events": self.events, "lines": self.lines, "files": self.files, "malformed": self.malformed,
            "findings": [f.to_dict() for f in self.findings], "reports": self.reports,
            "match": self.match,
        }


def _plain(obj):
    """JSON-ready plain data from what match_reports() returns (dataclasses, findings, reports)."""
    if obj is None or isinstance(obj, str | int | float | bool):
        return obj
    if hasattr(obj, "to_dict"):
        return _plain(obj.to_dict())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _plain(dataclasses.asdict(obj))
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        items = [_plain(v) for v in obj]
        return sorted(items, key=repr) if isinstance(obj, set | frozenset) else items
    return repr(obj)


def _matcher():
    """(match_reports, to_dict, to_text) from tracereplay.kernlog.match and
    tracereplay.report.dmesg_match when those modules exist, else None."""
    if importlib.util.find_spec("tracereplay.kernlog.match") is None:
        return None
    from .kernlog import match

    fn = getattr(match, "match_reports", None)
    if fn is None:
        return None
    to_dict, to_text = _plain, None
    if importlib.util.find_spec("tracereplay.report.dmesg_match") is not None:
        from .report import dmesg_match

        to_dict = getattr(dmesg_match, "match_to_dict", _plain)
        to_text = getattr(dmesg_match, "format_match", None)
    return fn, to_dict, to_text


def check_capture(capture: Capture, mappings: list[str] | None = None, select: list[str] | None = None,
                  ignore: list[str] | None = None) -> CaptureResult:
    """Check one capture; every failure becomes an error in the result, never an exception."""
    res = CaptureResult(capture.name, capture.trace, capture.log)
    if capture.error:
        res.errors.append(capture.error)
        return res
    if capture.trace is not None:
        try:
            checked = api.check([capture.trace], mappings=mappings, select=select, ignore=ignore)
        except InputError as e:
            res.errors.append(str(e))
        except UsageError:
            raise  # a bad --mapping or rule name: the whole run is wrong, not this capture
        except Exception as e:  # a bug while checking one capture must not stop the corpus
            where = traceback.extract_tb(e.__traceback__)[-1]
            res.errors.append(f"{capture.trace}: internal error: {type(e).__name__}: {e} "
                              f"(at {os.path.basename(where.filename)}:{where.lineno})")
        else:
            res.findings = checked.findings
            t = checked.table
            res.events = len(t.events)
            res.lines = sum(f.lines for f in t.files)
            res.files = len(t.files)
            res.malformed = sum(len(f.malformed) for f in t.files)
            res.malformed_sample = [(f.path, line, reason) for f in t.files
                                    for line, reason in f.malformed][:MALFORMED_SAMPLE]
    if capture.log is not None:
        from .kernlog import read_log

        try:
            reports = read_log(capture.log)
        except InputError as e:
            res.errors.append(str(e))
        else:
            res.reports = [r.to_dict() for r in reports]
            unexplained = reports
            matcher = _matcher()
            if matcher is not None and capture.trace is not None:
                match_reports, to_dict, to_text = matcher
                try:
                    m = match_reports(reports, res.findings)
                    res.match = _plain(to_dict(m))
                    res.match_text = to_text(m) if to_text is not None else None
                    unexplained = m.unexplained_reports
                except Exception as e:  # the matcher is optional; its failure is not the capture's
                    res.match = {"error": f"{type(e).__name__}: {e}"}
            res.findings = res.findings + api.filter_rules(
                [report_finding(r) for r in unexplained], select, ignore)
    return res


# Report kinds that are warnings, not errors, as KERNEL-REPORT findings.
_WARNING_KINDS = frozenset({"warning", "lockdep_capacity", "lockdep_non_static_key"})


def report_finding(report) -> Finding:
    """A kernel report no trace finding explains, as a finding (rule KERNEL-REPORT)."""
    detail = [f"kind: {report.kind}"]
    if report.corrupted:
        detail.append(f"the report text is corrupted: {report.corrupted_reason}")
    if report.frames:
        detail.append("stack: " + ", ".join(report.frames[:8]))
    return Finding(
        rule="KERNEL-REPORT",
        title=f"kernel report: {report.title}",
        file=report.file,
        line=report.line,
        objects=[report.title],
        evidence=[Evidence(report.file, report.line, report.kind)],
        severity="warning" if report.kind in _WARNING_KINDS else "",
        task=f"{report.task}-{report.pid}" if report.task and report.pid is not None else report.task,
        detail="\n".join(detail),
        key_objects=[report.title],  # syzbot-style titles do not change from boot to boot
    )


def _check_args(args: tuple) -> CaptureResult:
    return check_capture(*args)


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def _executor(jobs: int) -> Executor:
    # Not fork: polars' thread pool does not survive fork() of a process that used it. A fork
    # server that has imported tracereplay (and never ran a query) starts workers quickly.
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["tracereplay.gate"])
    else:
        ctx = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(max_workers=jobs, mp_context=ctx)


def run(captures: Iterable[Capture], *, jobs: int | None = None, mappings: list[str] | None = None,
        select: list[str] | None = None, ignore: list[str] | None = None,
        progress: Progress | None = None, executor: Executor | None = None) -> list[CaptureResult]:
    """Check ``captures`` with ``jobs`` processes (default: all cores; 1: in this process)."""
    captures = sorted(captures, key=lambda c: c.name)
    total = len(captures)
    args = [(c, mappings, select, ignore) for c in captures]
    results: list[CaptureResult] = []

    def done(r: CaptureResult) -> None:
        results.append(r)
        if progress is not None:
            progress(len(results), total)

    jobs = default_jobs() if jobs is None else jobs
    # stdin can only be read here, and one worker process is slower than none
    local = [a for a in args if a[0].trace == "-"] if jobs > 1 else args
    remote = [a for a in args if a[0].trace != "-"] if jobs > 1 else []
    for a in local:
        done(_check_args(a))
    if remote:
        own = executor is None
        ex = executor or _executor(min(jobs, len(remote)))
        try:
            futures = [ex.submit(_check_args, a) for a in remote]
            for fut in as_completed(futures):
                done(fut.result())
        finally:
            if own:
                ex.shutdown(cancel_futures=True)
    return sorted(results, key=lambda r: r.name)


def check_corpus(paths: Iterable[str], *, jobs: int | None = None, mappings: list[str] | None = None,
                 select: list[str] | None = None, ignore: list[str] | None = None,
                 progress: Progress | None = None, log: str | None = None) -> tuple[Corpus, list[CaptureResult]]:
    """Expand ``paths`` into captures and check them all (one process pool for both steps; no
    pool at all for ``jobs=1`` or a single capture). ``log`` names a kernel log to pair with the
    only trace capture, whatever the names."""
    jobs = default_jobs() if jobs is None else max(1, jobs)
    files, errors = expand(paths)
    if log is not None:
        files = [f for f in files if os.path.realpath(f[0]) != os.path.realpath(log)]
    ex: Executor | None = None
    try:
        if jobs > 1 and len(files) > SNIFF_IN_POOL:
            ex = _executor(jobs)
            corpus = build(files, errors, lambda fn, items: ex.map(fn, items, chunksize=32))
        else:
            corpus = build(files, errors)
        if log is not None:
            corpus = _pair_explicitly(corpus, log)
        work = sum(1 for c in corpus.captures if c.error is None and c.trace != "-")
        if jobs > 1 and work > 1 and ex is None:
            ex = _executor(min(jobs, work))
        results = run(corpus.captures, jobs=jobs if work > 1 else 1, mappings=mappings, select=select,
                      ignore=ignore, progress=progress, executor=ex)
    finally:
        if ex is not None:
            ex.shutdown(cancel_futures=True)
    return corpus, results


def _pair_explicitly(corpus: Corpus, log: str) -> Corpus:
    traces = [c for c in corpus.captures if c.trace is not None and c.error is None]
    if len(traces) != 1:
        raise UsageError(f"--dmesg {log}: needs exactly one trace capture, not {len(traces)}")
    if not os.path.isfile(log):
        raise InputError(log, "no such file")
    t = traces[0]
    caps = [c for c in corpus.captures if c is not t]
    caps.append(Capture(t.name, trace=t.trace, log=log))
    if t.log is not None:
        caps.append(Capture(t.log, log=t.log))  # the log found by its name becomes its own capture
    return Corpus(sorted(caps, key=lambda c: c.name), corpus.skipped)


# -- baseline ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class BaselineEntry:
    fingerprint: str
    rule: str
    title: str
    capture: str

    def to_dict(self) -> dict:
        return {"fingerprint": self.fingerprint, "rule": self.rule, "title": self.title,
                "capture": self.capture}


def load_baseline(path: str) -> list[BaselineEntry]:
    """The entries of a baseline file (a JSON list of {fingerprint, rule, title, capture})."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise InputError(path, "no such baseline file (create it with --update-baseline)") from None
    except OSError as e:
        raise InputError(path, f"cannot read: {e.strerror}") from None
    except json.JSONDecodeError as e:
        raise InputError(path, f"not valid JSON: {e.msg}", line=e.lineno) from None
    if not isinstance(data, list):
        raise InputError(path, "a baseline is a JSON list of {fingerprint, rule, title, capture}")
    out = []
    for n, row in enumerate(data):
        if not isinstance(row, dict) or not isinstance(row.get("fingerprint"), str):
            raise InputError(path, f"entry {n}: needs a string \"fingerprint\"")
        out.append(BaselineEntry(row["fingerprint"], str(row.get("rule", "")), str(row.get("title", "")),
                                 str(row.get("capture", ""))))
    return out


def baseline_entries(results: list[CaptureResult]) -> list[BaselineEntry]:
    """One entry per distinct fingerprint (every severity), naming the first capture with it."""
    seen: dict[str, BaselineEntry] = {}
    for r in sorted(results, key=lambda r: r.name):
        for f in r.findings:
            seen.setdefault(f.fingerprint, BaselineEntry(f.fingerprint, f.rule, f.title, r.name))
    return sorted(seen.values(), key=lambda e: (e.rule, e.fingerprint))


def write_baseline(path: str, entries: list[BaselineEntry]) -> None:
    text = json.dumps([e.to_dict() for e in entries], indent=2) + "\n"
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        raise InputError(path, f"cannot write baseline: {e.strerror}") from None


# -- judgement ---------------------------------------------------------------------------------

@dataclass
class Outcome:
    """The gate's verdict over all results."""

    results: list[CaptureResult]
    fail_on: str = "error"
    baseline: list[BaselineEntry] | None = None
    skipped: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._known = None if self.baseline is None else {e.fingerprint for e in self.baseline}
        seen = {f.fingerprint for r in self.results for f in r.findings}
        self.stale = [] if self.baseline is None else [e for e in self.baseline if e.fingerprint not in seen]

    def is_new(self, f: Finding) -> bool:
        return self._known is None or f.fingerprint not in self._known

    def is_failing(self, f: Finding) -> bool:
        return self.is_new(f) and severity_rank(f.severity) >= severity_rank(self.fail_on)

    def failures(self, r: CaptureResult) -> list[Finding]:
        return [f for f in r.findings if self.is_failing(f)]

    @property
    def findings(self) -> int:
        return sum(len(r.findings) for r in self.results)

    @property
    def new(self) -> int:
        return sum(1 for r in self.results for f in r.findings if self.is_new(f))

    @property
    def failing(self) -> int:
        return sum(len(self.failures(r)) for r in self.results)

    @property
    def errored(self) -> list[CaptureResult]:
        return [r for r in self.results if r.errors]

    @property
    def exit_code(self) -> int:
        """1: a new finding at or above fail_on; else 2: a capture could not be read; else 0."""
        if self.failing:
            return 1
        return 2 if self.errored else 0

    def summary(self) -> dict:
        sev = {s: 0 for s in ("error", "warning", "info")}
        for r in self.results:
            for f in r.findings:
                sev[f.severity] += 1
        return {
            "captures": len(self.results), "errors": len(self.errored), "skipped": len(self.skipped),
            "findings": self.findings, "by_severity": sev, "new": self.new,
            "known": self.findings - self.new, "failing": self.failing, "stale": len(self.stale),
            "reports": sum(len(r.reports) for r in self.results),
            "events": sum(r.events for r in self.results), "lines": sum(r.lines for r in self.results),
            "malformed": sum(r.malformed for r in self.results), "exit_code": self.exit_code,
        }

    def to_dict(self) -> dict:
        """Everything, for ``--json FILE`` (no timings: equal inputs give equal files)."""
        caps = []
        for r in self.results:
            d = r.to_dict()
            for fd, f in zip(d["findings"], r.findings, strict=True):
                fd["new"] = self.is_new(f)
                fd["failing"] = self.is_failing(f)
            caps.append(d)
        return {
            "tool": "tracereplay", "fail_on": self.fail_on, "baseline": self.baseline is not None,
            "summary": self.summary(), "captures": caps, "stale": [e.to_dict() for e in self.stale],
            "skipped": list(self.skipped),
        }


def evaluate(results: list[CaptureResult], *, fail_on: str = "error",
             baseline: list[BaselineEntry] | None = None, skipped: list[str] | None = None) -> Outcome:
    return Outcome(sorted(results, key=lambda r: r.name), fail_on, baseline, list(skipped or []))
