"""The lock model, case by case, in the spirit of the kernel's lib/locking-selftest.c.

Every trace is written in the exact text of /sys/kernel/tracing/trace; every test asserts the
rule, the objects and the lines.
"""

from __future__ import annotations

from conftest import HEADER_LINES, ev

from tracereplay.api import check
from tracereplay.debug.history import history
from tracereplay.table import load_table

L = HEADER_LINES  # event k (1-based) is on file line L + k


def acq(comm, pid, cpu, ts, addr, name, flags=".....", mode=""):
    return ev(comm, pid, cpu, ts, f"lock_acquire: {addr} {mode}{name}", flags)


def rel(comm, pid, cpu, ts, addr, name, flags="....."):
    return ev(comm, pid, cpu, ts, f"lock_release: {addr} {name}", flags)


A, B, C = ("00000000aaaa0001", "&a_mutex"), ("00000000bbbb0002", "&b_mutex"), ("00000000cccc0003", "&c_mutex")


def run(trace_file, lines, **kw):
    return check([trace_file(lines)], **kw).findings


def rules(findings):
    return [(f.rule, f.objects, f.line) for f in findings]


def test_abba_is_a_cycle(trace_file):
    lines = [
        acq("insmod", 101, 0, 1.0, *A), acq("insmod", 101, 0, 1.1, *B),
        rel("insmod", 101, 0, 1.2, *B), rel("insmod", 101, 0, 1.3, *A),
        acq("kworker/0:1", 102, 1, 2.0, *B), acq("kworker/0:1", 102, 1, 2.1, *A),
        rel("kworker/0:1", 102, 1, 2.2, *A), rel("kworker/0:1", 102, 1, 2.3, *B),
    ]
    (f,) = run(trace_file, lines)
    assert (f.rule, f.severity, f.objects, f.line) == ("LOCK-CYCLE", "error", ["&a_mutex", "&b_mutex"], L + 6)
    assert [(e.line, e.note) for e in f.evidence] == [
        (L + 1, "&a_mutex acquired"), (L + 2, "&b_mutex acquired while holding &a_mutex"),
        (L + 5, "&b_mutex acquired"), (L + 6, "&a_mutex acquired while holding &b_mutex"),
    ]
    assert f.task == "kworker/0:1-102"
    assert "  lock(&b_mutex);\n" + " " * 31 + "lock(&a_mutex);\n" + " " * 31 + "lock(&b_mutex);\n  lock(&a_mutex);" in f.detail


def test_same_order_twice_is_clean(trace_file):
    lines = [acq("t", 5, 0, 1.0, *A), acq("t", 5, 0, 1.1, *B), rel("t", 5, 0, 1.2, *B), rel("t", 5, 0, 1.3, *A),
             acq("u", 6, 1, 2.0, *A), acq("u", 6, 1, 2.1, *B), rel("u", 6, 1, 2.2, *B), rel("u", 6, 1, 2.3, *A)]
    assert run(trace_file, lines) == []


def test_abc_cycle_reported_once_with_chain(trace_file):
    lines = [
        acq("t1", 11, 0, 1.0, *A), acq("t1", 11, 0, 1.1, *B), rel("t1", 11, 0, 1.2, *B), rel("t1", 11, 0, 1.3, *A),
        acq("t2", 12, 1, 2.0, *B), acq("t2", 12, 1, 2.1, *C), rel("t2", 12, 1, 2.2, *C), rel("t2", 12, 1, 2.3, *B),
        acq("t3", 13, 0, 3.0, *C), acq("t3", 13, 0, 3.1, *A), rel("t3", 13, 0, 3.2, *A), rel("t3", 13, 0, 3.3, *C),
        # the same cycle again: reported once
        acq("t3", 13, 0, 4.0, *C), acq("t3", 13, 0, 4.1, *A), rel("t3", 13, 0, 4.2, *A), rel("t3", 13, 0, 4.3, *C),
    ]
    (f,) = run(trace_file, lines)
    assert (f.rule, f.objects, f.line) == ("LOCK-CYCLE", ["&a_mutex", "&b_mutex", "&c_mutex"], L + 10)
    assert "Chain exists of:\n  &a_mutex --> &b_mutex --> &c_mutex" in f.detail
    assert len(f.evidence) == 6


