"""Statistics (issue 9): exact figures on small hand-made traces in the ftrace text format,
agreement with an independent plain-Python computation on real traces, split-file invariance,
and the PNG plots."""

from __future__ import annotations

import glob
import math
import os
import sys
from collections import defaultdict
from pathlib import Path

import polars as pl
import pytest
from conftest import need_corpus
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from tracereplay.errors import UsageError
from tracereplay.stats import compute_stats, event_stats, fence_stats, lock_stats, object_stats
from tracereplay.table import load_table

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TRACEREPLAY_SHARED", REPO.parent / "shared"))
CORPUS = SHARED / "corpus" / "ftrace"
REAL = sorted(glob.glob(str(REPO / "sample_traces" / "real" / "*" / "trace.txt*")))

HEADER = """\
# tracer: nop
#
# entries-in-buffer/entries-written: 27/27   #P:8
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

# Hand-made lock trace. Expected pairs (ns):
#  &dev->lock (00000000aaaa0001): release@100.000000 unmatched; cat-2000 acquire 55 -> release
#    130 = 75000, contended 60 -> acquired 100 = 40000; bash-1040 acquire 140 -> release 150 =
#    10000 (its lock_acquired at 141 had no contention); acquire 400 unmatched (trace ends),
#    contended 405 unmatched.
#  rcu_read_lock (00000000bbbb0002), a read lock shared by everyone: bash-1040 nests 10 and 20,
#    releases 25 (-> 20: 5000) and 40 (-> 10: 30000); its hardirq on CPU 4 acquires 22 ->
#    releases 24 (2000, separate context although the pid is bash's); cat-2000 30 -> 50 =
#    20000; the idle tasks of CPU 0 and CPU 2 (both pid 0) 160 -> 170 = 10000, 165 -> 185 = 20000.
#  contention_*: SPIN lock dddd0004 begin 200 -> end 203 = 3000 (kworker); MUTEX eeee0005
#    kworker 210 -> 300 = 90000, cat 310 -> 320 = 10000.
LOCKS = HEADER + """\
            bash-1040    [004] .....   100.000000: lock_release: 00000000aaaa0001 &dev->lock
            bash-1040    [004] .....   100.000010: lock_acquire: 00000000bbbb0002 read rcu_read_lock
            bash-1040    [004] .....   100.000020: lock_acquire: 00000000bbbb0002 read rcu_read_lock
            bash-1040    [004] d.h1.   100.000022: lock_acquire: 00000000bbbb0002 read rcu_read_lock
            bash-1040    [004] d.h1.   100.000024: lock_release: 00000000bbbb0002 rcu_read_lock
            bash-1040    [004] .....   100.000025: lock_release: 00000000bbbb0002 rcu_read_lock
             cat-2000    [001] .....   100.000030: lock_acquire: 00000000bbbb0002 read rcu_read_lock
            bash-1040    [004] .....   100.000040: lock_release: 00000000bbbb0002 rcu_read_lock
             cat-2000    [001] .....   100.000050: lock_release: 00000000bbbb0002 rcu_read_lock
             cat-2000    [001] .....   100.000055: lock_acquire: 00000000aaaa0001 &dev->lock
             cat-2000    [001] .....   100.000060: lock_contended: 00000000aaaa0001 &dev->lock
             cat-2000    [001] .....   100.000100: lock_acquired: 00000000aaaa0001 &dev->lock
             cat-2000    [001] .....   100.000130: lock_release: 00000000aaaa0001 &dev->lock
            bash-1040    [004] .....   100.000140: lock_acquire: 00000000aaaa0001 &dev->lock
            bash-1040    [004] .....   100.000141: lock_acquired: 00000000aaaa0001 &dev->lock
            bash-1040    [004] .....   100.000150: lock_release: 00000000aaaa0001 &dev->lock
          <idle>-0       [000] d..2.   100.000160: lock_acquire: 00000000bbbb0002 read rcu_read_lock
          <idle>-0       [002] d..2.   100.000165: lock_acquire: 00000000bbbb0002 read rcu_read_lock
          <idle>-0       [000] d..2.   100.000170: lock_release: 00000000bbbb0002 rcu_read_lock
          <idle>-0       [002] d..2.   100.000185: lock_release: 00000000bbbb0002 rcu_read_lock
     kworker/0:1-30      [000] .....   100.000200: contention_begin: 00000000dddd0004 (flags=SPIN)
     kworker/0:1-30      [000] .....   100.000203: contention_end: 00000000dddd0004 (ret=0)
     kworker/0:1-30      [000] .....   100.000210: contention_begin: 00000000eeee0005 (flags=MUTEX)
     kworker/0:1-30      [000] .....   100.000300: contention_end: 00000000eeee0005 (ret=0)
             cat-2000    [001] .....   100.000310: contention_begin: 00000000eeee0005 (flags=MUTEX)
             cat-2000    [001] .....   100.000320: contention_end: 00000000eeee0005 (ret=0)
            bash-1040    [004] .....   100.000400: lock_acquire: 00000000aaaa0001 &dev->lock
            bash-1040    [004] .....   100.000405: lock_contended: 00000000aaaa0001 &dev->lock
