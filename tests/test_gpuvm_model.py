"""GPUVM model: every rule positive and negative on hand-written kprobe traces (issue 6)."""

from __future__ import annotations

from gpuvm_lines import RESV_VM, ROBJ, RX, RY, VA1, VA2, VB, VBY, VM, Trace, X, Y

from tracereplay.rules import catalogue


def test_rules_are_catalogued():
    ids = {r for r in catalogue() if r.startswith("GPUVM-")}
    assert ids == {
        "GPUVM-GEM-FREED-WITH-VM-BO", "GPUVM-USE-AFTER-FREE", "GPUVM-GPUVA-LOCK-NOT-HELD", "GPUVM-KREF-READ-RACE",
        "GPUVM-USE-DESTROYED", "GPUVM-FINI-NOT-EMPTY", "GPUVM-VA-OVERLAP", "GPUVM-VA-OUT-OF-RANGE",
        "GPUVM-VA-WRONG-GEM", "GPUVM-VM-BO-DESTROYED-WITH-VAS", "GPUVM-LIST-LOCK-NOT-HELD",
    }


def test_clean_lifecycle_has_no_finding(tmp_path):
    t = Trace()
    t.init()
    t.mapped()
    t.lock("a", RX)
    t.remove("a", VA1)
    t.unlink("a", VA1)
    t.put("a", VB)
    t.destroy("a", VB, X)
    t.unlock("a", RX)
    t.gem_free("a", X, RX)
    t.fini("a")
    t.gem_free("a", ROBJ, RESV_VM)
    assert t.check(tmp_path, "") == []


# -- weak references and use after free ------------------------------------------------------------
def test_gem_freed_with_vm_bo_then_use_after_free(tmp_path):
    t = Trace()
    t.init()
    t.mapped()
    free = t.gem_free("k", X, RX)
    use = t.unlink("a", VA1)
    t.put("a", VB)  # reported once per vm_bo
    assert t.check(tmp_path) == [
        ("GPUVM-GEM-FREED-WITH-VM-BO", [X, VB], free),
        ("GPUVM-USE-AFTER-FREE", [VB, X], use),
    ]


def test_gem_freed_after_vm_bo_destroyed_is_fine(tmp_path):
    t = Trace()
    t.init()
    t.mapped()
    t.lock("a", RX)
    t.unlink("a", VA1)
    t.destroy("a", VB, X)
    t.unlock("a", RX)
    t.gem_free("k", X, RX)
    assert t.check(tmp_path) == []


# -- gpuva lock, destructor path, kref_read() race ---------------------------------------------------
def test_link_without_gpuva_lock(tmp_path):
    t = Trace()
    t.init()
    t.lock("a", RX)
    t.obtain("a", X, VB)
    t.unlock("a", RX)
    t.insert("a", VA1, "0x200000", "0x10000", X)
    n = t.link("a", VA1, VB)
    assert t.check(tmp_path) == [("GPUVM-GPUVA-LOCK-NOT-HELD", [VB, X], n)]


def test_lock_held_only_after_ret_zero(tmp_path):
    t = Trace()
    t.init()
    t.lock("a", RX, ret=-35)  # -EDEADLK: not taken
    n = t.obtain("a", X, VB)
    t.gem_free("k", Y, RY)
    assert t.check(tmp_path) == [("GPUVM-GPUVA-LOCK-NOT-HELD", [VB, X], n)]


def test_trylock_success_holds_the_lock(tmp_path):
    t = Trace()
    t.init()
    t.trylock("a", RX, ret=1)
    t.obtain("a", X, VB)
    t.unlock("a", RX)
    t.gem_free("a", X, RX)  # resolves the check: RX was held
    assert [r for r in t.check(tmp_path) if r[0] == "GPUVM-GPUVA-LOCK-NOT-HELD"] == []


