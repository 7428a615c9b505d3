"""Slab objects, RCU read sections and the SLAB_TYPESAFE_BY_RCU recycling hazard, on traces in the
exact kmem.h / lock.h / kprobe text formats."""

from __future__ import annotations

from conftest import HEADER_LINES, ev

from tracereplay.api import check

L = HEADER_LINES

P = "00000000cef40c80"  # a hashed %p as kmem prints it
RAW = "0xffff888004a1c000"  # a raw pointer as kprobes print it


def alloc(ptr, ts, comm="prepare", pid=50, cpu=0):
    return ev(comm, pid, cpu, ts, f"kmem_cache_alloc: call_site=mock_fence+0x1d/0x60 [dmabuf_selftests] "
                                  f"ptr={ptr} bytes_req=72 bytes_alloc=72 gfp_flags=GFP_KERNEL node=-1 "
                                  f"accounted=false", "...1.")


def free(ptr, ts, comm="prepare", pid=50, cpu=0, name="mock_fence"):
    return ev(comm, pid, cpu, ts, f"kmem_cache_free: call_site=dma_fence_free+0x12/0x20 ptr={ptr} name={name}",
              "...1.")


def kfree(ptr, ts, comm="prepare", pid=50, cpu=0):
    return ev(comm, pid, cpu, ts, f"kfree: call_site=security_cred_free+0x42/0x50 ptr={ptr}", "...1.")


def rcu_lock(ts, comm="reader", pid=60, cpu=1, name="rcu_read_lock"):
    return ev(comm, pid, cpu, ts, f"lock_acquire: 00000000ecc0af71 read {name}", "...1.")


def rcu_unlock(ts, comm="reader", pid=60, cpu=1, name="rcu_read_lock"):
    return ev(comm, pid, cpu, ts, f"lock_release: 00000000ecc0af71 {name}", "...1.")


def kp_alloc(ptr, ts, comm="prepare", pid=50, cpu=0):
    return ev(comm, pid, cpu, ts, f"kmem_cache_alloc_ret: (mock_fence+0x1d/0x60 [dmabuf_selftests] <- "
                                  f"kmem_cache_alloc) ptr={ptr}", "...1.")


def kp_free(ptr, ts, comm="prepare", pid=50, cpu=0):
    return ev(comm, pid, cpu, ts, f"kmem_cache_free_probe: (kmem_cache_free+0x0/0x2a0) cache=0xffff888003e1b400 "
                                  f"ptr={ptr}", "...1.")


def get_rcu(ptr, ts, comm="reader", pid=60, cpu=1, safe=False):
    name = "dma_fence_get_rcu_safe" if safe else "dma_fence_get_rcu"
    return ev(comm, pid, cpu, ts, f"{name}: (dma_resv_get_fences+0x5c/0x1f0) fence={ptr}", "...1.")


def run(trace_file, lines, **kw):
    return [f for f in check([trace_file(lines)], **kw).findings if f.rule.startswith(("SLAB-", "RCU-"))]


def rules(findings):
    return [(f.rule, f.severity, f.objects, f.line) for f in findings]


# -- SLAB-DOUBLE-FREE --------------------------------------------------------------------------
def test_double_free(trace_file):
    lines = [alloc(P, 1.0), free(P, 1.1), free(P, 1.2, comm="other", pid=51)]
    (f,) = run(trace_file, lines)
    assert rules([f]) == [("SLAB-DOUBLE-FREE", "error", [P], L + 3)]
    assert [e.line for e in f.evidence] == [L + 1, L + 2, L + 3]
    assert f.key_objects == ["dma_fence_free"]


def test_free_alloc_free_is_fine(trace_file):
    lines = [alloc(P, 1.0), free(P, 1.1), alloc(P, 1.2), free(P, 1.3)]
    assert run(trace_file, lines) == []


def test_free_from_another_cache_is_reuse_not_double_free(trace_file):
    # the slab page went back and another cache allocated it without a traced allocation
    lines = [alloc(P, 1.0), free(P, 1.1, name="vm_area_struct"), free(P, 1.2, name="anon_vma_chain")]
    assert run(trace_file, lines) == []


def test_double_free_across_lost_events_is_downgraded(trace_file):
    lines = [alloc(P, 1.0), free(P, 1.1), "CPU:0 [LOST 3 EVENTS]", free(P, 1.2)]
    (f,) = run(trace_file, lines)
    assert (f.rule, f.severity, f.line) == ("SLAB-DOUBLE-FREE", "warning", L + 4)


# -- SLAB-FREE-UNKNOWN -------------------------------------------------------------------------
def test_free_of_unknown_address(trace_file):
    lines = [kfree("0000000062400820", 1.0), kfree("0000000062400820", 1.1)]
    assert rules(run(trace_file, lines)) == [("SLAB-FREE-UNKNOWN", "info", ["0000000062400820"], L + 1)]


