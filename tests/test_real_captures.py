"""Real kernel captures (sample_traces/real/, made by tools/capture/ under qemu).

Every capture parses with zero malformed lines; the models raise no error on a clean workload
that is not explained; for the broken modules, each report the kernel printed in dmesg is tied to
the trace finding that explains it (`tracereplay check --dmesg`).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO

from tracereplay.api import check
from tracereplay.kernlog import read_log
from tracereplay.kernlog.match import match_reports
from tracereplay.table import load_table

REAL = REPO / "sample_traces" / "real"
CAPTURES = sorted(p for p in REAL.glob("*/trace.txt*")) if REAL.is_dir() else []

# workload -> (kernel report kind in dmesg, rule of the finding that explains it, classes/objects)
BROKEN = {
    "abba": ("circular_locking", "LOCK-CYCLE", {"&dev->a_mutex", "&dev->b_mutex"}),
    "recursive": ("recursive_locking", "LOCK-SAME-CLASS", None),
    "irq_inconsistent": ("inconsistent_lock_state", "LOCK-IRQ-STATE", None),
    "refcount_underflow": ("refcount", "REF-UNDERFLOW", None),
}

# Error-level findings on the clean workloads, with the reason each is a real kernel event.
CLEAN_EXPLAINED: dict[tuple[str, str], str] = {}


def workload(path: Path) -> str:
    return path.parent.name.removesuffix("-nohash")


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.parent.name)
def test_capture_parses_completely(path):
    t = load_table([str(path)])
    (f,) = t.files
    assert f.malformed == []
    assert f.events + sum(f.non_events.values()) == f.lines
    assert f.events > 1000 and t.events["event"].is_in(["lock_acquire", "lock_release"]).sum() > 0


@pytest.mark.parametrize("path", [p for p in CAPTURES if workload(p) not in BROKEN], ids=lambda p: p.parent.name)
def test_clean_capture_has_no_unexplained_error(path):
    errors = {(workload(path), f.rule) for f in check([str(path)]).findings if f.severity == "error"}
    assert sorted(e for e in errors if e not in CLEAN_EXPLAINED) == []


@pytest.mark.parametrize("path", [p for p in CAPTURES if workload(p) in BROKEN], ids=lambda p: p.parent.name)
def test_kernel_report_is_explained_by_the_trace(path):
    kind, rule, classes = BROKEN[workload(path)]
    dmesg = path.parent / "dmesg.txt"
    reports = [r for r in read_log(str(dmesg)) if r.kind == kind]
    assert reports, f"the kernel printed no {kind} report in {dmesg}"
    findings = check([str(path)]).findings
    result = match_reports(reports, findings)
    assert result.unexplained_reports == []
    pairs = [(p.report.kind, p.finding.rule) for p in result.pairs]
    assert (kind, rule) in pairs
    if classes:
        (finding,) = [p.finding for p in result.pairs if p.finding.rule == rule]
        assert set(finding.objects) == classes
        assert finding.severity == "error"
