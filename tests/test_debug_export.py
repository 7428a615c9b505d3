"""tracereplay export --perfetto: Chrome JSON trace events (Perfetto UI, chrome://tracing)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import simulated

from tracereplay import api
from tracereplay.cli import main
from tracereplay.debug.perfetto import FENCE_PID, OBJECT_PID, trace_events

SHARED = Path(os.environ.get("TRACEREPLAY_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))
FTRACE = SHARED / "corpus" / "ftrace"
REPO = Path(__file__).resolve().parents[1]

HEADER = """# tracer: nop
#
# entries-in-buffer/entries-written: {n}/{n}   #P:4
#
#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION
#              | |         |   |||||     |         |
"""
A, B = "00000000a5a5a001", "00000000b6b6b002"


def ev(comm: str, pid: int, cpu: int, us: int, body: str, flags: str = "...1.") -> str:
    return f"{comm:>16}-{pid:<7} [{cpu:03d}] {flags}     1.{us:06d}: {body}"


LINES = [
    ev("Xorg", 303, 3, 5, "kmalloc: call_site=drm_gem_object_init+0x3c/0x110 ptr=ffff888012345600 "
                          "bytes_req=96 bytes_alloc=96 gfp_flags=GFP_KERNEL node=-1 accounted=false"),
    ev("kworker/1:2", 101, 1, 10, f"lock_acquire: {A} &dev->a_lock"),
    ev("kworker/1:2", 101, 1, 20, f"lock_acquire: {B} &dev->b_lock"),
    ev("kworker/1:2", 101, 1, 30, f"lock_release: {B} &dev->b_lock"),
    ev("kworker/1:2", 101, 1, 40, f"lock_release: {A} &dev->a_lock"),
    ev("gpu-sched", 202, 2, 50, f"lock_acquire: {B} &dev->b_lock"),
    ev("gpu-sched", 202, 2, 52, f"lock_contended: {B} &dev->b_lock"),
    ev("gpu-sched", 202, 2, 60, f"lock_acquired: {B} &dev->b_lock"),
    ev("gpu-sched", 202, 2, 70, f"lock_acquire: {A} &dev->a_lock"),
    ev("gpu-sched", 202, 2, 80, f"lock_release: {A} &dev->a_lock"),
    ev("gpu-sched", 202, 2, 90, f"lock_release: {B} &dev->b_lock"),
    ev("Xorg", 303, 3, 95, "kfree: call_site=drm_gem_object_free+0x2a/0x40 ptr=ffff888012345600"),
    ev("gpu-sched", 202, 2, 100, "contention_begin: ffff888100a1b2c0 (flags=SPIN)"),
    ev("Xorg", 303, 3, 110, "dma_fence_emit: driver=i915 timeline=ring0 context=12 seqno=34"),
    ev("gpu-sched", 202, 2, 125, "contention_end: ffff888100a1b2c0 (ret=0)"),
    ev("<idle>", 0, 0, 150, "dma_fence_signaled: driver=i915 timeline=ring0 context=12 seqno=34", "d.h1."),
    ev("Xorg", 303, 3, 160, "dma_fence_emit: driver=i915 timeline=ring0 context=12 seqno=35"),
    ev("Xorg", 303, 3, 200, "sched_switch: prev_comm=Xorg prev_pid=303 prev_prio=120 prev_state=S ==> "
                            "next_comm=swapper/3 next_pid=0 next_prio=120", "d..2."),
]


@pytest.fixture
def trace(tmp_path):
    p = tmp_path / "t.txt"
    p.write_text(HEADER.format(n=len(LINES)) + "\n".join(LINES) + "\n")
    return str(p)


def spans(data: dict, cat: str) -> list[tuple]:
    return sorted((e["name"], e["pid"], e["tid"], e["ts"], e["dur"])
                  for e in data["traceEvents"] if e["ph"] == "X" and e["cat"] == cat)


def assert_nested(data: dict) -> None:
    """Complete slices of one thread nest (viewers drop those that do not)."""
    by: dict[tuple, list] = {}
    for e in data["traceEvents"]:
        if e["ph"] == "X":
            by.setdefault((e["pid"], e["tid"]), []).append((e["ts"], e["ts"] + e["dur"]))
    for v in by.values():
        stack: list[float] = []
        for start, end in sorted(v, key=lambda x: (x[0], -x[1])):
            while stack and stack[-1] <= start:
                stack.pop()
            assert not stack or end <= stack[-1]
            stack.append(end)


def test_overlapping_holds_get_their_own_track(tmp_path):
    lines = [
        ev("kworker/1:2", 101, 1, 10, f"lock_acquire: {A} &dev->a_lock"),
        ev("kworker/1:2", 101, 1, 20, f"lock_acquire: {B} &dev->b_lock"),
        ev("kworker/1:2", 101, 1, 30, f"lock_release: {A} &dev->a_lock"),
        ev("kworker/1:2", 101, 1, 40, f"lock_release: {B} &dev->b_lock"),
    ]
    p = tmp_path / "o.txt"
    p.write_text(HEADER.format(n=len(lines)) + "\n".join(lines) + "\n")
    res = api.check([str(p)])
    data = trace_events(res.table, res.findings)
    holds = spans(data, "lock.hold")
    assert [(h[0], h[1], h[3], h[4]) for h in holds] == [
        ("&dev->a_lock", 101, 1000010.0, 20.0), ("&dev->b_lock", 101, 1000020.0, 20.0)]
    assert holds[0][2] == 101 and holds[1][2] != 101
    names = {e["tid"]: e["args"]["name"] for e in data["traceEvents"] if e["name"] == "thread_name"}
    assert names[holds[1][2]] == "kworker/1:2-101 (overlapping holds 1)"
    assert_nested(data)


def test_hand_written_spans(trace, tmp_path):
    out = tmp_path / "o.json"
    res, _ = api.export_perfetto([trace], str(out))
    data = json.loads(out.read_text())
    assert isinstance(data["traceEvents"], list) and data["displayTimeUnit"] == "ns"
    assert spans(data, "lock.hold") == [
        ("&dev->a_lock", 101, 101, 1000010.0, 30.0),
        ("&dev->a_lock", 202, 202, 1000070.0, 10.0),
        ("&dev->b_lock", 101, 101, 1000020.0, 10.0),
        ("&dev->b_lock", 202, 202, 1000050.0, 40.0),
    ]
    assert spans(data, "lock.wait") == [
        ("&dev->b_lock", 202, 202, 1000052.0, 8.0),
        ("contention:SPIN", 202, 202, 1000100.0, 25.0),
    ]
    fences = [(e["ph"], e["id"], e["ts"]) for e in data["traceEvents"] if e.get("cat") == "dma_fence"]
    assert sorted(fences) == [("b", "12:34", 1000110.0), ("b", "12:35", 1000160.0),
                              ("e", "12:34", 1000150.0), ("e", "12:35", 1000200.0)]
    assert {e["pid"] for e in data["traceEvents"] if e.get("cat") == "dma_fence"} == {FENCE_PID}
    assert {e["name"] for e in data["traceEvents"] if e.get("cat") == "dma_fence"} == {"i915 ring0"}
    unsignalled = next(e for e in data["traceEvents"] if e.get("id") == "12:35" and e["ph"] == "b")
    assert unsignalled["args"]["state"] == "not signalled in the trace"
    objs = [(e["ph"], e["ts"], e["pid"]) for e in data["traceEvents"] if e.get("cat") == "object"]
    assert sorted(objs) == [("b", 1000005.0, OBJECT_PID), ("e", 1000095.0, OBJECT_PID)]
    found = [e for e in data["traceEvents"] if e.get("cat") == "finding"]
    assert len(found) == len(res.findings)
    cycle = next(e for e in found if e["args"]["rule"] == "LOCK-CYCLE")
    assert cycle["ph"] == "i" and cycle["s"] == "g" and cycle["ts"] == 1000070.0
    assert cycle["name"].startswith("LOCK-CYCLE: possible circular locking dependency")
    assert cycle["args"]["where"] == f"{trace}:15"
    assert cycle["args"]["evidence"][0] == f"{trace}:8 @ 1.000010000 &dev->a_lock acquired"
    assert len(cycle["args"]["evidence"]) == 4
    names = {(e["pid"], e["tid"]): e["args"]["name"] for e in data["traceEvents"]
             if e["ph"] == "M" and e["name"] == "thread_name"}
    assert names[(101, 101)] == "kworker/1:2-101" and names[(202, 202)] == "gpu-sched-202"


def test_every_event_is_well_formed(trace):
    res = api.check([trace])
    data = json.loads(json.dumps(trace_events(res.table, res.findings)))
    for e in data["traceEvents"]:
        assert e["ph"] in {"X", "b", "e", "i", "M"}
        assert isinstance(e["pid"], int) and isinstance(e["tid"], int)
        if e["ph"] != "M":
            assert isinstance(e["ts"], float) and e["ts"] >= 0
        if e["ph"] == "X":
            assert e["dur"] >= 0
    assert_nested(data)
    begins = [(e["cat"], e["id"]) for e in data["traceEvents"] if e["ph"] == "b"]
    ends = [(e["cat"], e["id"]) for e in data["traceEvents"] if e["ph"] == "e"]
    assert sorted(begins) == sorted(ends)


def corpus(rel: str) -> str:
    p = FTRACE / rel
    if not p.exists():
        pytest.skip(f"{p} not found (set TRACEREPLAY_SHARED)")
    return str(p)


def test_corpus_lock_holds():
    res = api.check([corpus("lkml-snippets/20251106_rostedt_lock_acquire_release_preempt_rt.txt")])
    data = trace_events(res.table, res.findings)
    holds = spans(data, "lock.hold")
    assert len(holds) == 6
    assert sorted(h[0] for h in holds) == ["&mm->mmap_lock"] * 5 + ["rcu_read_lock_trace"]
    assert {h[2] for h in holds} == {435}
    # the leoyan trace prints lock_contended after lock_acquired: no wait to draw
    res = api.check([corpus("lkml-snippets/20210519_leoyan_lock_contended_acquired_order_bug.txt")])
    data = trace_events(res.table, res.findings)
    assert len(spans(data, "lock.hold")) == 1 and spans(data, "lock.wait") == []
    # softirq on CPU 1 (idle task): drawn on that CPU's softirq track
    (name,) = [e["args"]["name"] for e in data["traceEvents"] if e["ph"] == "M" and e["name"] == "thread_name"]
    assert name == "softirq CPU 1"


def test_corpus_objects():
    res = api.check([corpus("lkml-snippets/20190929_changbin_kmem_call_site_symbolic.txt")])
    data = trace_events(res.table, res.findings)
    begins = [e for e in data["traceEvents"] if e.get("cat") == "object" and e["ph"] == "b"]
    assert len(begins) == 3
    assert {e["args"]["state"] for e in begins} == {"freed"}


def test_corpus_without_locks_is_still_valid():
    res = api.check([corpus("tracecompass-incubator/trace-android-sched")])
    data = json.loads(json.dumps(trace_events(res.table, res.findings)))
    assert data["traceEvents"] == [e for e in data["traceEvents"] if e.get("cat") == "finding"]


def test_real_capture(tmp_path):
    src = REPO / "sample_traces" / "real" / "abba" / "trace.txt.xz"
    if not src.exists():
        pytest.skip("real abba capture not present")
    out = tmp_path / "real.json"
    res, _ = api.export_perfetto([str(src)], str(out))
    data = json.loads(out.read_text())
    holds = spans(data, "lock.hold")
    assert len(holds) > 1000
    assert any(h[0] == "&dev->a_mutex" for h in holds)
    assert_nested(data)
    found = [e for e in data["traceEvents"] if e.get("cat") == "finding"]
    assert sorted(e["args"]["fingerprint"] for e in found) == sorted(f.fingerprint for f in res.findings)


def test_cli_and_api(trace, tmp_path):
    out = tmp_path / "c.json"
    r = CliRunner().invoke(main, ["export", trace, "--perfetto", str(out)])
    assert r.exit_code == 0, r.output
    assert "4 lock holds, 2 lock waits, 2 fences, 1 objects" in r.output
    assert "traceEvents" in json.loads(out.read_text())
    r = CliRunner().invoke(main, ["export", trace])
    assert r.exit_code == 2
    d = api.load(trace).export_perfetto(str(tmp_path / "n.json"))
    assert len(spans(d, "lock.hold")) == 4


@pytest.mark.parametrize("name", ["vm-teardown", "resv-reclaim", "fence-double-signal", "bo-two-vms"])
def test_simulated_gpuvm_scenarios(tmp_path, name):
    trace = simulated(tmp_path, name)
    out = tmp_path / f"{name}.json"
    res, _ = api.export_perfetto([trace], str(out))
    data = json.loads(out.read_text())
    found = [e for e in data["traceEvents"] if e.get("cat") == "finding"]
    assert sorted(e["args"]["rule"] for e in found) == sorted(f.rule for f in res.findings)
    for e in found:
        assert e["args"]["evidence"] and all(":" in x for x in e["args"]["evidence"])
    if name == "fence-double-signal":
        assert [e for e in data["traceEvents"] if e.get("cat") == "dma_fence"]
    if name == "resv-reclaim":
        assert spans(data, "lock.hold")
