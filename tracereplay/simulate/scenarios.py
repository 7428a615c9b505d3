"""The review-thread scenarios, each in a buggy and a correct variant.

Every builder returns the tasks of one run; the seed (the Writer's random.Random) picks how the
racing tasks interleave. Object addresses are fixed per scenario, so a buggy variant is reported
with the same rule and objects under every seed; only lines and timestamps move.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .trace import B, Task, x

# -- addresses (raw kernel pointers) ------------------------------------------------------------
VM_A, VM_B = 0xFFFF88812A3A2100, 0xFFFF88812A3A4200
ROBJ_A, ROBJ_B = 0xFFFF8881D7E10000, 0xFFFF8881D7E12000
RESV_A, RESV_B = 0xFFFF88816B040000, 0xFFFF88816B041000
GEM_X, RESV_X = 0xFFFF8881D7E11B10, 0xFFFF88816B0404F0
GEM_Y, RESV_Y = 0xFFFF8881D7E13C20, 0xFFFF88816B042A00
VB_A, VB_B = 0xFFFF8881FD5E5EE0, 0xFFFF8881FD5E6A40
VB_Y = 0xFFFF8881FD5E7B80
VA_A, VA_B, VA_Y = 0xFFFF888100AA0000, 0xFFFF888100AA0180, 0xFFFF888100AA0300
VA_A2 = 0xFFFF888100AA0480
CTX = 0xFFFF8881A28F5B30
FS_RECLAIM = 0xFFFFFFFF8345C8E0  # the static fs_reclaim lockdep map
RCU_MAP = 0xFFFFFFFF83A8F0E0  # rcu_lock_map, lockdep name "rcu_read_lock"
FENCE = 0xFFFF888104C2A000
DEP = 0x30  # a dma_resv's ww_mutex lockdep_map: &resv->lock.base.dep_map (resv + 0x30 here)

GPUVM = "[drm_gpuvm]"


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    build: Callable[[bool], list[Task]]  # build(buggy) -> tasks
    rule: str  # what the buggy variant is reported as
    objects: tuple[str, ...]


# -- GPUVM event helpers --------------------------------------------------------------------------
def vm_init(b: B, vm: int, name: str, robj: int, flags: int = 0) -> None:
    b.kp("gpuvm_init", f"drm_gpuvm_init+0x0/0x1f0 {GPUVM}", gpuvm=x(vm), name=f'"{name}"', flags=x(flags),
         start=x(0x0), range=x(1 << 48), reserve_offset=x(0x0), reserve_range=x(0x100000), r_obj=x(robj))


def ww_lock(b: B, resv: int, site: str = "drm_exec_lock_obj+0x4a/0x1c0 [drm_exec]") -> None:
    b.kp("ww_mutex_lock", "ww_mutex_lock+0x0/0x90", lock=x(resv), ctx=x(CTX))
    b.lock_acquire(resv + DEP, "reservation_ww_class_mutex")
    b.kr("ww_mutex_lock_ret", site, "ww_mutex_lock", ret="0")


def ww_unlock(b: B, resv: int) -> None:
    b.kp("ww_mutex_unlock", "ww_mutex_unlock+0x0/0x50", lock=x(resv))
    b.lock_release(resv + DEP, "reservation_ww_class_mutex")


def kmalloc(b: B) -> None:
    """A GFP_KERNEL allocation: might_alloc() -> fs_reclaim_acquire/release."""
    b.lock_acquire(FS_RECLAIM, "fs_reclaim")
    b.lock_release(FS_RECLAIM, "fs_reclaim")


def map_bo(b: B, vm: int, obj: int, vb: int, va: int, addr: int, size: int, drv: str) -> None:
    """drm_gpuvm_bo_obtain + drm_gpuva_insert + drm_gpuva_link, as a driver's map step does."""
    b.kp("gpuvm_bo_obtain", f"drm_gpuvm_bo_obtain+0x0/0x1c0 {GPUVM}", gpuvm=x(vm), obj=x(obj))
    kmalloc(b)
    b.kr("gpuvm_bo_obtain_ret", f"{drv}_vm_prepare_map_op_ctx+0x1a4/0x3c0 [{drv}]", "drm_gpuvm_bo_obtain",
         vm_bo=x(vb))
    b.kp("gpuva_insert", f"drm_gpuva_insert+0x0/0x130 {GPUVM}", gpuvm=x(vm), va=x(va), addr=x(addr),
         range=x(size), obj=x(obj), offset=x(0))
    b.kr("gpuva_insert_ret", f"drm_gpuva_map+0x2e/0x60 {GPUVM}", "drm_gpuva_insert", ret="0")
    b.kp("gpuva_link", f"drm_gpuva_link+0x0/0xa0 {GPUVM}", va=x(va), vm_bo=x(vb))
    b.kp("gpuvm_bo_put", f"drm_gpuvm_bo_put+0x0/0x70 {GPUVM}", vm_bo=x(vb))


