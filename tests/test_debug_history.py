"""tracereplay history: every event that touched one object, with the models' state after each."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from conftest import simulated

from tracereplay import api
from tracereplay.cli import main
from tracereplay.debug.history import history, object_kind
from tracereplay.engine import Model, replay
from tracereplay.models.lock import LockModel
from tracereplay.table import load_table

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


def ev(comm: str, pid: int, cpu: int, ts: float, body: str, flags: str = "...1.") -> str:
    sec, usec = divmod(round(ts * 1_000_000), 1_000_000)
    return f"{comm:>16}-{pid:<7} [{cpu:03d}] {flags} {sec:5d}.{usec:06d}: {body}"


def write(tmp_path: Path, lines: list[str], name: str = "t.txt") -> str:
    p = tmp_path / name
    p.write_text(HEADER.format(n=len(lines)) + "\n".join(lines) + "\n")
    return str(p)


def corpus(rel: str) -> str:
    p = FTRACE / rel
    if not p.exists():
        pytest.skip(f"{p} not found (set TRACEREPLAY_SHARED)")
    return str(p)


A, B = "00000000a5a5a001", "00000000b6b6b002"


@pytest.fixture
def lock_trace(tmp_path):
    return write(tmp_path, [
        ev("kworker/1:2", 101, 1, 10.000001, f"lock_acquire: {A} &dev->lock"),          # 7
        ev("kworker/1:2", 101, 1, 10.000002, f"lock_acquire: {B} &dev->lock"),          # 8
        ev("kworker/1:2", 101, 1, 10.000003, f"lock_release: {B} &dev->lock"),          # 9
        ev("Xorg", 1187, 2, 10.000004, "sched_switch: prev_comm=Xorg prev_pid=1187 prev_prio=120 "
                                        "prev_state=S ==> next_comm=kworker/1:2 next_pid=101 next_prio=120",
           "d..2."),                                                                   # 10
        ev("kworker/1:2", 101, 1, 10.000005, f"lock_release: {A} &dev->lock"),          # 11
        ev("reader", 7, 0, 10.000006, "lock_acquire: 0000000000001234 read &mm->mmap_lock"),  # 12
        ev("other", 8, 3, 10.000007, "lock_acquire: 0000000000001234 read &mm->mmap_lock"),   # 13
        ev("reader", 7, 0, 10.000008, "lock_release: 0000000000001234 &mm->mmap_lock"),       # 14
        ev("other", 8, 3, 10.000009, "lock_release: 0000000000001234 &mm->mmap_lock"),        # 15
    ])


def test_object_kinds():
    assert object_kind("12:345") == "fence"
    assert object_kind("kworker/1:2-101") == "task"
    assert object_kind("101") == "task"
    assert object_kind("0xffff888012345678") == "address"
    assert object_kind("00000000ee02c684") == "address"
    assert object_kind("&mm->mmap_lock") == "name"
    assert object_kind("reservation_ww_class_mutex") == "name"


def test_lock_class_history_with_state(lock_trace):
    h = history(load_table([lock_trace]), "&dev->lock")
    assert h.columns == ["file", "line", "ts_ns", "task", "cpu", "event", "body", "state"]
    assert h["line"].to_list() == [7, 8, 9, 11]
    assert h["state"].to_list() == [
        f"held by kworker/1:2-101 [{A}]",
        f"held by kworker/1:2-101 [{A}], kworker/1:2-101 [{B}]",
        f"held by kworker/1:2-101 [{A}]",
        "free",
    ]
    assert h["task"].to_list() == ["kworker/1:2-101"] * 4
    assert h["ts_ns"][0] == 10_000_001_000


@pytest.mark.parametrize("spelling", [B, "0x" + B, "b6b6b002", "0xB6B6B002"])
def test_lock_instance_history(lock_trace, spelling):
    h = history(load_table([lock_trace]), spelling)
    assert h["line"].to_list() == [8, 9]
    assert h["state"].to_list() == ["held by kworker/1:2-101", "free"]


def test_shared_readers_state(lock_trace):
    h = history(load_table([lock_trace]), "&mm->mmap_lock")
    assert h["state"].to_list() == [
        "held by reader-7 (read)",
        "held by reader-7 (read), other-8 (read)",
        "held by other-8 (read)",
        "free",
    ]


def test_task_history_includes_sched_switch_naming_it(lock_trace):
    t = load_table([lock_trace])
    assert history(t, "kworker/1:2-101")["line"].to_list() == [7, 8, 9, 10, 11]
    assert history(t, "101")["line"].to_list() == [7, 8, 9, 10, 11]
    # a task is no model object: the state stays null
    assert history(t, "101")["state"].null_count() == 5


def test_filters(lock_trace):
    t = load_table([lock_trace])
    assert history(t, "&dev->lock", since="10.000002", until=10.000003)["line"].to_list() == [8, 9]
    assert history(t, "&mm->mmap_lock", task="other-8")["line"].to_list() == [13, 15]
    assert history(t, "&mm->mmap_lock", task=7)["line"].to_list() == [12, 14]
    assert history(t, "&mm->mmap_lock", cpu=[3])["line"].to_list() == [13, 15]
    # the state is the state after the event in the whole trace, filters only hide rows
    assert history(t, "&mm->mmap_lock", cpu=3)["state"].to_list() == [
        "held by reader-7 (read), other-8 (read)", "free"]


def test_fence_pointer_and_kprobe_args(tmp_path):
    p = write(tmp_path, [
        ev("Xorg", 1187, 2, 5.0, "dma_fence_init: driver=i915 timeline=ring0 context=12 seqno=34"),
        ev("Xorg", 1187, 2, 5.1, "dma_fence_emit: driver=i915 timeline=ring0 context=12 seqno=34"),
        ev("Xorg", 1187, 2, 5.2, "dma_fence_emit: driver=i915 timeline=ring0 context=12 seqno=35"),
        ev("irq/45", 202, 1, 5.3, "dma_fence_signaled: driver=i915 timeline=ring0 context=12 seqno=34", "d.h1."),
        ev("Xorg", 1187, 2, 5.4, "kmalloc: call_site=drm_gem_object_init+0x3c/0x110 ptr=ffff888012345600 "
                                 "bytes_req=96 bytes_alloc=96 gfp_flags=GFP_KERNEL node=-1 accounted=false"),
        ev("Xorg", 1187, 2, 5.5, "p_drm_gpuvm_bo_obtain: (drm_gpuvm_bo_obtain+0x0/0x120) "
                                 "gpuvm=0xffff888000aa0000 obj=0xffff888012345600"),
        ev("Xorg", 1187, 2, 5.6, "kfree: call_site=drm_gem_object_free+0x2a/0x40 ptr=ffff888012345600"),
    ])
    t = load_table([p])
    assert history(t, "12:34")["line"].to_list() == [7, 8, 10]
    assert history(t, "0xffff888012345600")["event"].to_list() == ["kmalloc", "p_drm_gpuvm_bo_obtain", "kfree"]
    assert history(t, "ffff888000aa0000")["line"].to_list() == [12]
    assert history(t, "ffff8880123456")["line"].to_list() == []  # whole tokens only


def test_model_without_state_of_gives_null_state(lock_trace):
    class Quiet(Model):
        name = "quiet"
        OPS = {"lock.acquire": ("addr", "name", "trylock", "read"), "lock.release": ("addr", "name")}

        def op_acquire(self, i, *a):
            pass

        def op_release(self, i, *a):
            pass

    t = load_table([lock_trace])
    assert Quiet(None).state_of("&dev->lock") is None
    seen = []
    replay(t, models=[Quiet], observer=lambda i, m: seen.append((i, m.name)))
    assert len(seen) == 8 and {m for _, m in seen} == {"quiet"}
    assert [i for i, _ in seen] == sorted(i for i, _ in seen)


def test_observer_does_not_change_findings(lock_trace):
    t = load_table([lock_trace])
    calls = []
    with_obs = replay(t, observer=lambda i, m: calls.append(i))
    assert [f.to_dict() for f in with_obs] == [f.to_dict() for f in replay(t)]
    assert len(calls) >= 8
    assert LockModel.state_of is not Model.state_of


def test_corpus_lock_trace_states():
    t = load_table([corpus("lkml-snippets/20251106_rostedt_lock_acquire_release_preempt_rt.txt")])
    h = history(t, "&mm->mmap_lock")
    assert len(h) == 10
    assert h["event"].to_list() == ["lock_acquire", "lock_release"] * 5
    assert h["state"].to_list() == ["held by systemd-journal-435 (read)", "free"] * 5
    assert h["line"].to_list() == history(t, "0x501e1144")["line"].to_list()


def test_corpus_sched_task_history():
    t = load_table([corpus("tracecompass-incubator/trace-android-sched")])
    h = history(t, "adbd-12954", cpu=2)
    assert len(h) > 5
    own = pl.col("task") == "adbd-12954"
    names = (pl.col("body").str.contains("next_pid=12954 ") | pl.col("body").str.contains("pid=12954 "))
    assert h.filter(~own & ~names).is_empty()
    assert h["state"].null_count() == len(h)
    assert h["ts_ns"].is_sorted()


def test_real_capture_history():
    p = REPO / "sample_traces" / "real" / "abba" / "trace.txt.xz"
    if not p.exists():
        pytest.skip("real abba capture not present")
    h = history(load_table([str(p)]), "&dev->b_mutex")
    assert len(h) >= 4
    # the module's init (insmod) takes it, then its work item (a kworker)
    states = h["state"].to_list()
    assert any(s.startswith("held by insmod-") for s in states)
    assert any(s.startswith("held by kworker/") for s in states)
    assert h["state"][-1] == "free"


def test_api_and_cli(lock_trace):
    tr = api.load(lock_trace)
    assert tr.history("&dev->lock", task="kworker/1:2-101")["line"].to_list() == [7, 8, 9, 11]
    r = CliRunner().invoke(main, ["history", lock_trace, B])
    assert r.exit_code == 0, r.output
    out = [x for x in r.stdout.splitlines() if x]
    assert out[0].startswith(f"{lock_trace}:8  10.000002000  kworker/1:2-101 [001]  lock_acquire: {B}")
    assert out[0].endswith("-> held by kworker/1:2-101")
    assert out[1].endswith("-> free")
    r = CliRunner().invoke(main, ["history", lock_trace, "&dev->lock", "--format", "json", "--from", "10.000003"])
    assert r.exit_code == 0
    assert len([x for x in r.stdout.splitlines() if x.startswith("{")]) == 2
    r = CliRunner().invoke(main, ["history", lock_trace, "nothing-here"])
    assert r.exit_code == 1
    r = CliRunner().invoke(main, ["history", lock_trace, "&dev->lock", "--from", "yesterday"])
    assert r.exit_code == 2 and "not a time in seconds" in r.output


def test_simulated_gpuvm_vm_history(tmp_path):
    trace = simulated(tmp_path, "vm-teardown")
    t = load_table([trace])
    fini = [f for f in api.check([trace]).findings if f.rule == "GPUVM-FINI-NOT-EMPTY"]
    if not fini:
        pytest.skip("GPUVM-FINI-NOT-EMPTY not reported by this model version")
    vm = fini[0].objects[0]
    h = history(t, vm)
    assert len(h) >= 3 and h["ts_ns"].is_sorted()
    assert h["body"].str.contains(vm.removeprefix("0x")).all()
    assert h["event"][0] == "gpuvm_init"
    assert (fini[0].file, fini[0].line) in set(zip(h["file"], h["line"], strict=True))
    # a GEM pointer named in the kprobe arguments
    gem = t.events.filter(pl.col("event") == "gpuvm_bo_obtain")["body"][0].rsplit("obj=", 1)[1].split()[0]
    hg = history(t, gem)
    assert len(hg) >= 2 and hg["body"].str.contains(gem).all()


def test_simulated_fence_history(tmp_path):
    trace = simulated(tmp_path, "fence-double-signal")
    t = load_table([trace])
    fence = t.events.filter(pl.col("context").is_not_null()).select("context", "seqno").row(0)
    h = history(t, f"{fence[0]}:{fence[1]}")
    assert len(h) >= 3
    assert (h["event"] == "dma_fence_signaled").sum() == 2