def test_other_ww_mutex_is_not_the_gems_lock(tmp_path):
    t = Trace()
    t.init()
    t.lock("a", RY)
    n = t.obtain("a", X, VB)
    t.unlock("a", RY)
    t.lock("a", RX)
    t.unlink("a", VA1)
    t.unlock("a", RX)
    t.lock("k", RX)
    t.destroy("k", VB, X)
    t.unlock("k", RX)
    t.gem_free("k", X, RX)
    assert t.check(tmp_path) == [("GPUVM-GPUVA-LOCK-NOT-HELD", [VB, X], n)]


def test_destructor_path_unlocked_is_allowed(tmp_path):
    t = Trace()
    t.init()
    t.mapped("a")
    t.remove("k", VA1)
    t.unlink("k", VA1)
    t.put("k", VB)
    t.destroy("k", VB, X)
    t.gem_free("k", X, RX)
    assert t.check(tmp_path) == []


def test_unlocked_unlink_then_other_object_is_not_destructor_path(tmp_path):
    t = Trace()
    t.init()
    t.mapped("a")
    t.mapped("a", Y, RY, VBY, VA2, "0x400000")
    n = t.unlink("k", VA1)
    t.lock("k", RY)
    t.unlink("k", VA2)  # moves on to another GEM before freeing X
    t.unlock("k", RY)
    t.destroy("k", VB, X)
    t.gem_free("k", X, RX)
    assert t.check(tmp_path) == [("GPUVM-GPUVA-LOCK-NOT-HELD", [VB, X], n)]


def test_kref_read_race_names_both_tasks(tmp_path):
    t = Trace()
    t.init()
    t.mapped("a")
    first = t.unlink("a", VA1)
    t.put("a", VB)
    t.destroy("a", VB, X)
    t.gem_free("b", X, RX)
    p = tmp_path / "trace.txt"
    assert t.check(tmp_path) == [("GPUVM-KREF-READ-RACE", [VB, X], first)]
    from tracereplay import api

    f = api.check([str(p)]).findings[0]
    assert f.extra["tasks"] == ["vm-bind-a-601", "vm-bind-b-602"]
    assert "kref_read" in f.detail and "0x" not in "".join(f.key_objects)


def test_custom_gpuva_lock_counts(tmp_path):
    t = Trace()
    t.init(flags="0x2")
    t.raw("a", "lock_acquire: 00000000c0ffee00 &obj->gpuva.lock")
    t.obtain("a", X, VB)
    t.raw("a", "lock_release: 00000000c0ffee00 &obj->gpuva.lock")
    assert t.check(tmp_path) == []


# -- destroyed objects ------------------------------------------------------------------------------------
def test_put_after_destroy(tmp_path):
    t = Trace()
    t.init()
    t.mapped()
    t.lock("a", RX)
    t.unlink("a", VA1)
    d = t.destroy("a", VB, X)
    n = t.put("a", VB)
    t.unlock("a", RX)
    res = t.check(tmp_path)
    assert res == [("GPUVM-USE-DESTROYED", [VB], n)] and d < n


def test_address_reuse_is_a_new_vm_bo(tmp_path):
    t = Trace()
    t.init()
    t.lock("a", RX)
    t.obtain("a", X, VB)
    t.destroy("a", VB, X)
    t.obtain("a", X, VB)
    t.put("a", VB)
    t.unlock("a", RX)
    assert t.check(tmp_path) == []


def test_insert_after_fini(tmp_path):
    t = Trace()
    t.init()
    t.fini("a")
    n = t.insert("b", VA1, "0x200000", "0x1000", X)
    assert t.check(tmp_path) == [("GPUVM-USE-DESTROYED", [VM], n)]


def test_destroy_by_kref_pointer(tmp_path):
    t = Trace()
    t.init()
    t.mapped()
    t.lock("a", RX)
    t.unlink("a", VA1)
    t.destroy_kref("a", "0xffff8881fd5e5ef4", X)
    n = t.put("a", VB)
    t.unlock("a", RX)
    assert t.check(tmp_path) == [("GPUVM-USE-DESTROYED", [VB], n)]