def unmap_va(b: B, va: int, vb: int, vm: int, obj: int, destroy: bool) -> None:
    b.kp("gpuva_remove", f"drm_gpuva_remove+0x0/0x90 {GPUVM}", va=x(va))
    b.kp("gpuva_unlink", f"drm_gpuva_unlink+0x0/0x90 {GPUVM}", va=x(va))
    b.kp("gpuvm_bo_put", f"drm_gpuvm_bo_put+0x0/0x70 {GPUVM}", vm_bo=x(vb))
    if destroy:
        b.kp("gpuvm_bo_destroy", f"drm_gpuvm_bo_destroy+0x0/0x1a0 {GPUVM}", vm_bo=x(vb), gpuvm=x(vm), obj=x(obj))


def unlocked_steps(t: Task, needs: tuple[str, ...], va: int, vb: int, vm: int, obj: int,
                   last_label: str | None = None) -> None:
    """remove, unlink, put, destroy without any lock, each a separate step other tasks may
    interleave with."""
    B(t.block(needs=needs)).kp("gpuva_remove", f"drm_gpuva_remove+0x0/0x90 {GPUVM}", va=x(va))
    B(t.block()).kp("gpuva_unlink", f"drm_gpuva_unlink+0x0/0x90 {GPUVM}", va=x(va))
    B(t.block()).kp("gpuvm_bo_put", f"drm_gpuvm_bo_put+0x0/0x70 {GPUVM}", vm_bo=x(vb))
    B(t.block(label=last_label)).kp("gpuvm_bo_destroy", f"drm_gpuvm_bo_destroy+0x0/0x1a0 {GPUVM}",
                                    vm_bo=x(vb), gpuvm=x(vm), obj=x(obj))


def gem_free(b: B, obj: int, resv: int) -> None:
    b.kp("gem_free", "drm_gem_object_release+0x0/0x80 [drm]", obj=x(obj), resv=x(resv))


def fini(b: B, vm: int, robj: int, resv: int) -> None:
    b.kp("gpuvm_fini", f"drm_gpuvm_fini+0x0/0x100 {GPUVM}", gpuvm=x(vm))
    gem_free(b, robj, resv)


# -- scenarios ----------------------------------------------------------------------------------
def bo_two_vms(buggy: bool) -> list[Task]:
    """One BO (GEM X) mapped in two VMs. Buggy: vm_bos hold weak references (DRM_GPUVM_VA_WEAK_REF)
    and the destructor-path exception is decided with kref_read(); VM A is torn down while the
    last reference to X is dropped from VM B, so both tasks walk X's vm_bo list unlocked."""
    a = Task("vm-bind-a", 601, 0)
    bt = Task("vm-bind-b", 602, 1)
    for t, vm, name, robj, vb, va, addr in ((a, VM_A, "vm-a", ROBJ_A, VB_A, VA_A, 0x100000),
                                            (bt, VM_B, "vm-b", ROBJ_B, VB_B, VA_B, 0x400000)):
        vm_init(B(t.block()), vm, name, robj)
        m = B(t.block(label=f"{name}-mapped"))
        ww_lock(m, RESV_X)
        map_bo(m, vm, GEM_X, vb, va, addr, 0x200000, "msm")
        ww_unlock(m, RESV_X)
    both = ("vm-a-mapped", "vm-b-mapped")
    if buggy:
        # VM A's close: kref_read(&X->refcount) reads 0 (B just dropped it), so no lock.
        unlocked_steps(a, both, VA_A, VB_A, VM_A, GEM_X, last_label="a-destroyed")
        # B drops the last handle of X: msm_gem_free_object() tears its VMAs down unlocked.
        unlocked_steps(bt, both, VA_B, VB_B, VM_B, GEM_X)
        gem_free(B(bt.block(needs=("a-destroyed",))), GEM_X, RESV_X)
        fini(B(a.block()), VM_A, ROBJ_A, RESV_A)
    else:
        # Strong references: each vm_bo holds X; teardown under X's resv; X is freed by the
        # task that drops the last reference, after both vm_bos are gone.
        u = B(a.block(needs=both, label="a-destroyed"))
        ww_lock(u, RESV_X)
        unmap_va(u, VA_A, VB_A, VM_A, GEM_X, destroy=True)
        ww_unlock(u, RESV_X)
        fini(B(a.block()), VM_A, ROBJ_A, RESV_A)
        u = B(bt.block(needs=both))
        ww_lock(u, RESV_X)
        unmap_va(u, VA_B, VB_B, VM_B, GEM_X, destroy=True)
        ww_unlock(u, RESV_X)
        gem_free(B(bt.block(needs=("a-destroyed",))), GEM_X, RESV_X)
    return [a, bt]


