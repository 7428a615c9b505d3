"""tracereplay slice: a smaller trace in the same format that parses back to the selected events."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import simulated
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracereplay import api
from tracereplay.cli import main
from tracereplay.debug.common import selection
from tracereplay.debug.slice import slice_file, slice_text
from tracereplay.errors import UsageError
from tracereplay.table import load_table

SHARED = Path(os.environ.get("TRACEREPLAY_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))
FTRACE = SHARED / "corpus" / "ftrace"
REPO = Path(__file__).resolve().parents[1]


def corpus(rel: str) -> str:
    p = FTRACE / rel
    if not p.exists():
        pytest.skip(f"{p} not found (set TRACEREPLAY_SHARED)")
    return str(p)


def ev(comm: str, pid: int, cpu: int, ts: float, body: str, flags: str = "...1.") -> str:
    sec, usec = divmod(round(ts * 1_000_000), 1_000_000)
    return f"{comm:>16}-{pid:<7} [{cpu:03d}] {flags} {sec:5d}.{usec:06d}: {body}"


def same_events(original: str, filters: dict, sliced: str) -> None:
    """parse(slice) == the selected rows of parse(original), every column but file and line."""
    want = load_table([original]).events.filter(selection(**filters)).drop("file", "line")
    got = load_table([sliced]).events.drop("file", "line")
    assert got.schema == want.schema
    assert got.equals(want), (got, want)


CASES = [
    ("tracecompass-incubator/trace-android-sched", {"cpu": 2}),
    ("tracecompass-incubator/trace-android-sched-irq", {"event": "softirq_*"}),
    ("tracecompass-incubator/atrace-test", {"event": ["sched_switch", "tracing_mark_write"], "cpu": [0, 1]}),
    ("tracecompass-incubator/ftrace_syscalls.txt", {"event": "sched_*", "since": "0"}),
    ("tracecompass-incubator/trace-critical-path", {"task": "<idle>-0"}),
    ("lisa/trace.txt", {"since": "76.3", "until": "76.5"}),
    ("lkml-snippets/20251106_rostedt_lock_acquire_release_preempt_rt.txt", {"event": "lock_*"}),
    ("lkml-snippets/20200803_rostedt_tgid_column_workqueue_rcu.txt", {"event": "workqueue_*,rcu_*"}),
    ("lkml-snippets/20190929_changbin_kmem_call_site_symbolic.txt", {"event": "kmem_cache_*"}),
    ("perf-tools/kprobe_example.txt", {"task": "supervise-1689"}),
    ("trappy/trace_sched.txt", {"cpu": 0}),
]


@pytest.mark.parametrize("rel,filters", CASES, ids=[c[0].split("/")[-1] for c in CASES])
def test_corpus_round_trip(tmp_path, rel, filters):
    src = corpus(rel)
    out = tmp_path / "slice.txt"
    res = slice_file(src, str(out), **filters)
    assert 0 < res.events <= res.total
    same_events(src, filters, str(out))


def test_header_kept_and_entries_adjusted(tmp_path):
    src = corpus("tracecompass-incubator/trace-android-sched")
    out = tmp_path / "s.txt"
    res = slice_file(src, str(out), cpu=2)
    text = out.read_text().splitlines()
    orig = Path(src).read_text().splitlines()
    assert text[:2] == orig[:2] and text[3:11] == orig[3:11]
    assert text[2] == f"# entries-in-buffer/entries-written: {res.events}/{res.events}   #P:4"
    assert len(text) == 11 + res.events
    # the lines are the original lines, not re-rendered
    assert set(text[11:]) <= set(orig)
    info = load_table([str(out)]).files[0]
    assert info.entries == (res.events, res.events) and not info.malformed


def test_trace_cmd_preamble_kept(tmp_path):
    src = corpus("lisa/trace.txt")
    res = slice_file(src, str(tmp_path / "s.txt"), cpu=1)
    assert res.text.splitlines()[:2] == ["version = 6", "cpus=6"]
    assert load_table([str(tmp_path / "s.txt")]).files[0].cpus_header == 6


HAND = """# tracer: nop
#
# entries-in-buffer/entries-written: 7/10   #P:4
#
#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION
#              | |         |   |||||     |         |
{a}
{b}
 => __schedule
 => schedule