# -- fini ---------------------------------------------------------------------------------------
def test_fini_with_mappings(tmp_path):
    t = Trace()
    t.init()
    t.mapped()
    n = t.fini("a")
    assert t.check(tmp_path) == [("GPUVM-FINI-NOT-EMPTY", [VM], n)]


def test_fini_with_extobj(tmp_path):
    t = Trace()
    t.init()
    t.mapped()
    t.lock("a", RX)
    t.extobj("a", VB)
    t.remove("a", VA1)
    t.unlock("a", RX)
    n = t.fini("a")
    from tracereplay import api

    t.check(tmp_path)
    f = api.check([str(tmp_path / "trace.txt")]).findings
    assert [(x.rule, x.objects, x.line) for x in f] == [("GPUVM-FINI-NOT-EMPTY", [VM], n)]
    assert "Extobj list should be empty." in f[0].title and "GPUVA tree" not in f[0].title


def test_fini_empty(tmp_path):
    t = Trace()
    t.init()
    t.mapped()
    t.lock("a", RX)
    t.remove("a", VA1)
    t.unlink("a", VA1)
    t.destroy("a", VB, X)
    t.unlock("a", RX)
    t.fini("a")
    assert t.check(tmp_path) == []


# -- VA validity ------------------------------------------------------------------------------------
def test_overlap_accepted(tmp_path):
    t = Trace()
    t.init()
    t.mapped()
    t.lock("a", RX)
    n = t.insert("a", VA2, "0x208000", "0x10000", X)
    t.unlock("a", RX)
    assert t.check(tmp_path) == [("GPUVM-VA-OVERLAP", [VA2, VA1], n)]


def test_overlap_refused_by_kernel(tmp_path):
    t = Trace()
    t.init()
    t.mapped()
    t.insert("a", VA2, "0x208000", "0x10000", X, ret=-17)
    t.insert("a", VA2, "0x210000", "0x10000", X)  # adjacent: fine
    assert t.check(tmp_path) == []


def test_overlap_without_return_probe(tmp_path):
    t = Trace()
    t.init()
    t.insert("a", VA1, "0x200000", "0x10000", X, ret=None)
    n = t.insert("a", VA2, "0x20f000", "0x1000", X, ret=None)
    assert t.check(tmp_path) == [("GPUVM-VA-OVERLAP", [VA2, VA1], n)]


def test_va_in_reserved_node_or_outside(tmp_path):
    t = Trace()
    t.init()
    n1 = t.insert("a", VA1, "0x80000", "0x1000", X)
    n2 = t.insert("a", VA2, "0xfffffff000", "0x2000", X)
    assert t.check(tmp_path) == [("GPUVM-VA-OUT-OF-RANGE", [VA1, VM], n1), ("GPUVM-VA-OUT-OF-RANGE", [VA2, VM], n2)]


def test_va_out_of_range_refused(tmp_path):
    t = Trace()
    t.init()
    t.insert("a", VA1, "0x80000", "0x1000", X, ret=-22)
    assert t.check(tmp_path) == []


def test_xe_vma_bind_overlap(tmp_path):
    t = Trace()
    body = "dev=0000:00:02.0, vma={vma}, vm={vm}, asid=0x00001, start=0x{s:012x}, end=0x{e:012x}, userptr=0x000000000000"
    a = t.raw("a", "xe_vma_bind: " + body.format(vma="ffff888110000000", vm="ffff888120000000", s=0x100000, e=0x10ffff))
    t.raw("a", "xe_vma_bind: " + body.format(vma="ffff888110000100", vm="ffff888120000000", s=0x110000, e=0x11ffff))
    t.raw("a", "xe_vma_unbind: " + body.format(vma="ffff888110000100", vm="ffff888120000000", s=0x110000, e=0x11ffff))
    t.raw("a", "xe_vma_bind: " + body.format(vma="ffff888110000200", vm="ffff888120000100", s=0x100000, e=0x10ffff))
    n = t.raw("a", "xe_vma_bind: " + body.format(vma="ffff888110000300", vm="ffff888120000000", s=0x10f000, e=0x11ffff))
    assert t.check(tmp_path) == [("GPUVM-VA-OVERLAP", ["ffff888110000300", "ffff888110000000"], n)]
    assert a < n