def destructor_unlink(buggy: bool) -> list[Task]:
    """Unlink in the GEM destructor path without the lock (allowed: the GEM's own destructor),
    next to an unmap in the VM_BIND path. Buggy: the VM_BIND unmap also skips X's resv."""
    t = Task("vm-bind", 611, 0)
    k = Task("kworker/u8:1", 44, 2)
    vm_init(B(t.block()), VM_A, "vm-panthor", ROBJ_A)
    for obj, resv, vb, va, addr in ((GEM_X, RESV_X, VB_A, VA_A, 0x100000), (GEM_Y, RESV_Y, VB_Y, VA_Y, 0x800000)):
        m = B(t.block(label=f"mapped-{obj:x}"))
        ww_lock(m, resv)
        map_bo(m, VM_A, obj, vb, va, addr, 0x10000, "panthor")
        ww_unlock(m, resv)
    ready = (f"mapped-{GEM_X:x}", f"mapped-{GEM_Y:x}")
    if buggy:
        unlocked_steps(t, ready, VA_A, VB_A, VM_A, GEM_X)
    else:
        u = B(t.block(needs=ready))
        ww_lock(u, RESV_X)
        unmap_va(u, VA_A, VB_A, VM_A, GEM_X, destroy=True)
        ww_unlock(u, RESV_X)
    # Y's last handle is closed: its free_object runs in a worker and unlinks without the lock.
    unlocked_steps(k, ready, VA_Y, VB_Y, VM_A, GEM_Y)
    gem_free(B(k.block()), GEM_Y, RESV_Y)
    return [t, k]


def resv_reclaim(buggy: bool) -> list[Task]:
    """The shrinker frees a GEM under fs_reclaim. Buggy: its destructor takes the GEM's resv,
    fs_reclaim -> reservation_ww_class_mutex, the reverse of the order dma_resv_lockdep() primes
    (resv -> fs_reclaim), which the VM_BIND path also takes by allocating under the resv."""
    t = Task("vm-bind", 621, 0)
    k = Task("kswapd0", 98, 3)
    vm_init(B(t.block()), VM_A, "vm-reclaim", ROBJ_A)
    m = B(t.block(label="mapped"))
    ww_lock(m, RESV_X)
    map_bo(m, VM_A, GEM_X, VB_A, VA_A, 0x100000, 0x10000, "msm")
    ww_unlock(m, RESV_X)
    m = B(t.block(label="mapped-y"))
    ww_lock(m, RESV_Y)
    map_bo(m, VM_A, GEM_Y, VB_Y, VA_Y, 0x800000, 0x10000, "msm")
    ww_unlock(m, RESV_Y)
    B(k.block(needs=("mapped",))).lock_acquire(FS_RECLAIM, "fs_reclaim")
    d = B(k.block())
    if buggy:
        ww_lock(d, RESV_X, "msm_gem_free_object+0x5c/0x1e0 [msm]")
    unmap_va(d, VA_A, VB_A, VM_A, GEM_X, destroy=True)
    if buggy:
        ww_unlock(d, RESV_X)
    gem_free(d, GEM_X, RESV_X)
    B(k.block()).lock_release(FS_RECLAIM, "fs_reclaim")
    return [t, k]


