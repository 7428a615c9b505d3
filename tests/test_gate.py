"""The CI gate end to end: a corpus of real and generated captures, a baseline, the exit status,
JUnit/SARIF/JSON outputs, -j1 == -j2, and unreadable captures."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import need_corpus
from gate_traces import LOCKDEP_LOG, lock_trace, write_lock_corpus
from report_checks import check_junit, check_sarif

from tracereplay import gate
from tracereplay.cli import main

N_ABBA, N_CLEAN = 18, 10


@pytest.fixture(scope="module")
def real_traces() -> list[str]:
    """The real ftrace captures of the shared corpus that check without an error."""
    ftrace = need_corpus() / "ftrace"
    _, results = gate.check_corpus([str(ftrace)], jobs=1)
    good = sorted(r.trace for r in results if r.trace and not r.errors)
    if len(good) < 20:
        pytest.skip(f"only {len(good)} readable real captures in {ftrace}")
    return good


def run(args: list[str], cwd: Path) -> tuple[int, str, str]:
    """Run the CLI in ``cwd``: (exit status, stdout, stderr)."""
    old = os.getcwd()
    os.chdir(cwd)
    try:
        res = CliRunner().invoke(main, args, catch_exceptions=False)
    finally:
        os.chdir(old)
    return res.exit_code, res.stdout, res.stderr


@pytest.fixture
def corpus(tmp_path):
    gen = tmp_path / "generated"
    write_lock_corpus(gen, N_ABBA, N_CLEAN)
    # a trace with its kernel log beside it (X.trace.txt + X.dmesg.txt)
    (gen / "gen_abba_000.dmesg.txt").write_text(LOCKDEP_LOG.format(cls="gendrv0"))
    # a capture directory: trace.txt + dmesg.txt
    run_dir = gen / "run1"
    run_dir.mkdir()
    (run_dir / "trace.txt").write_text(lock_trace("run1drv", abba=False))
    (run_dir / "dmesg.txt").write_text(LOCKDEP_LOG.format(cls="run1drv"))
    # not a capture: skipped when found in a directory
    (gen / "README.md").write_text("notes about this corpus\n")
    return {"gen": gen, "root": tmp_path}


def test_gate_end_to_end(corpus, real_traces):
    root, gen, real = corpus["root"], corpus["gen"], real_traces
    paths = [*real, str(gen)]
    baseline = root / "known.json"
    n_caps = len(real) + N_ABBA + N_CLEAN + 1
    assert n_caps >= 50

    # 1. record the baseline: every current finding is known
    code, out, err = run(["check", "-j1", "-q", "--baseline", str(baseline), "--update-baseline", *paths], root)
    assert code == 0, err
    entries = json.loads(baseline.read_text())
    assert {"fingerprint", "rule", "title", "capture"} <= set(entries[0])
    cycles = [e for e in entries if e["rule"] == "LOCK-CYCLE"]
    assert len(cycles) == N_ABBA
    assert len({e["fingerprint"] for e in entries}) == len(entries)

    # 2. the same corpus against the baseline: green
    code, out, err = run(["check", "-j1", "--baseline", str(baseline), "--json", "all.json", *paths], root)
    assert code == 0, err
    assert out.splitlines()[-1].startswith(f"{n_caps} captures: ")
    assert f"{len(entries)} known (baseline)" in out
    doc = json.loads((root / "all.json").read_text())
    assert doc["summary"]["captures"] == n_caps and doc["summary"]["new"] == 0
    assert doc["skipped"] == [str(gen / "README.md")]
    paired = {c["name"]: c for c in doc["captures"]}
    abba0 = paired[str(gen / "gen_abba_000.trace.txt")]
    assert abba0["log"] == str(gen / "gen_abba_000.dmesg.txt")
    assert [r["title"] for r in abba0["reports"]] == ["possible deadlock in drv_path_b"]
    assert [f["rule"] for f in abba0["findings"]] == ["LOCK-CYCLE"]
    assert paired[str(gen / "run1" / "trace.txt")]["log"] == str(gen / "run1" / "dmesg.txt")

    # 3. a new AB-BA capture (new classes) turns the gate red, with exactly that failure
    new = gen / "late_abba.txt"
    new.write_text(lock_trace("latedrv", abba=True, seed=77))
    code, out, err = run(["check", "-j2", "--baseline", str(baseline), "--junit", "j.xml", "--sarif", "s.sarif",
                          "--summary", "s.md", *paths], root)
    assert code == 1, err
    heads = [line for line in out.splitlines() if ": error: [" in line]
    assert len(heads) == 1 and "[LOCK-CYCLE]" in heads[0] and "&latedrv->lock_a" in heads[0]
    assert "1 new," in out
    junit = check_junit(root / "j.xml")
    assert junit["tests"] == n_caps + 1
    assert junit["failures"] == {str(new): ["LOCK-CYCLE"]}
    sarif = check_sarif(json.loads((root / "s.sarif").read_text()))
    states = [r["baselineState"] for r in sarif["runs"][0]["results"]]
    assert states.count("new") == 1 and states.count("unchanged") == len(states) - 1
    md = (root / "s.md").read_text()
    assert md.startswith("### tracereplay: failed") and "latedrv" in md

    # a boot-to-boot variation of a known capture (other addresses, pids, times) is not new
    (gen / "gen_abba_003_reboot.txt").write_text(lock_trace("gendrv3", abba=True, seed=500))
    # 4. removing the new capture turns it green again
    new.unlink()
    code, out, err = run(["check", "-j1", "--baseline", str(baseline), *paths], root)
    assert code == 0, err
    (gen / "gen_abba_003_reboot.txt").unlink()

    # 5. a fixed bug leaves a stale baseline entry, reported but not failing
    (gen / "gen_abba_005.trace.txt").write_text(lock_trace("gendrv5", abba=False, seed=5))
    code, out, err = run(["check", "-j1", "--baseline", str(baseline), "--summary", "s.md", *paths], root)
    assert code == 0, err
    stale = [line for line in out.splitlines() if line.startswith("stale baseline entry:")]
    assert len(stale) == 1 and "&gendrv5->lock_a" in stale[0]
    assert "1 stale baseline entry" in (root / "s.md").read_text()


def test_jobs_and_order_do_not_change_results(corpus, real_traces):
    root, gen, real = corpus["root"], corpus["gen"], real_traces
    paths = [*real[:10], str(gen)]
    code1, _, _ = run(["check", "-q", "-j1", "--json", "j1.json", *paths], root)
    code2, _, _ = run(["check", "-q", "-j2", "--json", "j2.json", *reversed(paths)], root)
    assert code1 == code2 == 1
    assert (root / "j1.json").read_text() == (root / "j2.json").read_text()
    code3, out1, _ = run(["check", "-q", "-j1", "--format", "json", *paths], root)
    code4, out2, _ = run(["check", "-q", "-j2", "--format", "json", *reversed(paths)], root)
    assert out1 == out2 and len(out1.splitlines()) >= N_ABBA


def test_unreadable_captures_are_errors_and_the_rest_is_checked(corpus):
    root, gen = corpus["root"], corpus["gen"]
    (gen / "corrupt.txt").write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00binary junk\n" * 10)
    missing = str(root / "gone.txt")
    base = root / "known.json"
    code, _, err = run(["check", "-j1", "-q", "--baseline", str(base), "--update-baseline", str(gen)], root)
    assert code == 2  # the corrupt capture could not be read; everything else is in the baseline
    assert f"tracereplay: error: {gen / 'corrupt.txt'}:1: binary file" in err
    code, out, err = run(["check", "-j2", "--baseline", str(base), "--junit", "j.xml", "--json", "all.json",
                          str(gen), missing], root)
    assert code == 2, err
    assert f"tracereplay: error: {missing}: no such file" in err
    assert "2 captures could not be checked" in out
    junit = check_junit(root / "j.xml")
    assert junit["errors"] == {str(gen / "corrupt.txt"), missing}
    doc = json.loads((root / "all.json").read_text())
    checked = [c for c in doc["captures"] if not c["errors"]]
    assert len(checked) == N_ABBA + N_CLEAN + 1
    assert sum(len(c["findings"]) for c in checked) >= N_ABBA
    # a new finding still turns the gate red (1) when captures are unreadable
    (gen / "late.txt").write_text(lock_trace("latedrv", abba=True))
    code, _, _ = run(["check", "-j1", "-q", "--baseline", str(base), str(gen), missing], root)
    assert code == 1


def test_compressed_captures_are_recognised_by_content(tmp_path):
    import gzip

    gen = tmp_path / "c"
    gen.mkdir()
    (gen / "blob").write_bytes(gzip.compress(lock_trace("gzdrv", abba=True).encode()))
    (gen / "blob.log").write_bytes(gzip.compress(LOCKDEP_LOG.format(cls="gzdrv").encode()))
    corpus, results = gate.check_corpus([str(gen)], jobs=1)
    assert [(c.trace, c.log) for c in corpus.captures] == [(str(gen / "blob"), str(gen / "blob.log"))]
    assert [f.rule for f in results[0].findings] == ["LOCK-CYCLE"]
    assert len(results[0].reports) == 1


def test_baseline_errors_are_usage_errors(tmp_path):
    t = tmp_path / "t.txt"
    t.write_text(lock_trace("x", abba=False))
    code, _, err = run(["check", "-j1", "--baseline", str(tmp_path / "none.json"), str(t)], tmp_path)
    assert code == 2 and "no such baseline file" in err
    (tmp_path / "bad.json").write_text("{")
    code, _, err = run(["check", "-j1", "--baseline", "bad.json", str(t)], tmp_path)
    assert code == 2 and "not valid JSON" in err
    code, _, err = run(["check", "-j1", "--update-baseline", str(t)], tmp_path)
    assert code == 2 and "--update-baseline needs --baseline" in err
    code, _, err = run(["check", "-j1", "--select", "NOPE-", str(t)], tmp_path)
    assert code == 2 and "no rule has this ID or prefix" in err


def test_stdin_is_one_capture(tmp_path):
    runner = CliRunner()
    res = runner.invoke(main, ["check", "-j2", "-"], input=lock_trace("stdin", abba=True))
    assert res.exit_code == 1
    assert "<stdin>:" in res.stdout or "-:" in res.stdout


def test_real_corpus_directory_is_gated(tmp_path):
    """The shared corpus as it is: kernel logs become log-only captures, non-captures skipped."""
    root = need_corpus()
    shutil.copytree(root / "ftrace" / "lkml-snippets", tmp_path / "snips")
    corpus, results = gate.check_corpus([str(tmp_path / "snips")], jobs=1)
    kinds = {Path(c.name).name: (c.trace is not None, c.log is not None) for c in corpus.captures}
    assert kinds["20170419_rostedt_ftrace_dump_on_oops_in_dmesg.txt"] == (False, True)
    assert kinds["20251106_rostedt_lock_acquire_release_nonrt.txt"] == (True, False)
    assert len(results) == len(list((tmp_path / "snips").iterdir()))


def test_paired_log_is_matched_and_dmesg_pairs_explicitly(tmp_path):
    (tmp_path / "x.trace.txt").write_text(lock_trace("drv", abba=True))
    (tmp_path / "x.dmesg.txt").write_text(LOCKDEP_LOG.format(cls="drv"))
    (tmp_path / "elsewhere.log").write_text(LOCKDEP_LOG.format(cls="other"))
    code, out, _ = run(["check", "-j1", "--json", "all.json", "x.trace.txt", "x.dmesg.txt"], tmp_path)
    assert code == 1
    assert "x.trace.txt: paired with x.dmesg.txt" in out
    cap = json.loads((tmp_path / "all.json").read_text())["captures"][0]
    assert cap["log"] == "x.dmesg.txt" and len(cap["reports"]) == 1
    if cap["match"] is not None:  # tracereplay.kernlog.match is there: the report is explained
        assert cap["match"]["counts"]["explained"] == 1
    code, out, _ = run(["check", "-j1", "--json", "all.json", "--dmesg", "elsewhere.log", "x.trace.txt"], tmp_path)
    assert code == 1 and "x.trace.txt: paired with elsewhere.log" in out
    caps = json.loads((tmp_path / "all.json").read_text())["captures"]
    assert [(c["name"], c["log"]) for c in caps] == [("x.trace.txt", "elsewhere.log")]
    code, _, err = run(["check", "-j1", "--dmesg", "elsewhere.log", "x.trace.txt", "x.dmesg.txt",
                        str(tmp_path)], tmp_path)
    assert code == 0 or code == 1
    (tmp_path / "y.txt").write_text(lock_trace("y", abba=False))
    code, _, err = run(["check", "-j1", "--dmesg", "elsewhere.log", "x.trace.txt", "y.txt"], tmp_path)
    assert code == 2 and "needs exactly one trace capture, not 2" in err