CPU:1 [LOST 3 EVENTS]
{c}
{d}
{e}
{f}
{g}
"""


@pytest.fixture
def hand(tmp_path):
    text = HAND.format(
        a=ev("kworker/1:2", 101, 1, 20.000001, "lock_acquire: 00000000a5a5a001 &dev->lock"),
        b=ev("kworker/1:2", 101, 1, 20.000002, "<stack trace>"),
        c=ev("kworker/1:2", 101, 1, 20.000003, "lock_release: 00000000a5a5a001 &dev->lock"),
        d=ev("Xorg", 1187, 2, 20.000004, "sched_waking: comm=kworker/1:2 pid=101 prio=120 target_cpu=001",
             "d..2."),
        e=ev("Xorg", 1187, 2, 20.000005, "dma_fence_emit: driver=i915 timeline=ring0 context=12 seqno=34"),
        f=ev("<idle>", 0, 3, 20.000006, "dma_fence_signaled: driver=i915 timeline=ring0 context=12 seqno=34",
             "d.h1."),
        g=ev("kworker/1:2", 101, 1, 20.000007, "kfree: call_site=drm_gem_object_free+0x2a/0x40 ptr=ffff888012345600"),
    )
    p = tmp_path / "hand.txt"
    p.write_text(text)
    return str(p)


def test_stack_frames_markers_and_overwritten_count(hand, tmp_path):
    out = tmp_path / "s.txt"
    res = slice_file(hand, str(out), task="kworker/1:2-101")
    lines = out.read_text().splitlines()
    assert res.events == 4
    assert lines[2] == "# entries-in-buffer/entries-written: 4/7   #P:4"  # still 3 overwritten
    assert " => __schedule" in lines and " => schedule" in lines
    assert "CPU:1 [LOST 3 EVENTS]" in lines
    t = load_table([str(out)])
    assert set(t.health["kind"].to_list()) == {"lost", "overwritten"}
    same_events(hand, {"task": "kworker/1:2-101"}, str(out))
    # a marker of a CPU the slice does not keep is left out
    res = slice_file(hand, str(out), cpu=2)
    assert "CPU:1 [LOST 3 EVENTS]" not in res.text and " => schedule" not in res.text


def test_no_match_is_an_error(hand):
    with pytest.raises(UsageError, match="no event matches"):
        slice_file(hand, None, event="nothing_*")
    with pytest.raises(UsageError, match="after --to"):
        slice_file(hand, None, since="21", until="20")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lo=st.integers(0, 8), width=st.integers(0, 8), cpus=st.sets(st.integers(0, 3), max_size=3),
       pat=st.sampled_from([None, "lock_*", "dma_fence_*", "*e*", "kfree,sched_*"]))
def test_round_trip_property(hand, tmp_path, lo, width, cpus, pat):
    filters = {"since": f"20.{lo:06d}", "until": f"20.{lo + width:06d}", "cpu": sorted(cpus) or None,
               "event": pat}
    text = Path(hand).read_text()
    want = load_table([hand]).events.filter(selection(**filters))
    if want.is_empty():
        with pytest.raises(UsageError):
            slice_text(text, "hand.txt", **filters)
        return
    res = slice_text(text, "hand.txt", **filters)
    out = tmp_path / "p.txt"
    out.write_text(res.text)
    same_events(hand, filters, str(out))


def test_real_capture_round_trip(tmp_path):
    p = REPO / "sample_traces" / "real" / "abba" / "trace.txt.xz"
    if not p.exists():
        pytest.skip("real abba capture not present")
    out = tmp_path / "s.txt"
    # a window of 20 ms around the module's lock-order inversion, wherever the capture has it
    (cyc,) = [f for f in api.check([str(p)]).findings if f.rule == "LOCK-CYCLE"]
    t = cyc.ts_ns / 1e9
    filters = {"event": "lock_*", "since": f"{t - 0.01:.6f}", "until": f"{t + 0.01:.6f}"}
    res = slice_file(str(p), str(out), **filters)
    assert res.events > 10
    same_events(str(p), filters, str(out))


def test_api_slice(hand, tmp_path):
    tr = api.load(hand)
    sub = tr.slice(event="dma_fence_*", out=str(tmp_path / "f.txt"))
    assert len(sub.events) == 2 and sub.events["event"].to_list() == ["dma_fence_emit", "dma_fence_signaled"]
    assert api.load(str(tmp_path / "f.txt")).events.drop("file", "line").equals(sub.events.drop("file", "line"))
    mem = tr.slice(cpu=1)
    assert len(mem.events) == 4 and "slice of" in repr(mem)
    with pytest.raises(UsageError, match="needs a file"):
        mem.reduce("0123456789abcdef")
    assert "locks" in mem.stats(section="locks")
    assert len(mem.history("&dev->lock")) == 2


def test_cli(hand, tmp_path):
    out = tmp_path / "c.txt"
    r = CliRunner().invoke(main, ["slice", hand, "--from", "20.000002", "--to", "20.000005", "--cpu", "2",
                                  "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "kept 2 of 7 events" in r.output
    assert load_table([str(out)]).events["event"].to_list() == ["sched_waking", "dma_fence_emit"]
    r = CliRunner().invoke(main, ["slice", hand, "--event", "kfree"])
    assert r.exit_code == 0
    assert r.stdout.splitlines()[-1].endswith("kfree: call_site=drm_gem_object_free+0x2a/0x40 ptr=ffff888012345600")
    r = CliRunner().invoke(main, ["slice", hand, "--event", "nope"])
    assert r.exit_code == 2 and "no event matches" in r.output


@pytest.mark.parametrize("name", ["vm-teardown", "bo-two-vms", "destructor-unlink", "fence-double-signal"])
def test_simulated_gpuvm_round_trip(tmp_path, name):
    trace = simulated(tmp_path, name, seed=2)
    t = load_table([trace]).events
    task = f"{t['comm'][0]}-{t['pid'][0]}"
    mid = t["ts_ns"][len(t) // 2]
    for filters in ({"task": task}, {"until": f"{mid // 10**9}.{mid % 10**9:09d}"}, {"event": "gpuvm_*,lock_*"}):
        if t.filter(selection(**filters)).is_empty():
            continue
        out = tmp_path / "s.txt"
        slice_file(trace, str(out), **filters)
        same_events(trace, filters, str(out))
