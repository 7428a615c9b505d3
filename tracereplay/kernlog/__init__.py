"""Kernel log reports (lockdep, refcount_t, KASAN, WARN/BUG/Oops) parsed from dmesg text."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from .lines import Line, read_lines
from .reports import Report, find_reports, split_name

__all__ = ["Line", "Report", "classes", "parse_log", "read_lines", "read_log"]


def parse_log(text: str, file: str) -> list[Report]:
    """Every report in the decoded log ``text``, in log order; ``file`` names the source."""
    return find_reports(read_lines(text), file)


def _read_text(path: str) -> str:
    try:
        from .. import io as _io
    except ImportError:
        _io = None
    if _io is not None and hasattr(_io, "read_text"):
        return _io.read_text(path)
    try:
        return Path(path).read_bytes().decode("utf-8", errors="replace")
    except OSError as e:
        raise InputError(path, e.strerror or str(e)) from e


def read_log(path: str) -> list[Report]:
    """Every report in the log file ``path``."""
    return parse_log(_read_text(path), path)


def classes(report: Report) -> list[str]:
    """Lock class names involved in ``report`` (no ``#N`` / ``/subclass``), first seen first."""
    names: list[str] = []
    for entry in report.lock_chain:
        names.append(entry["name"])
    for lk in (report.acquiring, report.holding, report.releasing):
        if lk:
            names.append(lk["name"])
    for held in report.held_locks:
        names.append(split_name(held["name"])[0])
    seen: set[str] = set()
    return [n for n in names if not (n in seen or seen.add(n))]
