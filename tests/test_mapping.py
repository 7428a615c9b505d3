"""The declarative mapping: built-in mappings load and validate, a driver event is added by a TOML
file only (through the CLI), and the models stay quiet on real traces except for real bugs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import HEADER_LINES, ev

from tracereplay.api import check
from tracereplay.cli import main
from tracereplay.engine import known_ops
from tracereplay.mapping import default_mappings

L = HEADER_LINES
REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TRACEREPLAY_SHARED", REPO.parent / "shared"))
MY_FAMILIES = ("FENCE-", "SLAB-", "RCU-", "REF-")

# The worked example of docs/mapping.md: a driver tracepoint that names a fence by its
# (context, seqno), mapped onto the core dma_fence view (src = dma_fence) without any code.
MY_TOML = """
[[map]]
event = "mydrv_job_done"
op = "fence.use"
fields = { context = "kv:fence_ctx", seqno = "kv:fence_seqno", src = "lit:dma_fence" }
"""


def fe(event, ctx, seq, ts):
    return ev("kworker/0:1", 44, 0, ts, f"{event}: driver=mydrv timeline=gfx context={ctx} seqno={seq}", "d..1.")


def test_builtin_mappings_validate():
    ops = known_ops()
    entries = default_mappings()
    sources = {Path(e.source).name for e in entries}
    assert {"fence.toml", "kmem.toml", "rcu.toml", "refcount.toml", "xe.toml", "lock.toml"} <= sources
    for e in entries:
        assert e.op in ops, (e.source, e.event, e.op)
        assert set(ops[e.op]) <= set(e.fields), (e.source, e.event)
    events = {e.event for e in entries}
    for name in ("dma_fence_init", "fence_signaled", "kmem_cache_free", "rcu_grace_period", "xe_hw_fence_create",
                 "xe_sched_job_free", "dma_fence_get_rcu", "dma_fence_get_rcu_safe", "dma_fence_signal",
                 "refcount_warn"):
        assert name in events
    rcu = {(e.event, e.where) for e in entries if e.op.startswith("rcu.read_")}
    assert rcu == {(ev_, f"name={n}") for ev_ in ("lock_acquire", "lock_release")
                   for n in ("rcu_read_lock", "rcu_read_lock_bh", "rcu_read_lock_sched")}


def test_driver_event_added_by_mapping_only(trace_file, tmp_path):
    job = ev("kworker/u8:2", 90, 1, 100.3, "mydrv_job_done: job=00000000deadbeef fence_ctx=42 fence_seqno=17",
             ".....")
    path = trace_file([fe("dma_fence_init", 42, 17, 100.0), fe("dma_fence_signaled", 42, 17, 100.1),
                       fe("dma_fence_destroy", 42, 17, 100.2), job])
    mine = tmp_path / "my.toml"
    mine.write_text(MY_TOML)
    runner = CliRunner()
    without = runner.invoke(main, ["check", "--format", "json", "-j", "1", path])
    assert without.exit_code == 0, without.output
    assert [json.loads(x) for x in without.output.splitlines() if x.startswith("{")] == []
    res = runner.invoke(main, ["check", "--format", "json", "-j", "1", "--mapping", str(mine), path])
    assert res.exit_code == 1, res.output
    found = [json.loads(x) for x in res.output.splitlines() if x.startswith("{")]
    assert [(f["rule"], f["objects"], f["line"]) for f in found] == [
        ("FENCE-USE-AFTER-FREE", ["42:17", "mydrv:gfx"], L + 4)]


def test_bad_user_mapping_is_a_usage_error(trace_file, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[map]]\nevent = "x"\nop = "fence.use"\nfields = { context = "kv:c" }\n')
    res = CliRunner().invoke(main, ["check", "-j", "1", "--mapping", str(bad), trace_file([fe("dma_fence_init", 1, 1, 1.0)])])
    assert res.exit_code == 2
    assert "needs fields" in res.output


# -- real traces -------------------------------------------------------------------------------
def _corpus_traces() -> list[Path]:
    root = SHARED / "corpus" / "ftrace"
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name not in ("INDEX.tsv", "README.md")
                  and "funcgraph" not in p.name and "functrace" not in p.name)


@pytest.mark.parametrize("path", _corpus_traces(), ids=lambda p: str(p.relative_to(SHARED)))
def test_no_error_on_real_corpus(path):
    try:
        findings = check([str(path)]).findings
    except Exception as e:  # traces the parser rejects are the parser's tests' business
        pytest.skip(f"not checkable: {e}")
    errors = [(f.rule, f.line, f.title) for f in findings
              if f.rule.startswith(MY_FAMILIES) and f.severity == "error"]
    assert errors == []


# Error-level findings of these models on the real captures (tools/capture), each with the reason
# it is a real bug or why it is expected. Any other error fails the test.
EXPLAINED = {
    ("refcount_underflow", "REF-UNDERFLOW"):
        "tools/capture/modules/refcount_underflow.c puts its dma_fence twice on purpose; the kernel's "
        "refcount_warn_saturate(t=3) kprobe fires on the second dma_fence_put()",
}


def _real_traces() -> list[Path]:
    return sorted(p for p in (REPO / "sample_traces" / "real").glob("*/trace.txt*"))


@pytest.mark.parametrize("path", _real_traces(), ids=lambda p: p.parent.name)
def test_real_captures_errors_are_explained(path):
    findings = check([str(path)]).findings
    workload = path.parent.name.removesuffix("-nohash")  # the same workload booted with no_hash_pointers
    errors = {(workload, f.rule) for f in findings
              if f.rule.startswith(MY_FAMILIES) and f.severity == "error"}
    unexplained = sorted(e for e in errors if e not in EXPLAINED)
    assert unexplained == []
    expected = {k for k in EXPLAINED if k[0] == workload}
    assert expected <= errors  # the real bugs are found
