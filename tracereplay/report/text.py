"""Findings as a kernel developer reads them: headline, where, objects, evidence, detail."""

from __future__ import annotations

from collections import Counter

from ..findings import Finding


def fmt_ns(ns: int | None, digits: int = 9, missing: str = "-") -> str:
    """A nanosecond stamp as seconds, the way the trace prints it (6 digits: ftrace's sec.usec)."""
    if ns is None:
        return missing
    frac = f"{ns % 1_000_000_000:09d}"[:digits]
    return f"{ns // 1_000_000_000}.{frac}"


def format_finding(f: Finding, *, verbose: bool = True) -> str:
    head = f"{f.file}:{f.line}: {f.severity}: [{f.rule}] {f.title}"
    out = [head]
    who = "  ".join(x for x in (fmt_ns(f.ts_ns, 6, missing=""), f.task or "", f"CPU {f.cpu}" if f.cpu is not None else "") if x)
    if who:
        out.append(f"    at {who}")
    if f.incomplete:
        out.append(f"    trace incomplete here: {f.incomplete} (severity lowered)")
    out.append(f"    objects: {', '.join(f.objects)}")
    if f.evidence:
        out.append("    evidence:")
        out += [f"      {e.file}:{e.line}" + (f"  {e.note}" if e.note else "") for e in f.evidence]
    if verbose and f.detail:
        out += ["    " + line if line else "" for line in f.detail.rstrip("\n").split("\n")]
    out.append(f"    fingerprint: {f.fingerprint}")
    return "\n".join(out)


def summary(findings: list[Finding], events: int, lines: int, files: int, malformed: int) -> str:
    c = Counter(f.severity for f in findings)
    parts = ", ".join(f"{c[s]} {s}" for s in ("error", "warning", "info") if c[s])
    what = f"{len(findings)} finding{'s' if len(findings) != 1 else ''}" + (f" ({parts})" if parts else "")
    src = f"{events} events in {lines} lines of {files} file{'s' if files != 1 else ''}"
    bad = f"; {malformed} malformed line{'s' if malformed != 1 else ''}" if malformed else ""
    return f"{what} from {src}{bad}"
