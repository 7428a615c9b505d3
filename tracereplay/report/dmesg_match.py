"""Kernel log reports vs trace findings (``tracereplay check --dmesg``): text and JSON forms."""

from __future__ import annotations

from typing import Any

from ..findings import Finding
from ..kernlog.match import MatchResult
from ..kernlog.reports import Report


def _where(rep: Report) -> str:
    return f"{rep.file}:{rep.line}"


def _finding_ref(f: Finding) -> str:
    return f"{f.file}:{f.line} [{f.rule}] {f.title}"


def format_match(result: MatchResult) -> str:
    """Three sections: explained reports, reports the trace cannot explain, findings beyond."""
    out: list[str] = []
    n_rep = len(result.pairs) + len(result.unexplained)
    out.append(f"kernel log: {n_rep} report{'s' if n_rep != 1 else ''}, "
               f"{len(result.pairs)} explained by the trace, "
               f"{len(result.unexplained)} unexplained; "
               f"{len(result.beyond)} finding{'s' if len(result.beyond) != 1 else ''} "
               "beyond the kernel's reports")
    if result.pairs:
        out.append("")
        out.append("explained:")
        for p in result.pairs:
            out.append(f"  {_where(p.report)}: {p.report.title}")
            out.append(f"    <- {_finding_ref(p.finding)}")
            out.append(f"       {p.reason}")
    if result.unexplained:
        out.append("")
        out.append("not explained by the trace:")
        for u in result.unexplained:
            out.append(f"  {_where(u.report)}: {u.report.title}")
            out.append(f"    {u.reason}")
    if result.beyond:
        out.append("")
        out.append("found beyond lockdep (the kernel did not print these):")
        for b in result.beyond:
            out.append(f"  {_finding_ref(b.finding)}")
            out.append(f"    {b.reason}")
    return "\n".join(out)


def _report_ref(rep: Report) -> dict[str, Any]:
    return {"kind": rep.kind, "title": rep.title, "corrupted": rep.corrupted, "file": rep.file,
            "line": rep.line, "timestamp": rep.timestamp}


def _finding_dict(f: Finding) -> dict[str, Any]:
    return {"rule": f.rule, "title": f.title, "file": f.file, "line": f.line,
            "objects": list(f.objects), "fingerprint": f.fingerprint}


def match_to_dict(result: MatchResult) -> dict[str, Any]:
    """JSON-ready form: ``pairs``, ``unexplained`` and ``beyond`` lists plus counts."""
    return {
        "pairs": [{"report": _report_ref(p.report), "finding": _finding_dict(p.finding),
                   "reason": p.reason} for p in result.pairs],
        "unexplained": [{"report": _report_ref(u.report), "reason": u.reason}
                        for u in result.unexplained],
        "beyond": [{"finding": _finding_dict(b.finding), "reason": b.reason}
                   for b in result.beyond],
        "counts": {"reports": len(result.pairs) + len(result.unexplained),
                   "explained": len(result.pairs), "unexplained": len(result.unexplained),
                   "beyond": len(result.beyond)},
    }