"""

# Fences: vgem-0 seqno 1 emitted 513 -> signalled 713 (200000, in a hardirq, placeholder names
# as in 6.17+), waited for by 1702 600 -> 800 (200000), destroyed; seqno 2 emitted 530, never
# signalled (unsignalled at the end), a wait started at 900 that never ends; seqno 3 init only,
# then signalled 950 (no emit: no latency).  Old-style fence_* events on i915 ring0: seqno 7
# emitted 600 -> signalled 650 (50000); waited 610 -> 640 (30000) and, by another task,
# 620 -> 660 (40000).
FENCES = HEADER + """\
           <...>-1701    [001] .....    76.211500: dma_fence_init: driver=vgem timeline=vgem-0 context=5 seqno=1
           <...>-1701    [001] .....    76.211513: dma_fence_emit: driver=vgem timeline=vgem-0 context=5 seqno=1
           <...>-1701    [001] .....    76.211520: dma_fence_init: driver=vgem timeline=vgem-0 context=5 seqno=2
           <...>-1701    [001] .....    76.211530: dma_fence_emit: driver=vgem timeline=vgem-0 context=5 seqno=2
           <...>-1701    [001] .....    76.211540: dma_fence_init: driver=vgem timeline=vgem-0 context=5 seqno=3
           <...>-1702    [000] .....    76.211600: dma_fence_wait_start: driver=vgem timeline=vgem-0 context=5 seqno=1
            Xorg-900     [003] .....    76.211600: fence_emit: driver=i915 timeline=ring0 context=9 seqno=7
            Xorg-900     [003] .....    76.211610: fence_wait_start: driver=i915 timeline=ring0 context=9 seqno=7
     gnome-shell-950     [002] .....    76.211620: fence_wait_start: driver=i915 timeline=ring0 context=9 seqno=7
            Xorg-900     [003] .....    76.211640: fence_wait_end: driver=i915 timeline=ring0 context=9 seqno=7
          <idle>-0       [003] d.h1.    76.211650: fence_signaled: driver=i915 timeline=ring0 context=9 seqno=7
     gnome-shell-950     [002] .....    76.211660: fence_wait_end: driver=i915 timeline=ring0 context=9 seqno=7
          <idle>-0       [001] d.h1.    76.211713: dma_fence_signaled: driver=detached-driver timeline=signaled-timeline context=5 seqno=1
           <...>-1702    [000] .....    76.211800: dma_fence_wait_end: driver=detached-driver timeline=signaled-timeline context=5 seqno=1
           <...>-1702    [000] .....    76.211850: dma_fence_destroy: driver=detached-driver timeline=signaled-timeline context=5 seqno=1
           <...>-1703    [002] .....    76.211900: dma_fence_wait_start: driver=vgem timeline=vgem-0 context=5 seqno=2
          <idle>-0       [001] d.h1.    76.211950: dma_fence_signaled: driver=detached-driver timeline=signaled-timeline context=5 seqno=3