def test_rwsem_read_abba_is_a_cycle(trace_file):
    """A non-recursive reader (rwsem) can block behind a queued writer: still a deadlock."""
    S = ("00000000dddd0004", "&mm->mmap_lock")
    lines = [acq("t1", 11, 0, 1.0, *S, mode="read "), acq("t1", 11, 0, 1.1, *B),
             rel("t1", 11, 0, 1.2, *B), rel("t1", 11, 0, 1.3, *S),
             acq("t2", 12, 1, 2.0, *B), acq("t2", 12, 1, 2.1, *S, mode="read ")]
    fs = [f for f in run(trace_file, lines) if f.rule == "LOCK-CYCLE"]
    assert [(f.rule, f.objects, f.line) for f in fs] == [("LOCK-CYCLE", ["&mm->mmap_lock", "&b_mutex"], L + 6)]
    # the trace cannot tell read from recursive-read: the finding says how it decided
    assert fs[0].extra["read_ambiguous"] == ["&mm->mmap_lock"] and "treated as non-recursive" in fs[0].detail


def test_recursive_reader_abba_is_not_a_cycle(trace_file):
    """rwlock_t readers are recursive: reader/reader does not deadlock (strong-path rule)."""
    T = ("00000000eeee0005", "tasklist_lock")
    lines = [acq("t1", 11, 0, 1.0, *T, mode="read "), acq("t1", 11, 0, 1.1, *B),
             rel("t1", 11, 0, 1.2, *B), rel("t1", 11, 0, 1.3, *T),
             acq("t2", 12, 1, 2.0, *B), acq("t2", 12, 1, 2.1, *T, mode="read "),
             rel("t2", 12, 1, 2.2, *T), rel("t2", 12, 1, 2.3, *B)]
    assert run(trace_file, lines) == []


def test_writer_vs_recursive_reader_is_a_cycle(trace_file):
    T = ("00000000eeee0005", "tasklist_lock")
    lines = [acq("t1", 11, 0, 1.0, *T), acq("t1", 11, 0, 1.1, *B),
             rel("t1", 11, 0, 1.2, *B), rel("t1", 11, 0, 1.3, *T),
             acq("t2", 12, 1, 2.0, *B), acq("t2", 12, 1, 2.1, *T, mode="read ")]
    got = [r for r in rules(run(trace_file, lines)) if r[0] == "LOCK-CYCLE"]
    assert got == [("LOCK-CYCLE", ["tasklist_lock", "&b_mutex"], L + 6)]


def test_trylock_adds_no_dependency_to_the_lock_it_takes(trace_file):
    lines = [acq("t1", 11, 0, 1.0, *A), acq("t1", 11, 0, 1.1, *B, mode="try "),
             rel("t1", 11, 0, 1.2, *B), rel("t1", 11, 0, 1.3, *A),
             acq("t2", 12, 1, 2.0, *B), acq("t2", 12, 1, 2.1, *A),
             rel("t2", 12, 1, 2.2, *A), rel("t2", 12, 1, 2.3, *B)]
    assert run(trace_file, lines) == []


def test_held_trylock_still_orders_later_locks(trace_file):
    lines = [acq("t1", 11, 0, 1.0, *A, mode="try "), acq("t1", 11, 0, 1.1, *B),
             rel("t1", 11, 0, 1.2, *B), rel("t1", 11, 0, 1.3, *A),
             acq("t2", 12, 1, 2.0, *B), acq("t2", 12, 1, 2.1, *A),
             rel("t2", 12, 1, 2.2, *A), rel("t2", 12, 1, 2.3, *B)]
    assert rules(run(trace_file, lines)) == [("LOCK-CYCLE", ["&a_mutex", "&b_mutex"], L + 6)]


def test_hardirq_vs_irqs_on_is_inconsistent(trace_file):
    S = ("0000000012340000", "&(&dev->lock)->rlock")
    lines = [acq("<idle>", 0, 1, 1.0, *S, flags="d.h1."), rel("<idle>", 0, 1, 1.1, *S, flags="d.h1."),
             acq("worker", 30, 0, 2.0, *S, flags="....."), rel("worker", 30, 0, 2.1, *S, flags=".....")]
    (f,) = run(trace_file, lines)
    assert (f.rule, f.objects, f.line) == ("LOCK-IRQ-STATE", ["&(&dev->lock)->rlock"], L + 3)
    assert f.title.endswith("{IN-HARDIRQ-W} -> {HARDIRQ-ON-W}")
    assert [e.line for e in f.evidence] == [L + 1, L + 3]


def test_irqsave_everywhere_is_consistent(trace_file):
    S = ("0000000012340000", "&(&dev->lock)->rlock")
    lines = [acq("<idle>", 0, 1, 1.0, *S, flags="d.h1."), rel("<idle>", 0, 1, 1.1, *S, flags="d.h1."),
             acq("worker", 30, 0, 2.0, *S, flags="d..1."), rel("worker", 30, 0, 2.1, *S, flags="d..1.")]
    assert run(trace_file, lines) == []


