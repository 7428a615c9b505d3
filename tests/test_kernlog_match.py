"""`check --dmesg`: real kernel reports paired with the findings of a hand-written ftrace capture."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tracereplay.api import check
from tracereplay.kernlog import read_log
from tracereplay.kernlog.match import class_name, match_reports, report_classes
from tracereplay.report.dmesg_match import format_match, match_to_dict

SHARED = Path(os.environ.get("TRACEREPLAY_SHARED",
                             Path(__file__).resolve().parents[1].parent / "shared"))
ML = SHARED / "corpus" / "kernel-reports" / "mailing-lists"
pytestmark = pytest.mark.skipif(not ML.is_dir(), reason="shared corpus not found beside the repo "
                                "(set TRACEREPLAY_SHARED to the shared/ folder)")

HEADER = """# tracer: nop
#
# entries-in-buffer/entries-written: {n}/{n}   #P:2
#
#                                _-----=> irqs-off/BH-disabled
#                               / _----=> need-resched
#                              | / _---=> hardirq/softirq
#                              || / _--=> preempt-depth
#                              ||| / _-=> migrate-disable
#                              |||| /     delay
#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION
#              | |         |   |||||     |         |
"""
H = HEADER.count("\n")  # event k (1-based) is on file line H + k

# The freedreno splat: a submit ioctl takes &msm_obj->lock under the BO's reservation
# (msm_gem_get_and_pin_iova), the free worker takes the reservation under &msm_obj->lock
# (msm_gem_free_work -> dma_buf_detach).  The same two classes in ftrace's lock_acquire text,
# followed by a double release of &dev->struct_mutex, which lockdep (already off) never reports.
EVENTS = """\
       glxgears-4675    [000] .....    21.100001: lock_acquire: 00000000dc888ae8 reservation_ww_class_mutex
       glxgears-4675    [000] .....    21.100002: lock_acquire: 00000000dc88838c &msm_obj->lock
       glxgears-4675    [000] .....    21.100003: lock_release: 00000000dc88838c &msm_obj->lock
       glxgears-4675    [000] .....    21.100004: lock_release: 00000000dc888ae8 reservation_ww_class_mutex
    kworker/u2:1-19      [001] .....    21.290001: lock_acquire: 00000000dc88838c &msm_obj->lock
    kworker/u2:1-19      [001] .....    21.290002: lock_acquire: 00000000dc888ae8 reservation_ww_class_mutex
    kworker/u2:1-19      [001] .....    21.290003: lock_release: 00000000dc888ae8 reservation_ww_class_mutex
    kworker/u2:1-19      [001] .....    21.290004: lock_release: 00000000dc88838c &msm_obj->lock
    kworker/u2:1-19      [001] .....    21.300001: lock_acquire: 00000000dc3a7070 &dev->struct_mutex
    kworker/u2:1-19      [001] .....    21.300002: lock_release: 00000000dc3a7070 &dev->struct_mutex
    kworker/u2:1-19      [001] .....    21.300003: lock_release: 00000000dc3a7070 &dev->struct_mutex