def test_amdgpu_vm_bo_map_overlap(tmp_path):
    t = Trace()
    t.raw("a", "amdgpu_vm_bo_map: bo=ffff888130000000, start=100, last=10f, offset=0000000000, flags=e")
    t.raw("a", "amdgpu_vm_bo_unmap: bo=ffff888130000000, start=100, last=10f, offset=0000000000, flags=e")
    t.raw("a", "amdgpu_vm_bo_map: bo=ffff888130000100, start=100, last=10f, offset=0000000000, flags=e")
    n = t.raw("a", "amdgpu_vm_bo_map: bo=ffff888130000200, start=10f, last=11f, offset=0000000000, flags=e")
    assert t.check(tmp_path) == [("GPUVM-VA-OVERLAP", ["ffff888130000200", "ffff888130000100"], n)]


# -- links ------------------------------------------------------------------------------------------
def test_va_linked_to_vm_bo_of_another_gem(tmp_path):
    t = Trace()
    t.init()
    t.mapped("a", Y, RY, VBY, VA2, "0x400000")
    t.lock("a", RX)
    t.insert("a", VA1, "0x200000", "0x1000", X)
    t.lock("a", RY)
    n = t.link("a", VA1, VBY)
    t.unlock("a", RY)
    t.unlock("a", RX)
    assert [r for r in t.check(tmp_path) if r[0] == "GPUVM-VA-WRONG-GEM"] == [("GPUVM-VA-WRONG-GEM", [VA1, VBY], n)]


def test_vm_bo_destroyed_with_linked_va(tmp_path):
    t = Trace()
    t.init()
    t.mapped()
    t.lock("a", RX)
    n = t.destroy("a", VB, X)
    t.unlock("a", RX)
    assert t.check(tmp_path) == [("GPUVM-VM-BO-DESTROYED-WITH-VAS", [VB, VA1], n)]


# -- evict / extobj lists ---------------------------------------------------------------------------------
def test_evict_without_gem_resv(tmp_path):
    t = Trace()
    t.init()
    t.mapped()
    n = t.evict("b", VB)
    assert t.check(tmp_path) == [("GPUVM-LIST-LOCK-NOT-HELD", [VB, X], n)]


def test_evict_under_gem_resv_judged_at_free(tmp_path):
    t = Trace()
    t.init()
    t.mapped()
    t.lock("b", RX)
    t.evict("b", VB)
    t.evict("b", VB, 0)
    t.unlock("b", RX)
    t.lock("b", RY)
    n = t.evict("b", VB)  # holds a ww_mutex, but not X's: known once X is freed
    t.unlock("b", RY)
    t.lock("a", RX)
    t.unlink("a", VA1)
    t.destroy("a", VB, X)
    t.unlock("a", RX)
    t.gem_free("a", X, RX)
    assert t.check(tmp_path) == [("GPUVM-LIST-LOCK-NOT-HELD", [VB, X], n)]


def test_extobj_add_resv_protected_needs_vm_resv(tmp_path):
    t = Trace()
    t.init(flags="0x1")
    t.mapped()
    t.lock("a", RX)
    n = t.extobj("a", VB)  # RX is the GEM's resv, not the VM's
    t.unlock("a", RX)
    t.lock("a", RESV_VM)
    t.extobj("a", VB)
    t.unlock("a", RESV_VM)
    t.fini("b")
    t.gem_free("b", ROBJ, RESV_VM)
    res = [r for r in t.check(tmp_path) if r[0] == "GPUVM-LIST-LOCK-NOT-HELD"]
    assert res == [("GPUVM-LIST-LOCK-NOT-HELD", [VB, ROBJ], n)]


def test_extobj_add_without_resv_protected_is_not_judged(tmp_path):
    t = Trace()
    t.init(flags="0x0")
    t.mapped()
    t.extobj("b", VB)  # the extobj.lock spinlock is taken inside the function
    assert t.check(tmp_path) == []
