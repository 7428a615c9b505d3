"""Corpus expansion (files, directories, globs), recognition by content, pairing of kernel logs,
and fingerprints that do not change from boot to boot."""

from __future__ import annotations

import bz2
import lzma

import pytest
from conftest import need_corpus
from gate_traces import LOCKDEP_LOG, lock_trace
from hypothesis import given
from hypothesis import strategies as st

from tracereplay import gate
from tracereplay.corpus import LOG, TRACE, UNKNOWN, capture_key, classify_text, collect, sniff
from tracereplay.findings import normalise_object


@pytest.mark.parametrize("name,key", [
    ("X.trace.txt", "X"), ("X.dmesg.txt", "X"), ("X.txt", "X"), ("X.dmesg", "X"), ("X.log", "X"),
    ("trace.txt", ""), ("dmesg.txt", ""), ("dmesg", ""), ("run7-trace.gz", "run7"),
    ("run7_dmesg.log.xz", "run7"), ("boot.ftrace.zst", "boot"), ("boot.kmsg", "boot"),
    ("a.b.txt", "a.b"),
])
def test_capture_key(name, key):
    assert capture_key(name) == key


def test_classify_real_corpus_by_content():
    root = need_corpus()
    for p in sorted((root / "ftrace").rglob("*")):
        if p.is_file() and p.name != "INDEX.tsv" and "dump_on_oops_in_dmesg" not in p.name:
            assert sniff(str(p)) == (TRACE, None), p
    assert sniff(str(root / "ftrace" / "INDEX.tsv"))[0] == UNKNOWN
    # ftrace_dump_on_oops output is console output: a kernel log
    dump = root / "ftrace" / "lkml-snippets" / "20170419_rostedt_ftrace_dump_on_oops_in_dmesg.txt"
    assert sniff(str(dump))[0] == LOG
    logs = sorted(p for p in (root / "kernel-reports").rglob("*") if p.is_file() and p.name != "INDEX.tsv")
    assert len(logs) > 50
    assert [str(p) for p in logs if sniff(str(p))[0] != LOG] == []


def test_classify_text_shapes():
    assert classify_text("version = 6\ncpus=2\n") == TRACE
    assert classify_text("# tracer: function_graph\n#\n") == TRACE
    assert classify_text("  4582.696626: kmem_cache_free: call_site=x ptr=0\n") == TRACE
    assert classify_text("[002] ....   808.188897: kfree: call_site=x ptr=0\n") == TRACE
    assert classify_text("<4>[   12.345678] WARNING: possible recursive locking detected\n") == LOG
    assert classify_text("Jan  3 10:00:01 host kernel: usb 1-1: new device\n") == LOG
    assert classify_text("WARNING: possible circular locking dependency detected\n") == LOG
    assert classify_text("hello\nworld\n") == UNKNOWN


def test_expand_files_dirs_globs_and_pairing(tmp_path):
    d = tmp_path / "c"
    (d / "sub").mkdir(parents=True)
    (d / ".git").mkdir()
    (d / "a.trace.txt").write_text(lock_trace("a", abba=False))
    (d / "a.dmesg.txt").write_text(LOCKDEP_LOG.format(cls="a"))
    (d / "b.txt").write_text(lock_trace("b", abba=False))
    (d / "b.dmesg").write_text(LOCKDEP_LOG.format(cls="b"))
    (d / "sub" / "trace").write_bytes(lzma.compress(lock_trace("s", abba=False).encode()))
    (d / "sub" / "dmesg.txt").write_bytes(bz2.compress(LOCKDEP_LOG.format(cls="s").encode()))
    (d / "lonely.log").write_text(LOCKDEP_LOG.format(cls="l"))
    (d / "notes.md").write_text("# notes\n")
    (d / ".git" / "trace.txt").write_text(lock_trace("hidden", abba=False))
    c = collect([str(d)])
    got = [(x.name, x.trace, x.log) for x in c.captures]
    assert got == [
        (str(d / "a.trace.txt"), str(d / "a.trace.txt"), str(d / "a.dmesg.txt")),
        (str(d / "b.txt"), str(d / "b.txt"), str(d / "b.dmesg")),
        (str(d / "lonely.log"), None, str(d / "lonely.log")),
        (str(d / "sub" / "trace"), str(d / "sub" / "trace"), str(d / "sub" / "dmesg.txt")),
    ]
    assert c.skipped == [str(d / "notes.md")]
    # a glob, a duplicate and an explicit non-capture file (checked as a trace: named explicitly)
    c2 = collect([str(d / "*.txt"), str(d / "b.txt"), str(d / "notes.md")])
    assert [x.name for x in c2.captures] == [str(d / "a.trace.txt"), str(d / "b.txt"), str(d / "notes.md")]
    # order of the paths does not matter
    assert collect([str(d / "b.txt"), str(d)]).captures == collect([str(d), str(d / "b.txt")]).captures