"""

# kmem (6.x format): names_cache object 1 alloc 10 -> free 40 (30000); object 2 alloc 20 ->
# free 70 (50000) on CPU 1 by cat; kmalloc object 3 alloc 30 -> kfree 35 (5000); object 4
# allocated at getname_flags 80 and still live (cache names_cache learned from the call site);
# kmalloc object 5 live (64 bytes); a kfree of an object allocated before the trace; kfree(NULL)
# ignored; object 6 allocated twice (the free in between was not traced: lost_frees 1), then
# freed at 95 (15000).
OBJECTS = HEADER + """\
            bash-1040    [004] .....   200.000010: kmem_cache_alloc: call_site=getname_flags+0x47/0x1f0 ptr=00000000e70e10e0 bytes_req=4096 bytes_alloc=4096 gfp_flags=GFP_KERNEL node=-1 accounted=false
             cat-2000    [001] .....   200.000020: kmem_cache_alloc: call_site=getname_flags+0x47/0x1f0 ptr=00000000e70e2000 bytes_req=4096 bytes_alloc=4096 gfp_flags=GFP_KERNEL node=-1 accounted=false
            bash-1040    [004] .....   200.000030: kmalloc: call_site=security_prepare_creds+0x77/0xa0 ptr=0000000062400820 bytes_req=8 bytes_alloc=8 gfp_flags=GFP_KERNEL|__GFP_ZERO node=-1 accounted=false
            bash-1040    [004] .....   200.000035: kfree: call_site=security_cred_free+0x42/0x50 ptr=0000000062400820
            bash-1040    [004] .....   200.000040: kmem_cache_free: call_site=do_sys_openat2+0xa7/0xd0 ptr=00000000e70e10e0 name=names_cache
            bash-1040    [004] .....   200.000050: kfree: call_site=put_cred_rcu+0x88/0xa0 ptr=00000000deadbeef
            bash-1040    [004] .....   200.000055: kfree: call_site=put_cred_rcu+0x88/0xa0 ptr=0000000000000000
            bash-1040    [004] .....   200.000060: kmem_cache_alloc: call_site=alloc_empty_file+0x6b/0x110 ptr=0000000095808002 bytes_req=360 bytes_alloc=384 gfp_flags=GFP_KERNEL node=-1 accounted=false
            bash-1040    [004] .....   200.000065: kmem_cache_alloc: call_site=alloc_empty_file+0x6b/0x110 ptr=0000000095808002 bytes_req=360 bytes_alloc=384 gfp_flags=GFP_KERNEL node=-1 accounted=false
             cat-2000    [001] .....   200.000070: kmem_cache_free: call_site=do_sys_openat2+0xa7/0xd0 ptr=00000000e70e2000 name=names_cache
            bash-1040    [004] .....   200.000080: kmem_cache_alloc: call_site=getname_flags+0x47/0x1f0 ptr=00000000e70e3000 bytes_req=4096 bytes_alloc=4096 gfp_flags=GFP_KERNEL node=-1 accounted=false
            bash-1040    [004] .....   200.000090: kmalloc: call_site=kvmalloc_node+0x40/0x100 ptr=00000000aa000000 bytes_req=50 bytes_alloc=64 gfp_flags=GFP_KERNEL node=-1 accounted=false
            bash-1040    [004] .....   200.000095: kmem_cache_free: call_site=__fput+0x100/0x200 ptr=0000000095808002 name=filp
