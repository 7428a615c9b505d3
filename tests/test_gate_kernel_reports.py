"""Kernel reports that no trace finding explains are findings (KERNEL-REPORT): a CI gate fails
on them and can baseline them by their boot-independent syzbot-style title."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner
from conftest import REPO

from tracereplay.cli import main
from tracereplay.corpus import Capture
from tracereplay.gate import check_capture

REAL = REPO / "sample_traces" / "real"


def need(path):
    if not path.exists():
        pytest.skip(f"{path} not present")
    return path


def test_log_alone_reports_become_findings():
    log = need(REAL / "abba" / "dmesg.txt")
    res = check_capture(Capture(str(log), None, str(log)))
    (f,) = res.findings
    assert (f.rule, f.severity, f.objects, f.file) == (
        "KERNEL-REPORT", "error", ["possible deadlock in path_ba"], str(log))
    assert f.line == res.reports[0]["line"]


def test_fingerprint_is_the_same_across_boots():
    a = check_capture(Capture("a", None, str(need(REAL / "abba" / "dmesg.txt")))).findings
    b = check_capture(Capture("b", None, str(need(REAL / "abba-nohash" / "dmesg.txt")))).findings
    assert [f.fingerprint for f in a] == [f.fingerprint for f in b]


def test_explained_report_is_not_repeated():
    d = need(REAL / "abba")
    res = check_capture(Capture("abba", str(d / "trace.txt.xz"), str(d / "dmesg.txt")))
    assert [f.rule for f in res.findings if f.severity == "error"] == ["LOCK-CYCLE"]
    assert not any(f.rule == "KERNEL-REPORT" for f in res.findings)


def test_gate_fails_then_baseline_passes(tmp_path):
    src = need(REAL / "irq_inconsistent" / "dmesg.txt")
    shutil.copy(src, tmp_path / "boot.dmesg")
    base = tmp_path / "known.json"
    r = CliRunner().invoke(main, ["check", "-j1", "-q", "--format", "json", str(tmp_path)])
    assert r.exit_code == 1
    rows = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
    assert [(x["rule"], x["objects"]) for x in rows] == [("KERNEL-REPORT", ["inconsistent lock state in stat_timer_fn"])]
    r = CliRunner().invoke(main, ["check", "-j1", "-q", "--baseline", str(base), "--update-baseline", str(tmp_path)])
    r = CliRunner().invoke(main, ["check", "-j1", "-q", "--baseline", str(base), str(tmp_path)])
    assert r.exit_code == 0