def vm_teardown(buggy: bool) -> list[Task]:
    """Two binders map BOs into one VM; the closer tears it down. Buggy: one VA (and its extobj
    vm_bo) is left in place when drm_gpuvm_fini() runs."""
    a = Task("vm-bind-a", 631, 0)
    c = Task("vm-bind-b", 632, 1)
    z = Task("vm-close", 640, 2)
    vm_init(B(z.block(label="init")), VM_A, "vm-teardown", ROBJ_A)
    m = B(a.block(needs=("init",), label="x1"))
    ww_lock(m, RESV_X)
    map_bo(m, VM_A, GEM_X, VB_A, VA_A, 0x100000, 0x10000, "panthor")
    ww_unlock(m, RESV_X)
    m = B(a.block(label="x2"))
    ww_lock(m, RESV_X)
    map_bo(m, VM_A, GEM_X, VB_A, VA_A2, 0x200000, 0x10000, "panthor")
    ww_unlock(m, RESV_X)
    m = B(c.block(needs=("init",), label="y"))
    ww_lock(m, RESV_Y)
    map_bo(m, VM_A, GEM_Y, VB_Y, VA_Y, 0x800000, 0x10000, "panthor")
    m.kp("gpuvm_bo_extobj_add", f"drm_gpuvm_bo_extobj_add+0x0/0x80 {GPUVM}", vm_bo=x(VB_Y))
    ww_unlock(m, RESV_Y)
    ready = ("x1", "x2", "y")
    u = B(z.block(needs=ready))
    ww_lock(u, RESV_X)
    unmap_va(u, VA_A, VB_A, VM_A, GEM_X, destroy=False)
    unmap_va(u, VA_A2, VB_A, VM_A, GEM_X, destroy=True)
    ww_unlock(u, RESV_X)
    if not buggy:
        u = B(z.block())
        ww_lock(u, RESV_Y)
        unmap_va(u, VA_Y, VB_Y, VM_A, GEM_Y, destroy=True)
        ww_unlock(u, RESV_Y)
    fini(B(z.block()), VM_A, ROBJ_A, RESV_A)
    return [a, c, z]


def fence_rcu_recycle(buggy: bool) -> list[Task]:
    """A reader looks a fence up under rcu_read_lock() and takes it with dma_fence_get_rcu();
    the fence slab is SLAB_TYPESAFE_BY_RCU. Buggy: the fence is signalled, freed and its memory
    reused for a new fence while the reader is still inside its read section."""
    w = Task("kworker/u8:2", 45, 1)
    rd = Task("reader", 650, 0)
    drv, tl, ctx = "panthor", "queue-0", 20
    b = B(w.block(label="f1"))
    b.raw(f"kmem_cache_alloc: call_site=panthor_job_create+0x9c/0x2a0 [panthor] ptr={FENCE:016x} "
          "bytes_req=64 bytes_alloc=64 gfp_flags=GFP_KERNEL node=-1 accounted=false")
    b.fence("dma_fence_init", drv, tl, ctx, 1)
    b.fence("dma_fence_emit", drv, tl, ctx, 1)
    B(w.block(label="signalled")).fence("dma_fence_signaled", drv, tl, ctx, 1)
    if buggy:
        B(rd.block(needs=("f1",), label="in-section")).lock_acquire(RCU_MAP, "rcu_read_lock", read=True)
        free_needs: tuple[str, ...] = ("in-section",)
    else:
        r = B(rd.block(needs=("f1",), label="read-done"))
        r.lock_acquire(RCU_MAP, "rcu_read_lock", read=True)
        r.kp("dma_fence_get_rcu", "dma_fence_get_rcu+0x0/0x50", fence=x(FENCE))
        r.lock_release(RCU_MAP, "rcu_read_lock")
        free_needs = ("read-done",)
    f = B(w.block(needs=free_needs + ("signalled",)))
    f.fence("dma_fence_destroy", drv, tl, ctx, 1)
    f.raw(f"kmem_cache_free: call_site=dma_fence_free+0x1e/0x30 ptr={FENCE:016x} name=panthor_fence")
    g = B(w.block(label="recycled"))
    g.raw(f"kmem_cache_alloc: call_site=panthor_job_create+0x9c/0x2a0 [panthor] ptr={FENCE:016x} "
          "bytes_req=64 bytes_alloc=64 gfp_flags=GFP_KERNEL node=-1 accounted=false")
    g.fence("dma_fence_init", drv, tl, ctx, 2)
    g.fence("dma_fence_emit", drv, tl, ctx, 2)
    if buggy:
        r = B(rd.block(needs=("recycled",)))
        r.kp("dma_fence_get_rcu", "dma_fence_get_rcu+0x0/0x50", fence=x(FENCE))
        r.lock_release(RCU_MAP, "rcu_read_lock")
    e = B(w.block())
    e.fence("dma_fence_signaled", drv, tl, ctx, 2)
    e.fence("dma_fence_destroy", drv, tl, ctx, 2)
    e.raw(f"kmem_cache_free: call_site=dma_fence_free+0x1e/0x30 ptr={FENCE:016x} name=panthor_fence")
    return [w, rd]