"""


def write(tmp_path: Path, name: str, text: str) -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def row(df: pl.DataFrame, **keys) -> dict:
    sel = df
    for k, v in keys.items():
        sel = sel.filter(pl.col(k) == v)
    assert sel.height == 1, (keys, sel)
    return sel.row(0, named=True)


def durations(prefix: str, values: list[int]) -> dict:
    """The expected summary columns of `values`, computed by hand-rule (nearest rank)."""
    s = sorted(values)
    n = len(s)
    out = {f"{prefix}_n": n, f"{prefix}_total": sum(s)}
    if not n:
        out.update({f"{prefix}_{k}": None for k in ("mean", "min", "max", "p50", "p95", "p99")})
        return out
    out.update({f"{prefix}_mean": sum(s) / n, f"{prefix}_min": s[0], f"{prefix}_max": s[-1]})
    for p in (50, 95, 99):
        out[f"{prefix}_p{p}"] = s[max(math.ceil(n * p / 100) - 1, 0)]
    return out


def subset(d: dict, expected: dict) -> dict:
    return {k: d[k] for k in expected}


# --- locks -----------------------------------------------------------------------------------


@pytest.fixture
def lock_table(tmp_path):
    return load_table([write(tmp_path, "locks.txt", LOCKS)])


def test_locks_by_class_hand_computed(lock_table):
    df = lock_stats(lock_table.events)
    assert df["name"].to_list() == ["rcu_read_lock", "&dev->lock", "contention:MUTEX",
                                    "contention:SPIN"]
    exp = {"acquired": 3, "contended": 2, "unmatched": 2, "wait_unmatched": 1,
           **durations("wait", [40000]), **durations("hold", [75000, 10000])}
    assert subset(row(df, name="&dev->lock"), exp) == exp
    assert exp["hold_p50"] == 10000 and exp["hold_p95"] == 75000 and exp["hold_mean"] == 42500
    exp = {"acquired": 6, "contended": 0, "unmatched": 0, "wait_unmatched": 0,
           **durations("wait", []),
           **durations("hold", [5000, 30000, 2000, 20000, 10000, 20000])}
    assert subset(row(df, name="rcu_read_lock"), exp) == exp
    assert (exp["hold_total"], exp["hold_p50"], exp["hold_p95"]) == (87000, 10000, 30000)
    exp = {"acquired": 0, "contended": 2, "unmatched": 0, "wait_unmatched": 0,
           **durations("wait", [90000, 10000]), **durations("hold", [])}
    assert subset(row(df, name="contention:MUTEX"), exp) == exp
    exp = {"acquired": 0, "contended": 1, **durations("wait", [3000])}
    assert subset(row(df, name="contention:SPIN"), exp) == exp


def test_locks_by_task_cpu_instance(lock_table):
    ev = lock_table.events
    by_task = lock_stats(ev, by="task")
    assert set(by_task["task"]) == {"bash-1040", "cat-2000", "<idle>-0", "kworker/0:1-30"}
    exp = {"acquired": 5, "contended": 1, "unmatched": 2, "wait_unmatched": 1,
           **durations("hold", [2000, 5000, 30000, 10000]), **durations("wait", [])}
    assert subset(row(by_task, task="bash-1040"), exp) == exp
    exp = {"acquired": 2, "contended": 2, **durations("hold", [20000, 75000]),
           **durations("wait", [40000, 10000])}
    assert subset(row(by_task, task="cat-2000"), exp) == exp
    exp = {"acquired": 2, **durations("hold", [10000, 20000])}
    assert subset(row(by_task, task="<idle>-0"), exp) == exp
    exp = {"contended": 2, **durations("wait", [3000, 90000])}
    assert subset(row(by_task, task="kworker/0:1-30"), exp) == exp

    by_cpu = lock_stats(ev, by="cpu")
    assert by_cpu["cpu"].to_list() == [4, 1, 0, 2]
    exp = {"acquired": 1, "contended": 2, **durations("hold", [10000]),
           **durations("wait", [3000, 90000])}
    assert subset(row(by_cpu, cpu=0), exp) == exp
    assert subset(row(by_cpu, cpu=2), {"hold_total": 20000}) == {"hold_total": 20000}

    by_inst = lock_stats(ev, by="instance")
    assert by_inst.columns[:2] == ["addr", "name"]
    r = row(by_inst, addr="00000000aaaa0001")
    assert (r["name"], r["acquired"], r["hold_total"]) == ("&dev->lock", 3, 85000)
    assert row(by_inst, addr="00000000eeee0005")["wait_total"] == 100000


def test_lock_sort_keys_and_top(lock_table):
    ev = lock_table.events
    assert lock_stats(ev, sort="wait_total")["name"].to_list() == [
        "contention:MUTEX", "&dev->lock", "contention:SPIN", "rcu_read_lock"]
    assert lock_stats(ev, sort="avg_hold")["name"].to_list()[:2] == ["&dev->lock", "rcu_read_lock"]
    assert lock_stats(ev, sort="wait_min", top=1)["name"].to_list() == ["&dev->lock"]
    assert lock_stats(ev, sort="contended", top=2)["name"].to_list() == [
        "&dev->lock", "contention:MUTEX"]
    for key in ("acquired", "wait_max", "hold_total", "hold_max"):
        assert lock_stats(ev, sort=key).height == 4
    with pytest.raises(UsageError, match="unknown sort key"):
        lock_stats(ev, sort="nonsense")


def test_lock_snippet_from_lkml():
    """rostedt's fixed lock_acquire/lock_release output: two releases of locks taken before the
    trace started, three 1 us mmap_lock read sections and one 3 us rcu_read_lock_trace."""
    need_corpus()
    t = load_table([str(CORPUS / "lkml-snippets" / "20251106_rostedt_lock_acquire_release_fixed.txt")])
    df = lock_stats(t.events)
    assert df.select("name", "acquired", "unmatched", "hold_n", "hold_total").rows() == [
        ("&mm->mmap_lock", 3, 0, 3, 3000),
        ("rcu_read_lock_trace", 1, 0, 1, 3000),
        ("rcu_read_lock", 0, 1, 0, 0),
        ("tasklist_lock", 0, 1, 0, 0),
    ]
    # leoyan: lock_contended logged after lock_acquired (the ordering bug): a contention
    # without a following acquisition is an unmatched wait, the 5 us hold still counts.
    t = load_table([str(CORPUS / "lkml-snippets" / "20210519_leoyan_lock_contended_acquired_order_bug.txt")])
    r = lock_stats(t.events).row(0, named=True)
    assert (r["acquired"], r["contended"], r["wait_unmatched"], r["wait_n"], r["hold_total"]) == (
        1, 1, 1, 0, 5000)


# --- fences ----------------------------------------------------------------------------------


def test_fences_hand_computed(tmp_path):
    t = load_table([write(tmp_path, "fences.txt", FENCES)])
    df = fence_stats(t.events)
    assert df.select("driver", "timeline").rows() == [("vgem", "vgem-0"), ("i915", "ring0")]
    exp = {"contexts": 1, "fences": 3, "emitted": 2, "signaled": 2, "unsignaled": 1,
           **durations("latency", [200000]), **durations("wait", [200000]), "wait_unmatched": 1}
    assert subset(row(df, driver="vgem"), exp) == exp
    exp = {"fences": 1, "emitted": 1, "signaled": 1, "unsignaled": 0,
           **durations("latency", [50000]), **durations("wait", [30000, 40000]),
           "wait_unmatched": 0}
    assert subset(row(df, driver="i915"), exp) == exp
    assert "detached-driver" not in df["driver"].to_list()
    inst = fence_stats(t.events, by="instance")
    assert inst.select("driver", "context", "fences").rows() == [("vgem", 5, 3), ("i915", 9, 1)]
    assert fence_stats(t.events, sort="avg_latency")["driver"].to_list() == ["vgem", "i915"]
    assert fence_stats(t.events, sort="wait_total")["driver"].to_list() == ["vgem", "i915"]
    assert fence_stats(t.events, sort="wait_n", top=1)["driver"].to_list() == ["i915"]


# --- objects ---------------------------------------------------------------------------------


def test_objects_hand_computed(tmp_path):
    t = load_table([write(tmp_path, "kmem.txt", OBJECTS)])
    df = object_stats(t.events)
    assert df["cache"].to_list() == ["names_cache", "filp", "kmalloc"]  # ties by name
    exp = {"allocs": 3, "frees": 2, "bytes_req": 12288, "bytes_alloc": 12288, "live": 1,
           "live_bytes": 4096, "lost_frees": 0, "unmatched_frees": 0,
           **durations("lifetime", [30000, 50000])}
    assert subset(row(df, cache="names_cache"), exp) == exp
    exp = {"allocs": 2, "frees": 2, "bytes_req": 58, "bytes_alloc": 72, "live": 1,
           "live_bytes": 64, "lost_frees": 0, "unmatched_frees": 1,
           **durations("lifetime", [5000])}
    assert subset(row(df, cache="kmalloc"), exp) == exp
    exp = {"allocs": 2, "frees": 1, "live": 0, "lost_frees": 1, "unmatched_frees": 0,
           **durations("lifetime", [30000])}
    assert subset(row(df, cache="filp"), exp) == exp

    sites = object_stats(t.events, by="instance")
    r = row(sites, call_site="getname_flags+0x47/0x1f0")
    assert (r["allocs"], r["live"], r["lifetime_total"]) == (3, 1, 80000)
    assert row(sites, call_site="put_cred_rcu+0x88/0xa0")["unmatched_frees"] == 1
    tasks = object_stats(t.events, by="task")
    assert row(tasks, task="cat-2000")["lifetime_total"] == 50000
    assert object_stats(t.events, by="cpu", sort="live")["cpu"].to_list() == [4, 1]
    assert object_stats(t.events, sort="avg_lifetime")["cache"].to_list() == [
        "names_cache", "filp", "kmalloc"]


def test_objects_lkml_symbolic_call_sites():
    need_corpus()
    t = load_table([str(CORPUS / "lkml-snippets" / "20190929_changbin_kmem_call_site_symbolic.txt")])
    df = object_stats(t.events)
    assert df.select("cache", "allocs", "frees", "unmatched_frees", "lifetime_total").rows() == [
        ("kmem_cache", 2, 4, 2, 18000 + 5000),
        ("kmalloc", 1, 2, 1, 9000),
    ]


# --- events ----------------------------------------------------------------------------------


def test_events_counts_rates_span(lock_table):
    out = event_stats(lock_table)
    ev = out["events"]
    # 28 events over 405 us
    r = row(ev, event="lock_acquire")
    assert (r["count"], r["first_ns"], r["last_ns"]) == (9, 100000010000, 100000400000)
    assert r["rate_per_s"] == pytest.approx(9 / 405e-6)
    assert ev["event"].to_list()[:2] == ["lock_acquire", "lock_release"]
    tasks = out["tasks"]
    assert dict(tasks.select("task", "count").rows()) == {
        "bash-1040": 12, "cat-2000": 8, "<idle>-0": 4, "kworker/0:1-30": 4}
    assert row(tasks, task="<idle>-0")["cpus"] == 2
    cpus = out["cpus"]
    assert cpus.select("cpu", "count", "tasks").rows() == [(4, 12, 1), (1, 8, 1), (0, 6, 2), (2, 2, 1)]
    s = out["summary"].row(0, named=True)
    assert (s["files"], s["events"], s["span_ns"], s["cpus"], s["tasks"], s["lines"]) == (
        1, 28, 405000, 4, 4, 40)
    assert s["rate_per_s"] == pytest.approx(28 / 405e-6)
    assert out["health"].is_empty() and s["lost_events"] == 0


def test_events_health_lost(tmp_path):
    text = HEADER + """\
            bash-1040    [004] .....   100.000000: sys_exit: NR 109 = 0