def test_missing_paths_and_empty_globs_are_error_captures(tmp_path):
    c = collect([str(tmp_path / "nope.txt"), str(tmp_path / "*.none")])
    assert [(x.name, x.error) for x in c.captures] == [
        (str(tmp_path / "*.none"), f"{tmp_path / '*.none'}: no file matches this pattern"),
        (str(tmp_path / "nope.txt"), f"{tmp_path / 'nope.txt'}: no such file"),
    ]
    results = gate.run(c.captures, jobs=1)
    assert all(r.errors and not r.findings for r in results)


def test_internal_errors_stay_with_their_capture(tmp_path, monkeypatch):
    good = tmp_path / "good.txt"
    good.write_text(lock_trace("g", abba=True))
    bad = tmp_path / "bad.txt"
    bad.write_text(lock_trace("b", abba=True))
    real_check = gate.api.check

    def flaky(paths, **kw):
        if paths == [str(bad)]:
            raise IndexError("list index out of range")
        return real_check(paths, **kw)

    monkeypatch.setattr(gate.api, "check", flaky)
    results = gate.run(collect([str(tmp_path)]).captures, jobs=1)
    assert [bool(r.errors) for r in results] == [True, False]
    assert "internal error: IndexError" in results[0].errors[0]
    assert [f.rule for f in results[1].findings] == ["LOCK-CYCLE"]


def test_fingerprints_survive_a_reboot(tmp_path):
    """Same bug, other addresses/pids/timestamps: same fingerprints. Other classes: different."""
    prints = []
    for seed, cls in ((1, "drv"), (9, "drv"), (1, "other")):
        p = tmp_path / f"t{seed}{cls}.txt"
        p.write_text(lock_trace(cls, abba=True, seed=seed))
        prints.append(sorted(f.fingerprint for f in gate.check_capture(collect([str(p)]).captures[0]).findings))
    assert prints[0] and prints[0] == prints[1] != prints[2]


@pytest.mark.parametrize("a,b", [
    ("0000000099631762", "ffff888003a1b0c8"),
    ("&type->i_mutex_dir_key#3/1", "&type->i_mutex_dir_key#7/1"),
    ("dma_buf_detach+0x78/0x1e0", "dma_buf_detach+0x80/0x1e0"),
    ("[<ffffffff81046fc7>] native_apic_msr_write+0x27/0x40", "native_apic_msr_write+0x2b/0x40"),
    ("kworker/u16:3-123", "kworker/2:1H-77"),
    ("irq/45-i915", "irq/131-i915"),
    ("i915:ring0 12:345", "i915:ring0 3:9"),
    ("worker-100", "worker-2000"),
    ("msm_gem_free_work+0x100/0x188 [msm 0123456789abcdef0123456789abcdef01234567]",
     "msm_gem_free_work+0x104/0x188 [msm fedcba9876543210fedcba9876543210fedcba98]"),
])
def test_normalise_object_drops_boot_specific_parts(a, b):
    assert normalise_object(a) == normalise_object(b)


@pytest.mark.parametrize("a,b", [
    ("&dev->lock_a", "&dev->lock_b"),
    ("&type->i_mutex_dir_key/1", "&type->i_mutex_dir_key/2"),
    ("dma_buf_detach+0x78/0x1e0", "dma_buf_attach+0x78/0x1e0"),
    ("i915:ring0 1:2", "amdgpu:gfx 1:2"),
    ("deadbeef_lock", "cafe_lock"),
])
def test_normalise_object_keeps_identities(a, b):
    assert normalise_object(a) != normalise_object(b)


@given(st.text(alphabet="abcdef0123456789x:/-+#&>._ []<()", max_size=60))
def test_normalise_object_is_idempotent(s):
    once = normalise_object(s)
    assert normalise_object(once) == once


@pytest.mark.parametrize("jobs", [1, 2])
def test_progress_is_reported_once_per_capture(tmp_path, jobs):
    for k in range(3):
        (tmp_path / f"t{k}.txt").write_text(lock_trace(f"p{k}", abba=bool(k % 2)))
    calls = []
    _, results = gate.check_corpus([str(tmp_path)], jobs=jobs, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(1, 3), (2, 3), (3, 3)]
    assert [r.name for r in results] == [str(tmp_path / f"t{k}.txt") for k in range(3)]