def fence_double_signal(buggy: bool) -> list[Task]:
    """A job's fence is signalled by the completion interrupt and by the timeout handler. Buggy:
    both signal it (the driver bypasses dma_fence_signal()'s test_and_set_bit on SIGNALED_BIT)."""
    s = Task("kworker/u8:3", 46, 2)  # submitter, then the timeout worker
    irq = Task("vm-bind", 660, 0)  # the interrupt arrives while this task runs on CPU 0
    drv, tl, ctx = "panthor", "queue-1", 30
    b = B(s.block(label="emitted"))
    b.fence("dma_fence_init", drv, tl, ctx, 5)
    b.fence("dma_fence_emit", drv, tl, ctx, 5)
    b.fence("dma_fence_enable_signal", drv, tl, ctx, 5)
    B(irq.block(needs=("emitted",), label="irq")).fence("dma_fence_signaled", drv, tl, ctx, 5, flags="d.h1.")
    if buggy:
        B(s.block(label="timeout")).fence("dma_fence_signaled", drv, tl, ctx, 5)
        B(s.block(needs=("irq", "timeout"))).fence("dma_fence_destroy", drv, tl, ctx, 5)
    else:
        B(s.block(needs=("irq",))).fence("dma_fence_destroy", drv, tl, ctx, 5)
    return [s, irq]


SCENARIOS: dict[str, Scenario] = {s.name: s for s in [
    Scenario("bo-two-vms", "one BO in two VMs, weak vm_bo references, VM teardown racing the last "
             "drop from the other VM (kref_read() race)", bo_two_vms,
             "GPUVM-KREF-READ-RACE", (x(VB_A), x(GEM_X))),
    Scenario("destructor-unlink", "unlink in the GEM destructor path without the lock, and a VM_BIND "
             "unmap with (correct) or without (buggy) the GEM's resv", destructor_unlink,
             "GPUVM-GPUVA-LOCK-NOT-HELD", (x(VB_A), x(GEM_X))),
    Scenario("resv-reclaim", "the shrinker's GEM destructor takes the resv under fs_reclaim "
             "(buggy) or relies on the destructor-path exception (correct)", resv_reclaim,
             "LOCK-CYCLE", ("reservation_ww_class_mutex", "fs_reclaim")),
    Scenario("vm-teardown", "a VM finalised with a VA still inserted and a vm_bo on the extobj list",
             vm_teardown, "GPUVM-FINI-NOT-EMPTY", (x(VM_A),)),
    Scenario("fence-rcu-recycle", "a fence freed and reallocated inside a reader's RCU read section "
             "(SLAB_TYPESAFE_BY_RCU), taken with dma_fence_get_rcu()", fence_rcu_recycle,
             "RCU-RECYCLED-OBJECT", (x(FENCE), "dma_fence_get_rcu")),
    Scenario("fence-double-signal", "a fence signalled by the interrupt handler and again by the "
             "timeout handler", fence_double_signal, "FENCE-DOUBLE-SIGNAL", ("30:5", "panthor:queue-1")),
]}