CPU:4 [LOST 17 EVENTS]
            bash-1040    [004] .....   100.000500: sys_exit: NR 109 = 0
            bash-1040    [004] .....   100.001000: sys_exit: NR 109 = 0
"""
    t = load_table([write(tmp_path, "lost.txt", text)])
    out = compute_stats(t, section="events")
    assert set(out) == {"events", "tasks", "cpus", "summary", "health"}
    s = out["summary"].row(0, named=True)
    assert (s["lost_windows"], s["lost_events"], s["span_ns"]) == (1, 17, 1000000)
    assert out["health"]["kind"].to_list() == ["lost"]
    assert row(out["events"], event="sys_exit")["rate_per_s"] == pytest.approx(3000.0)


# --- compute_stats ---------------------------------------------------------------------------


def test_compute_stats_sections_and_errors(lock_table):
    all_ = compute_stats(lock_table)
    assert list(all_) == ["locks", "fences", "events", "tasks", "cpus", "summary", "health",
                          "objects"]
    assert all_["fences"].is_empty() and all_["objects"].is_empty()
    assert list(compute_stats(lock_table, section="locks", by="task", top=1)) == ["locks"]
    assert compute_stats(lock_table, section="locks", top=1)["locks"].height == 1
    # a key only some frames have sorts those and leaves the others in their default order
    out = compute_stats(lock_table, sort="hold_total", top=2)
    assert out["locks"]["name"].to_list() == ["rcu_read_lock", "&dev->lock"]
    assert out["events"]["event"].to_list() == ["lock_acquire", "lock_release"]
    for bad in (dict(section="bogus"), dict(by="thread"), dict(sort="bogus"), dict(top=-1),
                dict(section="fences", sort="acquired")):
        with pytest.raises(UsageError):
            compute_stats(lock_table, **bad)


def test_empty_sections_have_schema(tmp_path):
    t = load_table([write(tmp_path, "sys.txt", HEADER + """\
            bash-1040    [004] .....   100.000000: sys_exit: NR 109 = 0