"""


@pytest.fixture
def capture(tmp_path: Path) -> str:
    lines = EVENTS.splitlines()
    path = tmp_path / "trace.txt"
    path.write_text(HEADER.format(n=len(lines)) + "\n".join(lines) + "\n")
    return str(path)


def _log(pattern: str) -> list:
    return read_log(str(next(ML.glob(pattern))))


def _reports():
    circular = _log("lockdep-circular/20200401_freedreno_circular_reservation_ww_class_mutex_*.log")
    refcount = _log("refcount/20260714_linaro-mm-sig_refcount_*.log")
    recursive = _log("lockdep-recursive/20240626_linaro-mm-sig_recursive_dma_buf_detach_*.log")
    return circular[:1] + refcount[:1] + recursive[:1]


def test_class_names_drop_version_and_subclass() -> None:
    assert class_name("&type->i_mutex_dir_key#3/1") == "&type->i_mutex_dir_key"
    assert class_name("&msm_obj->lock") == "&msm_obj->lock"
    assert class_name("(wq_completion)msm") == "(wq_completion)msm"


def test_the_trace_reproduces_the_cycle(capture: str) -> None:
    findings = check([capture]).findings
    assert [(f.rule, f.objects, f.line) for f in findings] == [
        ("LOCK-CYCLE", ["reservation_ww_class_mutex", "&msm_obj->lock"], H + 6),
        ("LOCK-BAD-UNLOCK", ["&dev->struct_mutex", "00000000dc3a7070"], H + 11),
    ]


def test_pairing_unexplained_and_beyond(capture: str) -> None:
    reports = _reports()
    assert [r.kind for r in reports] == ["circular_locking", "refcount", "recursive_locking"]
    assert report_classes(reports[0]) == ["&msm_obj->lock", "reservation_ww_class_mutex"]
    findings = check([capture]).findings
    res = match_reports(reports, findings)

    # the circular splat is the trace's LOCK-CYCLE, by its two classes
    assert [(p.report.title, p.finding.rule, p.finding.line) for p in res.pairs] == [
        ("possible deadlock in dma_buf_detach", "LOCK-CYCLE", H + 6)]
    assert res.pairs[0].reason == "same lock cycle: &msm_obj->lock -> reservation_ww_class_mutex"

    # the refcount warning has no REF-/FENCE- finding; the recursive splat's class is never
    # taken twice in the trace
    assert [(u.report.kind, u.report.title, u.reason) for u in res.unexplained] == [
        ("refcount", "WARNING: refcount bug in qxl_release_free",
         "no REF-/FENCE- finding in the trace matches (refcount)"),
        ("recursive_locking", "possible deadlock in dma_buf_detach",
         "no LOCK-RECURSIVE/LOCK-SAME-CLASS finding in the trace matches "
         "(reservation_ww_class_mutex)"),
    ]

    # the double release happened after lockdep had turned itself off
    assert [(b.finding.rule, b.finding.objects[0], b.finding.line) for b in res.beyond] == [
        ("LOCK-BAD-UNLOCK", "&dev->struct_mutex", H + 11)]
    assert res.beyond[0].reason.startswith(
        "lockdep stops after its first report (possible deadlock in dma_buf_detach, ")


def test_text_and_json_forms(capture: str) -> None:
    res = match_reports(_reports(), check([capture]).findings)
    text = format_match(res)
    assert text.splitlines()[0] == ("kernel log: 3 reports, 1 explained by the trace, "
                                    "2 unexplained; 1 finding beyond the kernel's reports")
    assert "found beyond lockdep (the kernel did not print these):" in text
    assert f"    <- {capture}:{H + 6} [LOCK-CYCLE]" in text
    d = json.loads(json.dumps(match_to_dict(res)))
    assert d["counts"] == {"reports": 3, "explained": 1, "unexplained": 2, "beyond": 1}
    assert d["pairs"][0]["finding"]["objects"] == ["reservation_ww_class_mutex", "&msm_obj->lock"]
    assert d["pairs"][0]["report"]["line"] == 2
    assert d["beyond"][0]["finding"]["rule"] == "LOCK-BAD-UNLOCK"


def test_no_findings_leaves_every_report_unexplained() -> None:
    res = match_reports(_reports(), [])
    assert res.pairs == [] and res.beyond == []
    assert len(res.unexplained) == 3


SYZ = SHARED / "corpus" / "syzkaller-reports"

# selinux_tun_dev_free_security frees the tun security blob twice (syzkaller fixture kasan-uaf/5);
# the kmem tracepoints of a raw-pointer build show the same object freed twice.
KMEM = """\
  syz-executor0-4513    [001] .....    96.100001: kmalloc: call_site=selinux_tun_dev_alloc_security+0x3c/0xd0 ptr=0xffff8801d5961a40 bytes_req=4 bytes_alloc=32 gfp_flags=GFP_KERNEL
  syz-executor0-4513    [001] .....    96.200001: kfree: call_site=selinux_tun_dev_free_security+0x15/0x20 ptr=0xffff8801d5961a40
  syz-executor0-4513    [001] .....    96.262001: kfree: call_site=selinux_tun_dev_free_security+0x15/0x20 ptr=0xffff8801d5961a40
"""


@pytest.mark.skipif(not SYZ.is_dir(), reason="shared corpus not found")
def test_kasan_invalid_free_pairs_by_object_address(tmp_path: Path) -> None:
    from tracereplay.kernlog import parse_log

    raw = (SYZ / "kasan-uaf" / "5").read_text(errors="replace")
    log = raw.partition("\n\n")[2].split("\nREPORT:\n")[0]
    rep = parse_log(log, "kasan-uaf/5")[0]
    assert (rep.title, rep.kasan["object"], rep.kasan["object_size"]) == (
        "KASAN: invalid-free in selinux_tun_dev_free_security", "ffff8801d5961a40", 32)
    lines = KMEM.splitlines()
    path = tmp_path / "kmem.txt"
    path.write_text(HEADER.format(n=len(lines)) + "\n".join(lines) + "\n")
    findings = check([str(path)]).findings
    res = match_reports([rep], findings)
    assert [(p.finding.rule, p.finding.line, p.reason) for p in res.pairs] == [
        ("SLAB-DOUBLE-FREE", H + 3, "same object: ffff8801d5961a40")]
    assert res.unexplained == [] and res.beyond == []
