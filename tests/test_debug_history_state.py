"""tracereplay history's state column from the fence, slab, refcount and GPUVM models
(``Model.state_of``), on traces in the real text format."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import HEADER_LINES, MYDRV_REFCOUNT_MAPPING, ev

from tracereplay.cli import main
from tracereplay.debug.history import history
from tracereplay.engine import Replay, replay
from tracereplay.models.fence import FenceModel
from tracereplay.models.gpuvm import GpuvmModel
from tracereplay.models.refcount import RefcountModel
from tracereplay.models.slab import SlabModel
from tracereplay.table import load_table

L = HEADER_LINES


def states(path: str, obj: str, mappings: list[str] | None = None) -> list[tuple[int, str, str | None]]:
    h = history(load_table([path]), obj, mappings=mappings)
    return list(h.select("line", "event", "state").iter_rows())


# -- dma_fence ---------------------------------------------------------------------------------
def fence(event: str, ts: float, comm: str = "kworker/0:1", pid: int = 44, seqno: int = 1) -> str:
    return ev(comm, pid, 0, ts, f"{event}: driver=vgem timeline=vgem-0 context=5 seqno={seqno}")


@pytest.fixture
def fence_trace(trace_file):
    return trace_file([
        fence("dma_fence_init", 1.0),                                   # L+1
        fence("dma_fence_emit", 1.1),                                   # L+2
        fence("dma_fence_enable_signal", 1.2),                          # L+3
        fence("dma_fence_wait_start", 1.3, comm="app", pid=300),        # L+4
        fence("dma_fence_signaled", 1.4, comm="<idle>", pid=0),         # L+5
        fence("dma_fence_wait_end", 1.5, comm="app", pid=300),          # L+6
        fence("dma_fence_destroy", 1.6),                                # L+7
        fence("dma_fence_init", 1.7, seqno=2),                          # L+8
    ])


def test_fence_lifecycle_states(fence_trace):
    init = "initialised by kworker/0:1-44"
    sig = f"signalled at {fence_trace}:{L + 5}"
    assert states(fence_trace, "5:1") == [
        (L + 1, "dma_fence_init", init),
        (L + 2, "dma_fence_emit", f"{init}, emitted"),
        (L + 3, "dma_fence_enable_signal", f"{init}, emitted, signalling enabled"),
        (L + 4, "dma_fence_wait_start", f"{init}, emitted, signalling enabled, waited on by app-300"),
        (L + 5, "dma_fence_signaled", f"{init}, emitted, signalling enabled, waited on by app-300, {sig}"),
        (L + 6, "dma_fence_wait_end", f"{init}, emitted, signalling enabled, {sig}"),
        (L + 7, "dma_fence_destroy", f"{init}, emitted, signalling enabled, {sig}, destroyed"),
    ]
    assert states(fence_trace, "5:2") == [(L + 8, "dma_fence_init", init)]


def test_fence_first_seen_mid_life(trace_file):
    p = trace_file([fence("dma_fence_signaled", 1.0), fence("dma_fence_destroy", 1.1)])
    assert [s for _, _, s in states(p, "5:1")] == [
        f"initialised before the trace, signalled at {p}:{L + 1}",
        f"initialised before the trace, signalled at {p}:{L + 1}, destroyed",
    ]


# -- slab and RCU ------------------------------------------------------------------------------
HASHED = "00000000ee02c684"
RAW = "0xffff888104f3c000"


def kmalloc(ptr: str, ts: float, comm: str = "kworker/0:1", pid: int = 44) -> str:
    return ev(comm, pid, 0, ts, f"kmalloc: call_site=drm_gem_shmem_create+0x2a/0x40 "
                                f"ptr={ptr} bytes_req=64 bytes_alloc=64 gfp_flags=GFP_KERNEL node=-1 "
                                "accounted=false")


def kfree(ptr: str, ts: float, comm: str = "Xorg", pid: int = 1187) -> str:
    return ev(comm, pid, 2, ts, f"kfree: call_site=drm_gem_object_free+0x2a/0x40 ptr={ptr}")


def test_kmalloc_kfree_states_and_spellings(trace_file):
    p = trace_file([
        kmalloc(HASHED, 1.0),                                           # L+1
        kfree(HASHED, 1.1),                                             # L+2
        kmalloc(HASHED, 1.2),                                           # L+3
        kfree("00000000aaaa0001", 1.3),                                 # L+4: never allocated
    ])
    alloc = "(kmalloc at drm_gem_shmem_create+0x2a/0x40, 64 bytes)"
    want = [
        (L + 1, "kmalloc", f"allocated {alloc}"),
        (L + 2, "kfree", "freed by Xorg-1187 (kfree at drm_gem_object_free+0x2a/0x40)"),
        (L + 3, "kmalloc", f"reallocated {alloc}"),
    ]
    for spelling in (HASHED, "ee02c684", "0x00000000ee02c684", "0xee02c684"):
        assert states(p, spelling) == want, spelling
    assert states(p, "aaaa0001") == [
        (L + 4, "kfree", "freed by Xorg-1187 (kfree at drm_gem_object_free+0x2a/0x40), never seen allocated"),
    ]


def test_rcu_reader_section_and_lookup(trace_file):
    def kp(body: str, ts: float, comm: str = "prepare", pid: int = 50, cpu: int = 0) -> str:
        return ev(comm, pid, cpu, ts, body, "...1.")

    p = trace_file([
        kp(f"kmem_cache_alloc_ret: (mock_fence+0x1d/0x60 [dmabuf_selftests] <- kmem_cache_alloc) ptr={RAW}",
           1.0),                                                                             # L+1
        kp("lock_acquire: 00000000ecc0af71 read rcu_read_lock", 1.1, "reader", 60, 1),       # L+2
        kp(f"dma_fence_get_rcu: (dma_resv_get_fences+0x5c/0x1f0) fence={RAW}", 1.2, "reader", 60, 1),  # L+3
        kp(f"kmem_cache_free_probe: (kmem_cache_free+0x0/0x2a0) cache=0xffff888003e1b400 ptr={RAW}",
           1.3),                                                                             # L+4
        kp("lock_release: 00000000ecc0af71 rcu_read_lock", 1.4, "reader", 60, 1),            # L+5
    ])
    alloc = "allocated (kmem_cache_alloc_ret at mock_fence+0x1d/0x60 [dmabuf_selftests])"
    reader = f"; looked up under RCU by reader-60 since {p}:{L + 2}"
    freed = "freed by prepare-50 (kmem_cache_free_probe at kmem_cache_free+0x0/0x2a0)"
    assert states(p, RAW) == [
        (L + 1, "kmem_cache_alloc_ret", alloc),
        (L + 3, "dma_fence_get_rcu", alloc + reader),
        (L + 4, "kmem_cache_free_probe", freed + reader),
    ]
    assert states(p, "ffff888104f3c000")[-1][2] == freed + reader
    # the section closed: the lookup no longer shows
    t = load_table([p])
    seen = []
    replay(t, observer=lambda i, m: seen.append(m.state_of(RAW)) if isinstance(m, SlabModel) else None)
    assert seen[-1] == freed
    assert [s for _, _, s in states(p, "reader-60")] == [
        f"in an RCU read section since {p}:{L + 2}",
        f"in an RCU read section since {p}:{L + 2}",
        "outside RCU read sections",
    ]


# -- refcount ----------------------------------------------------------------------------------
MAPPING = MYDRV_REFCOUNT_MAPPING


def bo(event: str, ts: float, count: int, comm: str = "app", pid: int = 300) -> str:
    return ev(comm, pid, 1, ts, f"{event}: bo=000000005f0ece3a, refcount={count}")


def test_refcount_states(trace_file, tmp_path):
    m = tmp_path / "my.toml"
    m.write_text(MAPPING)
    p = trace_file([
        bo("mydrv_bo_create", 1.0, 1),                                  # L+1
        bo("mydrv_bo_get", 1.1, 2, "kworker/1:0", 70),                  # L+2
        bo("mydrv_bo_put", 1.2, 1),                                     # L+3
        bo("mydrv_bo_put", 1.3, 0, "kworker/1:0", 70),                  # L+4
        bo("mydrv_bo_get", 1.4, 1),                                     # L+5: after the final put
    ])
    final = f"refcount 0, final put by kworker/1:0-70 at {p}:{L + 4}"
    assert states(p, "5f0ece3a", [str(m)]) == [
        (L + 1, "mydrv_bo_create", "refcount 1, last init by app-300"),
        (L + 2, "mydrv_bo_get", "refcount 2, last get by kworker/1:0-70"),
        (L + 3, "mydrv_bo_put", "refcount 1, last put by app-300"),
        (L + 4, "mydrv_bo_put", final),
        (L + 5, "mydrv_bo_get", final + ", then get by app-300"),
    ]


def test_refcount_xe_job_release(trace_file):
    def job(event: str, ts: float) -> str:
        return ev("kworker/u8:3", 71, 2, ts, f"{event}: fence=00000000a1b2c3d4, seqno=7, lrc_seqno=7, guc_id=2, "
                                             "batch_addr=0x0000001a0000, guc_state=0x0, flags=0x0, error=0")

    p = trace_file([job("xe_sched_job_create", 1.0), job("xe_sched_job_run", 1.1), job("xe_sched_job_free", 1.2)])
    got = [s for _, _, s in states(p, "00000000a1b2c3d4")]
    assert got[0] == "refcount 1, last init by kworker/u8:3-71"
    assert got[1] == "refcount 1, last xe_sched_job_run by kworker/u8:3-71"
    assert got[2] == f"refcount 0, released by kworker/u8:3-71 at {p}:{L + 3}"


# -- GPUVM (simulator) ---------------------------------------------------------------------------
VM_A, VM_B = "0xffff88812a3a2100", "0xffff88812a3a4200"
GEM = "0xffff8881d7e11b10"
VB_A, VB_B = "0xffff8881fd5e5ee0", "0xffff8881fd5e6a40"
VA_A = "0xffff888100aa0000"


@pytest.fixture
def bo_two_vms(tmp_path):
    out = tmp_path / "bo-two-vms.txt"
    r = CliRunner().invoke(main, ["simulate", "bo-two-vms", "--seed", "1", "-o", str(out)])
    assert r.exit_code == 0, r.output
    return str(out)


def test_gpuvm_vm_bo_states(bo_two_vms):
    p = bo_two_vms
    vb = f"vm {VM_A} (vm-a), obj {GEM}"
    assert states(p, VB_A) == [
        (34, "gpuvm_bo_obtain_ret", f"{vb}, refs 1, linked VAs: none"),
        (37, "gpuva_link", f"{vb}, refs 2, linked VAs: {VA_A}"),
        (38, "gpuvm_bo_put", f"{vb}, refs 1, linked VAs: {VA_A}"),
        (45, "gpuvm_bo_put", f"{vb}, refs 0, linked VAs: none"),
        (46, "gpuvm_bo_destroy", f"{vb}, refs 0, linked VAs: none, destroyed at {p}:46"),
    ]
    # without 0x, and with the kprobe's spelling in upper case
    assert states(p, VB_A.removeprefix("0x")) == states(p, VB_A.upper().replace("0X", "0x"))
    assert states(p, VB_A.removeprefix("0x"))[-1][2] == f"{vb}, refs 0, linked VAs: none, destroyed at {p}:46"


def test_gpuvm_va_gem_vm_states(bo_two_vms):
    p = bo_two_vms
    va = f"[0x100000, 0x300000) in vm {VM_A} (vm-a)"
    assert states(p, VA_A) == [
        (35, "gpuva_insert", f"{va}, GEM {GEM}, not linked"),
        (37, "gpuva_link", f"{va}, linked to vm_bo {VB_A}"),
        (42, "gpuva_remove", f"{va}, linked to vm_bo {VB_A}, removed"),
        (43, "gpuva_unlink", f"{va}, GEM {GEM}, not linked, removed"),
    ]
    gem = {line: s for line, _, s in states(p, GEM)}
    assert gem[18] == "alive, no vm_bos"
    assert gem[35] == f"alive, vm_bos: {VB_B} (VM vm-b), {VB_A} (VM vm-a)"
    assert gem[46] == f"alive, vm_bos: {VB_B} (VM vm-b)"
    assert gem[49] == f"freed by vm-bind-b-602 at {p}:49, no vm_bos"
    vm = {line: s for line, _, s in states(p, VM_A)}
    assert vm[13] == "vm-a, 0 VAs inserted, extobj list: empty, evict list: empty"
    assert vm[35] == "vm-a, 1 VA inserted, extobj list: empty, evict list: empty"
    assert vm[50] == f"vm-a, 0 VAs inserted, extobj list: empty, evict list: empty, finalised at {p}:50"


def test_gpuvm_extobj_list_in_vm_state(tmp_path):
    out = tmp_path / "vm-teardown.txt"
    r = CliRunner().invoke(main, ["simulate", "vm-teardown", "--seed", "1", "-o", str(out)])
    assert r.exit_code == 0, r.output
    h = states(str(out), VM_A)
    assert h[-1] == (66, "gpuvm_fini", "vm-teardown, 1 VA inserted, extobj list: 0xffff8881fd5e7b80, "
                                      f"evict list: empty, finalised at {out}:66")
    vb = states(str(out), "0xffff8881fd5e7b80")
    assert any(s.endswith("on the extobj list") for _, _, s in vb)


def test_cli_history_shows_states(bo_two_vms):
    r = CliRunner().invoke(main, ["history", bo_two_vms, VB_A.removeprefix("0x"), "--format", "json"])
    assert r.exit_code == 0, r.output
    rows = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
    assert [x["line"] for x in rows] == [34, 37, 38, 45, 46]
    assert rows[-1]["state"] == f"vm {VM_A} (vm-a), obj {GEM}, refs 0, linked VAs: none, destroyed at {bo_two_vms}:46"


# -- unknown objects, findings -------------------------------------------------------------------
def test_unknown_objects_are_none(fence_trace, bo_two_vms, trace_file):
    slab = trace_file([kmalloc(HASHED, 1.0), kfree(HASHED, 1.1)], name="slab.txt")
    job = trace_file([ev("kworker/u8:3", 71, 2, 1.0, "xe_sched_job_create: fence=00000000a1b2c3d4, seqno=7, "
                         "lrc_seqno=7, guc_id=2, batch_addr=0x0, guc_state=0x0, flags=0x0, error=0")], name="job.txt")
    for model, path in ((FenceModel, fence_trace), (SlabModel, slab), (RefcountModel, job),
                        (GpuvmModel, bo_two_vms)):
        seen = []
        replay(load_table([path]), models=[model],
               observer=lambda i, m, seen=seen: seen.append((m.state_of("7:7"), m.state_of("0xdeadbeef00"),
                                                            m.state_of("&dev->lock"), m.state_of("nobody-9"))))
        assert seen and all(s == (None, None, None, None) for s in seen), model
    assert FenceModel(Replay(load_table([fence_trace]))).state_of("5:1") is None  # before any event


def test_observer_leaves_findings_unchanged(bo_two_vms):
    t = load_table([bo_two_vms])
    calls = []

    def observe(i, m):
        calls.append(m.state_of(GEM))

    with_states = replay(t, observer=observe)
    assert [x.to_dict() for x in with_states] == [x.to_dict() for x in replay(t)]
    assert [x.rule for x in with_states] == ["GPUVM-KREF-READ-RACE"]
    assert any(calls)