def test_irq_safe_to_unsafe_order(trace_file):
    S = ("0000000012340000", "&(&dev->lock)->rlock")
    U = ("0000000056780000", "&ctx->mutex")
    lines = [acq("<idle>", 0, 1, 1.0, *S, flags="d.h1."), rel("<idle>", 0, 1, 1.1, *S, flags="d.h1."),
             acq("worker", 30, 0, 2.0, *S, flags="d..1."), acq("worker", 30, 0, 2.1, *U, flags="d..1."),
             rel("worker", 30, 0, 2.2, *U, flags="d..1."), rel("worker", 30, 0, 2.3, *S, flags="d..1."),
             acq("other", 31, 0, 3.0, *U, flags="....."), rel("other", 31, 0, 3.1, *U, flags=".....")]
    (f,) = run(trace_file, lines)
    assert (f.rule, f.objects, f.line) == ("LOCK-IRQ-SAFE-UNSAFE", ["&(&dev->lock)->rlock", "&ctx->mutex"], L + 4)
    assert f.title == "HARDIRQ-safe -> HARDIRQ-unsafe lock order: &(&dev->lock)->rlock --> &ctx->mutex"
    assert {e.line for e in f.evidence} == {L + 1, L + 7, L + 4}


def test_interrupt_locks_do_not_nest_under_the_task(trace_file):
    """A hardirq that takes B while the interrupted task holds A adds no A -> B edge."""
    S = ("0000000012340000", "&irq_desc->lock")
    lines = [acq("t1", 11, 0, 1.0, *A, flags="d..1."),
             acq("t1", 11, 0, 1.1, *S, flags="d.h2."), rel("t1", 11, 0, 1.2, *S, flags="d.h2."),
             rel("t1", 11, 0, 1.3, *A, flags="d..1."),
             acq("<idle>", 0, 0, 2.0, *S, flags="d.h1."), acq("<idle>", 0, 0, 2.1, *A, flags="d.h1."),
             rel("<idle>", 0, 0, 2.2, *A, flags="d.h1."), rel("<idle>", 0, 0, 2.3, *S, flags="d.h1.")]
    assert run(trace_file, lines) == []


def test_ww_mutexes_under_acquire_context_nest(trace_file):
    ctx = ("00000000abc00000", "reservation_ww_class_acquire")
    r1, r2 = ("0000000011110000", "reservation_ww_class_mutex"), ("0000000022220000", "reservation_ww_class_mutex")
    lines = [acq("t", 5, 0, 1.0, *ctx), acq("t", 5, 0, 1.1, *r1), acq("t", 5, 0, 1.2, *r2),
             rel("t", 5, 0, 1.3, *r2), rel("t", 5, 0, 1.4, *r1), rel("t", 5, 0, 1.5, *ctx)]
    assert run(trace_file, lines) == []


def test_second_lock_of_class_without_context_warns(trace_file):
    r1, r2 = ("0000000011110000", "reservation_ww_class_mutex"), ("0000000022220000", "reservation_ww_class_mutex")
    lines = [acq("t", 5, 0, 1.0, *r1), acq("t", 5, 0, 1.1, *r2), rel("t", 5, 0, 1.2, *r2), rel("t", 5, 0, 1.3, *r1)]
    (f,) = run(trace_file, lines)
    assert (f.rule, f.severity, f.objects, f.line) == ("LOCK-SAME-CLASS", "warning", ["reservation_ww_class_mutex"], L + 2)


def test_same_instance_twice_is_recursive(trace_file):
    lines = [acq("t", 5, 0, 1.0, *A), acq("t", 5, 0, 1.1, *A)]
    fs = run(trace_file, lines)
    assert ("LOCK-RECURSIVE", ["&a_mutex", "00000000aaaa0001"], L + 2) in rules(fs)
    (rec,) = [f for f in fs if f.rule == "LOCK-RECURSIVE"]
    assert rec.severity == "error" and [e.line for e in rec.evidence] == [L + 1, L + 2]