""")])
    out = compute_stats(t)
    for name in ("locks", "fences", "objects"):
        assert out[name].is_empty()
        assert "hold_p99" in out["locks"].columns
    assert out["summary"]["rate_per_s"].to_list() == [None]  # zero span


# --- independent plain-Python computation ----------------------------------------------------


def _ctx(r: dict):
    if r["nmi"]:
        return ("nmi", r["cpu"])
    if r["hardirq"]:
        return ("hardirq", r["cpu"])
    if r["softirq"]:
        return ("softirq", r["cpu"])
    if r["pid"] is None or r["pid"] == 0:
        return ("cpu", r["cpu"])
    return ("task", r["pid"])


def reference_locks(events: pl.DataFrame) -> dict:
    """Per class: acquired, contended, unmatched, wait_unmatched, hold and wait lists, with
    explicit per-(context, address) stacks, one event at a time."""
    res = defaultdict(lambda: {"acquired": 0, "contended": 0, "unmatched": 0,
                               "wait_unmatched": 0, "hold": [], "wait": []})
    stacks = defaultdict(list)
    pending = {}
    begins = {}
    flags_of = {}
    rows = list(events.iter_rows(named=True))
    for r in rows:
        if r["event"] == "contention_begin":
            flags_of.setdefault(r["addr"], r["lock_flags"])
    for r in rows:
        ev = r["event"]
        key = (_ctx(r), r["addr"])
        if ev == "lock_acquire":
            res[r["name"]]["acquired"] += 1
            stacks[key].append(r)
        elif ev == "lock_release":
            if stacks[key]:
                a = stacks[key].pop()
                res[a["name"]]["hold"].append(r["ts_ns"] - a["ts_ns"])
            else:
                res[r["name"]]["unmatched"] += 1
        elif ev == "lock_contended":
            res[r["name"]]["contended"] += 1
            if key in pending:
                res[pending[key]["name"]]["wait_unmatched"] += 1
            pending[key] = r
        elif ev == "lock_acquired":
            res[r["name"]]  # a class seen only uncontended still gets its row
            c = pending.pop(key, None)
            if c is not None:
                res[c["name"]]["wait"].append(r["ts_ns"] - c["ts_ns"])
        elif ev == "contention_begin":
            name = f"contention:{r['lock_flags']}"
            res[name]["contended"] += 1
            if key in begins:
                res[f"contention:{begins[key]['lock_flags']}"]["wait_unmatched"] += 1
            begins[key] = r
        elif ev == "contention_end":
            b = begins.pop(key, None)
            if b is not None:
                res[f"contention:{b['lock_flags']}"]["wait"].append(r["ts_ns"] - b["ts_ns"])
            else:
                res[f"contention:{flags_of.get(r['addr'], 'unknown')}"]["wait_unmatched"] += 1
    for stack in stacks.values():
        for a in stack:
            res[a["name"]]["unmatched"] += 1
    for c in list(pending.values()):
        res[c["name"]]["wait_unmatched"] += 1
    for b in begins.values():
        res[f"contention:{b['lock_flags']}"]["wait_unmatched"] += 1
    return res


def assert_locks_match_reference(events: pl.DataFrame) -> int:
    ref = reference_locks(events)
    got = lock_stats(events)
    assert sorted(got["name"].to_list()) == sorted(ref)
    for name, r in ref.items():
        exp = {k: r[k] for k in ("acquired", "contended", "unmatched", "wait_unmatched")}
        exp |= durations("hold", r["hold"]) | durations("wait", r["wait"])
        g = subset(row(got, name=name), exp)
        for k in ("hold_mean", "wait_mean"):
            if exp[k] is not None:
                assert g[k] == pytest.approx(exp[k])
                g[k] = exp[k]
        assert g == exp, name
    return sum(len(r["hold"]) for r in ref.values())


def reference_events(events: pl.DataFrame) -> tuple[dict, dict, dict]:
    by_event, by_pid, by_cpu = defaultdict(int), defaultdict(int), defaultdict(int)
    for ev, pid, cpu in events.select("event", "pid", "cpu").iter_rows():
        by_event[ev] += 1
        if pid is not None:
            by_pid[pid] += 1
        by_cpu[cpu] += 1
    return dict(by_event), dict(by_pid), dict(by_cpu)


def reference_objects(events: pl.DataFrame) -> dict:
    live, lifetimes, unmatched, lost = {}, [], 0, 0
    for r in events.iter_rows(named=True):
        ptr = r["ptr"]
        if ptr is None or int(ptr, 16) in (0, 0x10):
            continue
        if r["event"] in ("kmalloc", "kmem_cache_alloc", "kmalloc_node", "kmem_cache_alloc_node"):
            if ptr in live:
                lost += 1
            live[ptr] = r["ts_ns"]
        elif r["event"] in ("kfree", "kmem_cache_free"):
            if ptr in live:
                lifetimes.append(r["ts_ns"] - live.pop(ptr))
            else:
                unmatched += 1
    return {"live": len(live), "lifetimes": sorted(lifetimes), "unmatched_frees": unmatched,
            "lost_frees": lost}


def assert_all_match_reference(table) -> None:
    ev = table.events
    assert_locks_match_reference(ev)
    by_event, by_pid, by_cpu = reference_events(ev)
    out = event_stats(table)
    assert dict(out["events"].select("event", "count").rows()) == by_event
    assert dict(out["tasks"].select("pid", "count").rows()) == by_pid
    assert dict(out["cpus"].select("cpu", "count").rows()) == by_cpu
    ts = ev["ts_ns"].to_list()
    s = out["summary"].row(0, named=True)
    assert s["span_ns"] == (max(ts) - min(ts)) and s["events"] == len(ts)
    objs = object_stats(ev)
    ref = reference_objects(ev)
    assert int(objs["live"].sum()) == ref["live"]
    assert int(objs["unmatched_frees"].sum()) == ref["unmatched_frees"]
    assert int(objs["lost_frees"].sum()) == ref["lost_frees"]
    assert int(objs["lifetime_total"].sum()) == sum(ref["lifetimes"])


LKML_LOCKS = sorted((CORPUS / "lkml-snippets").glob("*lock*.txt"))
CORPUS_REAL = LKML_LOCKS + [
    CORPUS / "lkml-snippets" / "20190929_changbin_kmem_call_site_symbolic.txt",
    CORPUS / "tracecompass-incubator" / "atrace-test",
    CORPUS / "tracecompass-incubator" / "trace-android-sched-irq",
    CORPUS / "tracecompass-incubator" / "ftrace_syscalls.txt",
    CORPUS / "lisa" / "trace.txt",
]


@pytest.mark.parametrize("path", CORPUS_REAL, ids=lambda p: p.name)
def test_corpus_matches_reference(path):
    if not path.exists():
        pytest.skip(f"shared corpus file {path} not found (set TRACEREPLAY_SHARED)")
    assert_all_match_reference(load_table([str(path)]))


@pytest.mark.skipif(not REAL, reason="no real kernel captures in sample_traces/real/*/trace.txt* yet")
@pytest.mark.parametrize("path", REAL or ["none"])
def test_real_captures_match_reference(path):
    t = load_table([path])
    assert_all_match_reference(t)
    ev = t.events
    fl = fence_stats(ev)
    fence_ids = ev.filter(pl.col("event").str.contains("fence")).select("context", "seqno").unique()
    assert int(fl["fences"].sum()) == fence_ids.drop_nulls().height


@pytest.mark.skipif(not REAL, reason="no real kernel captures in sample_traces/real/*/trace.txt* yet")
@pytest.mark.parametrize("path", REAL or ["none"])
def test_real_captures_split_invariant(path, tmp_path):
    from tracereplay.io import read_text

    lines = read_text(path).splitlines(keepends=True)
    assert_split_invariant(tmp_path, "".join(lines), len(lines) // 2)


_ADDRS = ["00000000aaaa0001", "00000000bbbb0002"]
_TASKS = [("bash", 1040, 4), ("cat", 2000, 1), ("<idle>", 0, 0), ("<idle>", 0, 2)]
_EVENTS = ["lock_acquire", "lock_release", "lock_contended", "lock_acquired",
           "contention_begin", "contention_end"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(_TASKS), st.sampled_from(_EVENTS),
                          st.sampled_from(_ADDRS), st.sampled_from([".....", "d.h1.", "..s1."]),
                          st.integers(0, 3)), min_size=1, max_size=60))
def test_random_lock_sequences_match_reference(tmp_path, seq):
    """LIFO pairing by nesting level agrees with explicit stacks on arbitrary sequences, with
    unmatched events at either end, interrupts and per-CPU idle tasks."""
    lines, ts = [], 1_000_000
    for (comm, pid, cpu), ev, addr, flags, step in seq:
        ts += step
        body = f"{addr} &lock{addr[-1]}"
        if ev == "contention_begin":
            body = f"{addr} (flags={'SPIN' if addr.endswith('1') else 'MUTEX'})"
        elif ev == "contention_end":
            body = f"{addr} (ret=0)"
        task = f"{comm}-{pid}"
        lines.append(f"{task:>16}    [{cpu:03d}] {flags} {ts // 1_000_000:5d}.{ts % 1_000_000:06d}: {ev}: {body}\n")
    t = load_table([write(tmp_path, "rand.txt", "".join(lines))])
    assert t.events.height == len(seq)
    assert_locks_match_reference(t.events)


# --- split-file invariance -------------------------------------------------------------------


def assert_split_invariant(tmp_path: Path, text: str, at: int) -> None:
    lines = text.splitlines(keepends=True)
    whole = load_table([write(tmp_path, "whole.txt", text)])
    parts = load_table([write(tmp_path, "part1.txt", "".join(lines[:at])),
                        write(tmp_path, "part2.txt", "".join(lines[at:]))])
    for by in ("class", "instance", "task", "cpu"):
        a, b = compute_stats(whole, by=by), compute_stats(parts, by=by)
        assert list(a) == list(b)
        for name in a:
            if name == "health":
                assert a[name].drop("file", "line").height == b[name].drop("file", "line").height
                continue
            x, y = a[name], b[name]
            if name == "summary":
                assert (x["files"].item(), y["files"].item()) == (1, 2)
                x, y = x.drop("files"), y.drop("files")
            assert_frame_equal(x, y, check_exact=True)


@pytest.mark.parametrize("text", [LOCKS, FENCES, OBJECTS], ids=["locks", "fences", "objects"])
def test_split_invariance_small(tmp_path, text):
    n = len(text.splitlines())
    first_event = len(HEADER.splitlines()) + 1  # both files need an event
    for at in range(first_event, n, 2):
        assert_split_invariant(tmp_path, text, at)


@pytest.mark.parametrize("name", ["lkml-snippets/20251106_rostedt_lock_acquire_release_preempt_rt.txt",
                                  "tracecompass-incubator/atrace-test", "lisa/trace.txt"])
def test_split_invariance_corpus(tmp_path, name):
    path = CORPUS / name
    if not path.exists():
        pytest.skip(f"shared corpus file {path} not found (set TRACEREPLAY_SHARED)")
    text = path.read_text()
    n = len(text.splitlines())
    for at in (n // 3, n // 2 + 1):
        assert_split_invariant(tmp_path, text, at)


# --- plots -----------------------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n"


def test_plots_are_png(tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib.image

    from tracereplay.stats.plots import PLOTS, write_plots

    t = load_table([write(tmp_path, "locks.txt", LOCKS + FENCES.split("|     |         |\n", 1)[1])])
    paths = write_plots(t, tmp_path / "plots")
    assert [p.name for p in paths] == list(PLOTS)
    for p in paths:
        data = p.read_bytes()
        assert data[:8] == PNG and len(data) > 5000, p
        img = matplotlib.image.imread(p)
        assert img.shape[0] >= 300 and img.shape[1] >= 600
    # nothing to show still gives a readable file
    empty = load_table([write(tmp_path, "sys.txt", HEADER + """\
            bash-1040    [004] .....   100.000000: sys_exit: NR 109 = 0
""")])
    for p in write_plots(empty, tmp_path / "empty"):
        assert p.read_bytes()[:8] == PNG


def test_plots_without_matplotlib(tmp_path, monkeypatch, lock_table):
    from tracereplay.stats import plots

    for mod in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, mod, None)
    with pytest.raises(UsageError, match=r"--plot needs matplotlib: pip install 'tracereplay\[plot\]'"):
        plots.write_plots(lock_table, tmp_path / "p")
    assert not (tmp_path / "p").exists()