def test_kfree_null_is_ignored(trace_file):
    assert run(trace_file, [kfree("0000000000000000", 1.0)]) == []


# -- RCU-RECYCLED-OBJECT -----------------------------------------------------------------------
def recycled(touch):
    return [
        kp_alloc(RAW, 1.0),
        rcu_lock(1.1),
        kp_free(RAW, 1.2),
        kp_alloc(RAW, 1.3),
        touch,
        rcu_unlock(1.5),
    ]


def test_recycled_fence_seen_by_get_rcu(trace_file):
    (f,) = run(trace_file, recycled(get_rcu(RAW, 1.4)))
    assert rules([f]) == [("RCU-RECYCLED-OBJECT", "error", [RAW, "dma_fence_get_rcu"], L + 5)]
    assert [e.line for e in f.evidence] == [L + 2, L + 3, L + 4, L + 5]
    assert "dma_fence_get_rcu_safe() closes this window" in f.detail
    assert f.key_objects == ["dma_fence_get_rcu"]


def test_get_rcu_safe_rechecks(trace_file):
    assert run(trace_file, recycled(get_rcu(RAW, 1.4, safe=True))) == []


def test_reader_outside_section_or_section_after_free(trace_file):
    lines = [kp_alloc(RAW, 1.0), kp_free(RAW, 1.2), rcu_lock(1.25), kp_alloc(RAW, 1.3), get_rcu(RAW, 1.4),
             rcu_unlock(1.5), get_rcu(RAW, 1.6)]
    assert run(trace_file, lines) == []


def test_hashed_and_raw_pointers_never_join(trace_file):
    # the hashed kmem events describe some object; the kprobe's raw pointer is another namespace
    lines = [alloc(P, 1.0), rcu_lock(1.1), free(P, 1.2), alloc(P, 1.3), get_rcu("0x" + P.lstrip("0"), 1.4),
             rcu_unlock(1.5)]
    assert run(trace_file, lines) == []


def test_rcu_read_lock_sched_counts_as_reader(trace_file):
    lines = [kp_alloc(RAW, 1.0), rcu_lock(1.1, name="rcu_read_lock_sched"), kp_free(RAW, 1.2),
             kp_alloc(RAW, 1.3), get_rcu(RAW, 1.4), rcu_unlock(1.5, name="rcu_read_lock_sched")]
    assert [f.rule for f in run(trace_file, lines)] == ["RCU-RECYCLED-OBJECT"]


def test_double_free_against_a_racing_reallocation_is_a_warning(trace_file):
    """Real capture (recursive-nohash): the same stamp on two CPUs, merged in file order, shows
    alloc(CPU0) before free(CPU1); the allocation may really have come after the free."""
    Q = "ffff888002cc0d00"
    lines = [alloc(Q, 8.103003, comm="cat", pid=37, cpu=0),
             alloc(Q, 8.103003, comm="init", pid=1, cpu=1),
             free(Q, 8.103003, comm="init", pid=1, cpu=1, name="maple_node"),
             free(Q, 8.163926, comm="insmod", pid=38, cpu=0, name="maple_node")]
    (f,) = run(trace_file, lines)
    assert (f.rule, f.severity, f.objects, f.line) == ("SLAB-DOUBLE-FREE", "warning", [Q], L + 4)
    assert "per-CPU clocks may order them wrongly" in f.detail


def test_double_free_far_apart_stays_an_error(trace_file):
    Q = "ffff888002cc0d00"
    lines = [alloc(Q, 1.0, cpu=0), free(Q, 1.5, cpu=1), free(Q, 2.0, cpu=0)]
    (f,) = run(trace_file, lines)
    assert (f.rule, f.severity, f.line) == ("SLAB-DOUBLE-FREE", "error", L + 3)


def test_addr_key_list_matches_addr_key():
    """The vectorised address keys equal addr_key on every shape, printed or malformed."""
    import random

    import polars as pl

    from tracereplay.models.addresses import addr_key, addr_key_list

    vals = [None, "", "0", "0000000000000000", "00000000deadbeef", "ffff888012345678", "FFFF888012345678",
            "0x0", "0x", "0X1F", "0x0000abc", " 0xabc", "(null)", "(____ptrval____)", "12345678", "0x1_0",
            "ffff8880123456789", "0xg1", "-0x1"]
    rnd = random.Random(1)
    vals += [rnd.choice(["", "0x", "0X"]) + "".join(rnd.choice("0000123456789abcdefABCDEFx _g") for _ in range(n))
             for n in (rnd.randrange(20) for _ in range(5000))]
    want = [addr_key(v) for v in vals]
    s = pl.Series(vals, dtype=pl.String)
    assert addr_key_list(s) == want
    assert addr_key_list(s.cast(pl.Categorical)) == want