def test_resv_inside_fs_reclaim_closes_the_primed_cycle(trace_file):
    """dma_resv_lockdep() primes resv -> fs_reclaim at boot: taking a resv lock in reclaim
    (a shrinker) is a deadlock even though the trace never shows the forward order."""
    R = ("0000000011110000", "reservation_ww_class_mutex")
    F = ("00000000ffff0000", "fs_reclaim")
    lines = [acq("kswapd0", 80, 1, 1.0, *F), acq("kswapd0", 80, 1, 1.1, *R),
             rel("kswapd0", 80, 1, 1.2, *R), rel("kswapd0", 80, 1, 1.3, *F)]
    (f,) = run(trace_file, lines)
    assert (f.rule, f.objects, f.line) == ("LOCK-CYCLE", ["reservation_ww_class_mutex", "fs_reclaim"], L + 2)
    assert "primed at boot by dma_resv_lockdep()" in f.detail
    assert [e.line for e in f.evidence] == [L + 1, L + 2]


def test_resv_in_fence_signalling_section(trace_file):
    """dma_fence_begin_signalling() then dma_resv_lock(): the classic fence-signalling splat."""
    M = ("00000000f0f00000", "dma_fence_map")
    R = ("0000000011110000", "reservation_ww_class_mutex")
    lines = [acq("kworker/u8:3", 90, 0, 1.0, *M, mode="try read "), acq("kworker/u8:3", 90, 0, 1.1, *R)]
    cyc = [f for f in run(trace_file, lines) if f.rule == "LOCK-CYCLE"]
    assert [(f.objects, f.line) for f in cyc] == [
        (["reservation_ww_class_mutex", "fs_reclaim", "mmu_notifier_invalidate_range_start", "dma_fence_map"], L + 2)]


def test_bad_unlock_balance(trace_file):
    lines = [acq("t", 5, 0, 1.0, *A), rel("t", 5, 0, 1.1, *A), rel("t", 5, 0, 1.2, *A)]
    (f,) = run(trace_file, lines)
    assert (f.rule, f.objects, f.line) == ("LOCK-BAD-UNLOCK", ["&a_mutex", "00000000aaaa0001"], L + 3)
    assert [e.line for e in f.evidence] == [L + 2, L + 3]


def test_release_of_lock_held_by_another_task(trace_file):
    lines = [acq("t", 5, 0, 1.0, *A), rel("u", 6, 1, 1.1, *A)]
    fs = [f for f in run(trace_file, lines) if f.rule == "LOCK-BAD-UNLOCK"]
    assert [(f.line, f.task) for f in fs] == [(L + 2, "u-6")]


def test_release_before_any_acquire_is_trace_start(trace_file):
    """The acquisition may predate the trace: not a finding."""
    assert run(trace_file, [rel("t", 5, 0, 1.0, *A)]) == []


def test_locks_held_at_exit(trace_file):
    lines = [acq("t", 5, 0, 1.0, *A), ev("t", 5, 0, 1.1, "sched_process_exit: comm=t pid=5 prio=120")]
    (f,) = run(trace_file, lines)
    assert (f.rule, f.objects, f.line) == ("LOCK-HELD-AT-EXIT", ["&a_mutex"], L + 2)


def test_locks_held_at_end_are_info(trace_file):
    (f,) = run(trace_file, [acq("t", 5, 0, 1.0, *A)])
    assert (f.rule, f.severity, f.objects, f.line) == ("LOCK-HELD-AT-END", "info", ["&a_mutex"], L + 1)


def test_static_locks_sharing_a_name_are_not_a_cycle(trace_file):
    """Two `static DEFINE_MUTEX(lock)` in different files print the same name: different classes."""
    l1, l2 = ("0000000000001000", "lock"), ("0000000000002000", "lock")
    lines = [acq("t1", 11, 0, 1.0, *l1), acq("t1", 11, 0, 1.1, *B), rel("t1", 11, 0, 1.2, *B), rel("t1", 11, 0, 1.3, *l1),
             acq("t2", 12, 1, 2.0, *B), acq("t2", 12, 1, 2.1, *l2), rel("t2", 12, 1, 2.2, *l2), rel("t2", 12, 1, 2.3, *B)]
    assert run(trace_file, lines) == []


def test_dynamic_class_through_other_instances_is_uncertain(trace_file):
    o1, o2 = ("0000000000001000", "&obj->lock"), ("0000000000002000", "&obj->lock")
    lines = [acq("t1", 11, 0, 1.0, *o1), acq("t1", 11, 0, 1.1, *B), rel("t1", 11, 0, 1.2, *B), rel("t1", 11, 0, 1.3, *o1),
             acq("t2", 12, 1, 2.0, *B), acq("t2", 12, 1, 2.1, *o2), rel("t2", 12, 1, 2.2, *o2), rel("t2", 12, 1, 2.3, *B)]
    (f,) = run(trace_file, lines)
    assert (f.rule, f.severity, f.objects, f.line) == ("LOCK-CYCLE", "warning", ["&obj->lock", "&b_mutex"], L + 6)
    assert "class identity uncertain" in f.detail and f.extra["uncertain"] == ["&obj->lock"]


def test_finding_in_lost_events_window_is_downgraded(trace_file):
    lines = [acq("t", 5, 0, 1.0, *A), rel("t", 5, 0, 1.1, *A), "CPU:0 [LOST 12 EVENTS]", rel("t", 5, 0, 1.2, *A)]
    (f,) = run(trace_file, lines)
    assert (f.rule, f.line, f.severity) == ("LOCK-BAD-UNLOCK", L + 4, "warning")
    assert f.incomplete.startswith("lost (CPU 0: 12 events lost")


def test_fingerprint_is_boot_independent(trace_file):
    def trace(a, b, pid):
        return [acq("t", pid, 0, 1.0, a, "&a_mutex"), acq("t", pid, 0, 1.1, b, "&b_mutex"),
                rel("t", pid, 0, 1.2, b, "&b_mutex"), rel("t", pid, 0, 1.3, a, "&a_mutex"),
                acq("u", pid + 1, 1, 2.0, b, "&b_mutex"), acq("u", pid + 1, 1, 2.1, a, "&a_mutex")]
    (f1,) = [f for f in run(trace_file, trace("000000001111aaaa", "000000002222bbbb", 5)) if f.rule == "LOCK-CYCLE"]
    (f2,) = [f for f in check([trace_file(trace("00000000deadbeef", "00000000cafef00d", 900), name="b.txt")]).findings
             if f.rule == "LOCK-CYCLE"]
    assert f1.fingerprint == f2.fingerprint


def test_trace_cmd_report_abba(tmp_path):
    """`trace-cmd report -t`: no flags column, pid width 5, padded event names, raw pointers,
    and a dropped-events marker after the cycle that does not make it uncertain."""
    p = tmp_path / "tc.txt"
    p.write_text(
        "version = 6\nCPU 1 is empty\ncpus=2\n"
        "            bash-1234  [000]  1234.567890123: lock_acquire:         0xffff888012345678 &a_mutex\n"
        "            bash-1234  [000]  1234.567891123: lock_acquire:         0xffff888012345680 &b_mutex\n"
        "            bash-1234  [000]  1234.567892123: lock_release:         0xffff888012345680 &b_mutex\n"
        "            bash-1234  [000]  1234.567893123: lock_release:         0xffff888012345678 &a_mutex\n"
        "     kworker/0:1-55    [000]  1234.567894123: lock_acquire:         0xffff888012345680 &b_mutex\n"
        "     kworker/0:1-55    [000]  1234.567895123: lock_acquire:         0xffff888012345678 &a_mutex\n"
        "CPU:0 [12 EVENTS DROPPED]\n"
        "     kworker/0:1-55    [000]  1234.567896123: lock_release:         0xffff888012345678 &a_mutex\n")
    fs = [f for f in check([str(p)]).findings if f.rule == "LOCK-CYCLE"]
    assert [(f.severity, f.objects, f.line, f.ts_ns) for f in fs] == [
        ("error", ["&a_mutex", "&b_mutex"], 9, 1234567895123)]


def test_unhashed_ptrval_recursion_is_a_warning(trace_file):
    """Without boot entropy %p prints (____ptrval____): instances cannot be told apart."""
    X = ("(____ptrval____)", "&x->lock")
    (f,) = [f for f in run(trace_file, [acq("t", 5, 0, 1.0, *X), acq("t", 5, 0, 1.1, *X)]) if f.rule == "LOCK-RECURSIVE"]
    assert (f.severity, f.line) == ("warning", L + 2) and "(____ptrval____)" in f.detail


def test_lock_events_whose_body_names_no_lock_are_skipped(trace_file):
    """A lock_acquire cut short ("lock_acquire: 0000000", no class name) cannot be followed: the
    model skips it, on the fused loop and on the handlers (history) alike, instead of failing."""
    lines = [
        ev("insmod", 101, 0, 10.000001, "lock_acquire: 0000000"),
        ev("insmod", 101, 0, 10.000002, "lock_acquire: 00000000aaaa0001 &a_mutex"),
        ev("insmod", 101, 0, 10.000003, "lock_release: 0000000"),
    ]
    findings = run(trace_file, lines)
    assert [(f.rule, f.line) for f in findings] == [("LOCK-HELD-AT-END", L + 2)]
    assert history(load_table([trace_file(lines, name="again.txt")]), "&a_mutex").height == 1
