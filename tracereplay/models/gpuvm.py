"""The DRM GPUVM model: VMs, GEM objects, vm_bos and VAs replayed from the GPUVM kprobe events.

Semantics follow drivers/gpu/drm/drm_gpuvm.c (../shared/kernel-spec.md section 3): a vm_bo holds
a reference on its VM and its GEM, a linked VA holds one on its vm_bo, an inserted VA one on its
VM, and the GEM's list of vm_bos holds none. link, unlink, obtain and the vm_bo destructor need
the GEM's gpuva lock (its dma_resv, a ww_mutex seen through the ww_mutex_* probes, or the custom
obj->gpuva.lock). A GEM's resv address is printed only by gem_free, so lock checks are recorded
with the set of ww_mutexes the task held and judged when the GEM is freed or at the end.
"""

from __future__ import annotations

from ..engine import Model, Replay
from .addresses import query
from .gpuvm_state import VM, Gem, IntervalSet, Unlocked, Va, VmBo, hx, is_err_ptr, num

_TEARDOWN = ("unlink", "destroy")  # what a GEM destructor path does to its vm_bos


def _hexnum(v) -> int | None:
    if v is None:
        return None
    s = str(v).strip().rstrip(",")
    try:
        return int(s[2:] if s.lower().startswith("0x") else s, 16)
    except ValueError:
        return None


class GpuvmModel(Model):
    name = "gpuvm"
    OPS = {
        "gpuvm.init": ("gpuvm", "name", "flags", "start", "range", "reserve_offset", "reserve_range", "r_obj"),
        "gpuvm.fini": ("gpuvm",),
        "gpuvm.bo_create": ("gpuvm", "obj"),
        "gpuvm.bo_create_ret": ("vm_bo",),
        "gpuvm.bo_obtain": ("gpuvm", "obj"),
        "gpuvm.bo_obtain_ret": ("vm_bo",),
        "gpuvm.bo_obtain_prealloc": ("vm_bo",),
        "gpuvm.bo_put": ("vm_bo",),
        "gpuvm.bo_destroy": ("vm_bo", "gpuvm", "obj"),
        "gpuvm.va_insert": ("gpuvm", "va", "addr", "range", "obj", "offset"),
        "gpuvm.va_insert_ret": ("ret",),
        "gpuvm.va_remove": ("va",),
        "gpuvm.va_link": ("va", "vm_bo"),
        "gpuvm.va_unlink": ("va",),
        "gpuvm.extobj_add": ("vm_bo",),
        "gpuvm.evict": ("vm_bo", "evict"),
        "gpuvm.gem_free": ("obj", "resv"),
        "gpuvm.ww_lock": ("lock", "kind"),
        "gpuvm.ww_lock_ret": ("ret", "kind"),
        "gpuvm.ww_unlock": ("lock",),
        "gpuvm.gpuva_lock": ("addr",),
        "gpuvm.gpuva_unlock": ("addr",),
        "gpuvm.drv_bind": ("vm", "va", "start", "last", "page"),
        "gpuvm.drv_unbind": ("vm", "va", "start", "page"),
        "gpuvm.drv_vm_reset": ("vm",),
    }

    def __init__(self, replay: Replay) -> None:
        super().__init__(replay)
        self.vms: dict[str, VM] = {}
        self.gems: dict[str, Gem] = {}
        self.vmbos: dict[str, VmBo] = {}
        self.vas: dict[str, Va] = {}
        self.held: dict[int | None, dict[str, int]] = {}  # pid -> ww_mutex -> row taken
        self.custom: dict[int | None, int] = {}  # pid -> gpuva locks (class-level) held
        self.pending_lock: dict[int | None, list[tuple[str, str, int]]] = {}
        self.pending_call: dict[tuple[int | None, str], tuple] = {}
        self.pending_insert: dict[int | None, tuple[Va, int, list]] = {}
        self.unlocked: dict[str, list[Unlocked]] = {}  # GEM -> gpuva-lock checks to judge
        self.list_checks: dict[str, list[tuple]] = {}  # GEM whose resv is needed -> checks
        self.seg: dict[int | None, str] = {}  # pid -> GEM of the task's current run of ops
        self.reported: set[tuple] = set()
        self.drv: dict[str, IntervalSet] = {}
        self._drv_rows: dict[tuple[str, str], int] = {}
        present = set(replay.table.events["event"].unique().to_list()) if len(replay.table.events) else set()
        self.lock_ret = {"lock": bool({"ww_mutex_lock_ret", "ww_mutex_lock_interruptible_ret"} & present),
                         "trylock": "ww_mutex_trylock_ret" in present}
        self.insert_ret = "gpuva_insert_ret" in present
        # for state_of: GEM -> vm_bos ever created for it, VM -> vm_bos ever put on its lists
        self.gem_vmbos: dict[str, list[str]] = {}
        self.vm_listed: dict[str, dict[str, None]] = {}

    # -- lookups ------------------------------------------------------------------------------
    def _vm(self, addr: str | None) -> VM | None:
        if addr is None or is_err_ptr(addr):
            return None
        vm = self.vms.get(addr)
        if vm is None:
            vm = self.vms[addr] = VM(addr, "", 0, 0, 0, 0, 0, None, None)
        return vm

    def _gem(self, addr: str | None) -> Gem | None:
        if addr is None or is_err_ptr(addr):
            return None
        g = self.gems.get(addr)
        if g is None:
            g = self.gems[addr] = Gem(addr)
        return g

    def _vmbo(self, addr: str | None, vm: str | None = None, obj: str | None = None) -> VmBo | None:
        if addr is None or is_err_ptr(addr):
            return None
        vb = self.vmbos.get(addr)
        if vb is None:
            vb = self.vmbos[addr] = VmBo(addr, vm, obj, None)
        if vb.vm is None:
            vb.vm = vm
        if vb.obj is None:
            vb.obj = obj
        self._index(vb)
        return vb

    def _index(self, vb: VmBo) -> None:
        if vb.obj is not None:
            lst = self.gem_vmbos.setdefault(vb.obj, [])
            if vb.addr not in lst:
                lst.append(vb.addr)

    def _vm_name(self, vm: str | None) -> str:
        v = self.vms.get(vm) if vm else None
        return v.name if v is not None and v.name else "unnamed"

    # -- state checks ---------------------------------------------------------------------------
    def _once(self, key: tuple) -> bool:
        if key in self.reported:
            return False
        self.reported.add(key)
        return True

    def _vm_alive(self, i: int, vm: VM | None, what: str) -> bool:
        if vm is None or vm.dead_row is None:
            return True
        r = self.r
        if self._once(("vm-dead", vm.addr, vm.dead_row)):
            r.emit("GPUVM-USE-DESTROYED", i, f"{what} on VM {vm.addr} ({vm.name or 'unnamed'}) after drm_gpuvm_fini",
                   [vm.addr], [r.evidence(vm.dead_row, "gpuvm_fini"), r.evidence(i, what)],
                   key_objects=["vm:" + (vm.name or "unnamed"), "VM"],
                   detail=f"{r.task(i)} uses the VM at {r.where(i)}; it was finalised at {r.where(vm.dead_row)} "
                          f"by {r.task(vm.dead_row)}. Every vm_bo and inserted VA holds a VM reference, so "
                          "nothing may reach the VM after drm_gpuvm_fini().")
        return False

    def _vmbo_alive(self, i: int, vb: VmBo | None, what: str) -> bool:
        """False (and reported once) when vb's GEM was freed under it or vb was destroyed."""
        if vb is None:
            return True
        r = self.r
        if vb.orphan_row is not None:
            if not vb.uaf_reported:
                vb.uaf_reported = True
                obj = vb.obj or "?"
                r.emit("GPUVM-USE-AFTER-FREE", i,
                       f"{what} uses vm_bo {vb.addr} after its GEM {obj} was freed",
                       [vb.addr, obj],
                       [r.evidence(vb.orphan_row, f"gem_free of {obj} while vm_bo {vb.addr} existed"),
                        r.evidence(i, what)],
                       key_objects=["vm:" + self._vm_name(vb.vm), "vm_bo", "GEM"],
                       detail=f"{r.task(i)} reaches vm_bo {vb.addr} at {r.where(i)} ({what}), but its GEM "
                              f"{obj} was freed at {r.where(vb.orphan_row)} by {r.task(vb.orphan_row)}: the "
                              "vm_bo's obj pointer, the GEM's dma_resv (the gpuva lock) and obj->gpuva.list "
                              "are freed memory (KASAN: slab-use-after-free).")
            return False
        if vb.destroyed_row is not None:
            if self._once(("vb-dead", vb.addr, vb.destroyed_row)):
                r.emit("GPUVM-USE-DESTROYED", i, f"{what} on vm_bo {vb.addr} after drm_gpuvm_bo_destroy",
                       [vb.addr], [r.evidence(vb.destroyed_row, "gpuvm_bo_destroy"), r.evidence(i, what)],
                       key_objects=["vm:" + self._vm_name(vb.vm), "vm_bo"],
                       detail=f"vm_bo {vb.addr} was destroyed (its last reference dropped) at "
                              f"{r.where(vb.destroyed_row)} by {r.task(vb.destroyed_row)}; {r.task(i)} uses it "
                              f"at {r.where(i)}.")
            return False
        return self._vm_alive(i, self.vms.get(vb.vm) if vb.vm else None, what)

    def _touch(self, i: int, obj: str | None) -> None:
        """The task moved on to another GEM: its earlier unlocked ops are not a destructor path."""
        if obj is None:
            return
        pid = self.r.pid[i]
        prev = self.seg.get(pid)
        if prev is not None and prev != obj:
            for rec in self.unlocked.get(prev, ()):
                if rec.pid == pid:
                    rec.open = False
        self.seg[pid] = obj

    def _held(self, i: int) -> frozenset:
        return frozenset(self.held.get(self.r.pid[i], {}))

    def _gpuva_lock(self, i: int, obj: str | None, what: str, vm_bo: str | None) -> Unlocked | None:
        """drm_gem_gpuva_assert_lock_held(obj): record the check, judged once obj's resv is known."""
        if obj is None or is_err_ptr(obj):
            return None
        g = self.gems.get(obj)
        if g is not None and g.freed_row is not None:
            return None  # a use after free, reported as such
        pid = self.r.pid[i]
        if self.custom.get(pid):
            return None
        rec = Unlocked(i, pid, what, vm_bo, self._held(i))
        if g is not None and g.resv is not None and g.resv in rec.held:
            return None
        self.unlocked.setdefault(obj, []).append(rec)
        return rec

    def _need_resv(self, i: int, obj: str | None, vb: VmBo, what: str, assertion: str) -> None:
        """A list change that needs obj's dma_resv (the GEM's, or the VM's r_obj's) held."""
        if obj is None or is_err_ptr(obj):
            return
        held = self._held(i)
        g = self.gems.get(obj)
        if g is not None and g.resv is not None:
            if g.resv not in held:
                self._report_list(i, vb, what, assertion, obj)
            return
        self.list_checks.setdefault(obj, []).append((i, held, vb, what, assertion))

    def _report_list(self, i: int, vb: VmBo, what: str, assertion: str, obj: str) -> None:
        r = self.r
        vm = self.vms.get(vb.vm) if vb.vm else None
        flags = f"flags=0x{vm.flags:x}" if vm is not None else "flags unknown"
        r.emit("GPUVM-LIST-LOCK-NOT-HELD", i,
               f"{what} of vm_bo {vb.addr} without the dma_resv of {obj} held ({assertion})",
               [vb.addr, obj], [r.evidence(i, what)],
               key_objects=["vm:" + self._vm_name(vb.vm), what, "resv"],
               detail=f"{r.task(i)} calls {what} at {r.where(i)} holding "
                      f"{', '.join(sorted(self.held.get(r.pid[i], {}))) or 'no dma_resv'}; the VM "
                      f"({flags}) needs {assertion}. Another task updating the same list (validate, "
                      "vm_bo destroy) corrupts it.")

    # -- VMs ------------------------------------------------------------------------------------
    def op_init(self, i, gpuvm, name, flags, start, range_, reserve_offset, reserve_range, r_obj) -> None:
        nm = (name or "").strip('"')
        self.vms[gpuvm] = VM(gpuvm, nm, num(flags, 0) or 0, num(start, 0) or 0, num(range_, 0) or 0,
                             num(reserve_offset, 0) or 0, num(reserve_range, 0) or 0,
                             None if is_err_ptr(r_obj) else r_obj, i)

    def op_fini(self, i, gpuvm) -> None:
        r = self.r
        vm = self._vm(gpuvm)
        if vm is None or not self._vm_alive(i, vm, "gpuvm_fini"):
            return
        live = [b for b in self.vmbos.values() if b.vm == gpuvm and b.destroyed_row is None and b.orphan_row is None]
        rres = self.gems.get(vm.r_obj).resv if vm.r_obj and vm.r_obj in self.gems else None
        extobj = [b for b in live if b.extobj and not (rres and b.obj in self.gems and self.gems[b.obj].resv == rres)]
        evict = [b for b in live if b.evict]
        vas = sorted(vm.vas.items, key=lambda k: vm.vas.items[k][0])
        msgs = []
        if vas:
            msgs.append("GPUVA tree is not empty, potentially leaking memory.")
        if extobj:
            msgs.append("Extobj list should be empty.")
        if evict:
            msgs.append("Evict list should be empty.")
        if msgs:
            ev = [r.evidence(self.vas[v].row, f"gpuva_insert {v}") for v in vas if self.vas[v].row is not None]
            ev += [r.evidence(b.row, f"vm_bo {b.addr} created") for b in extobj + evict if b.row is not None]
            ev.append(r.evidence(i, "gpuvm_fini"))
            listing = "\n".join(f"  VA {v} [{hx(vm.vas.items[v][0])}, {hx(vm.vas.items[v][1])})" for v in vas)
            lists = "\n".join(f"  vm_bo {b.addr} on the {'extobj' if b in extobj else 'evict'} list"
                              for b in extobj + evict)
            r.emit("GPUVM-FINI-NOT-EMPTY", i,
                   f"VM {gpuvm} ({vm.name or 'unnamed'}) finalised not empty: {' '.join(msgs)}",
                   [gpuvm], ev,
                   key_objects=["vm:" + (vm.name or "unnamed"), *msgs],
                   detail="drm_gpuvm_fini() warns:\n" + "\n".join(f"  {m}" for m in msgs) +
                          (f"\nVAs still inserted:\n{listing}" if listing else "") +
                          (f"\nlists:\n{lists}" if lists else "") +
                          "\nAn inserted VA holds a VM reference, so a VM finalised from its last put cannot "
                          "have any; the driver tore the VM down with mappings in place.")
        vm.dead_row = i

    # -- vm_bos ---------------------------------------------------------------------------------
    def _call(self, i: int, what: str, *payload) -> None:
        self.pending_call[(self.r.pid[i], what)] = (i, *payload)

    def op_bo_create(self, i, gpuvm, obj) -> None:
        vm = self._vm(gpuvm)
        self._vm_alive(i, vm, "drm_gpuvm_bo_create")
        self._gem(obj)
        self._call(i, "create", gpuvm, obj, None)

    def op_bo_obtain(self, i, gpuvm, obj) -> None:
        vm = self._vm(gpuvm)
        self._vm_alive(i, vm, "drm_gpuvm_bo_obtain")
        self._gem(obj)
        self._touch(i, obj)
        rec = self._gpuva_lock(i, obj, "obtain", None)
        self._call(i, "obtain", gpuvm, obj, rec)

    def _ret_vmbo(self, i: int, what: str, vm_bo: str) -> None:
        call = self.pending_call.pop((self.r.pid[i], what), None)
        if call is None or is_err_ptr(vm_bo):
            return
        row, gpuvm, obj, rec = call
        if rec is not None:
            rec.vm_bo = vm_bo
        vb = self.vmbos.get(vm_bo)
        if (vb is not None and vb.destroyed_row is None and vb.orphan_row is None
                and vb.vm == gpuvm and vb.obj == obj):
            if vb.refs is not None:
                vb.refs += 1
            return  # drm_gpuvm_bo_find() returned the existing vm_bo with a new reference
        vb = self.vmbos[vm_bo] = VmBo(vm_bo, gpuvm, obj, row, refs=1)
        self._index(vb)

    def op_bo_create_ret(self, i, vm_bo) -> None:
        self._ret_vmbo(i, "create", vm_bo)

    def op_bo_obtain_ret(self, i, vm_bo) -> None:
        self._ret_vmbo(i, "obtain", vm_bo)

    def op_bo_obtain_prealloc(self, i, vm_bo) -> None:
        vb = self._vmbo(vm_bo)
        if vb is None or not self._vmbo_alive(i, vb, "drm_gpuvm_bo_obtain_prealloc"):
            return
        self._touch(i, vb.obj)
        vm = self.vms.get(vb.vm) if vb.vm else None
        if vm is None or not vm.immediate:  # immediate mode takes obj->gpuva.lock itself
            self._gpuva_lock(i, vb.obj, "obtain", vb.addr)

    def op_bo_put(self, i, vm_bo) -> None:
        vb = self._vmbo(vm_bo)
        if vb is not None:
            if self._vmbo_alive(i, vb, "drm_gpuvm_bo_put") and vb.refs:
                vb.refs -= 1
            self._touch(i, vb.obj)

    def op_bo_destroy(self, i, vm_bo, gpuvm, obj) -> None:
        r = self.r
        if vm_bo is None:  # the probe printed kref= (a kref release callback): one vm_bo per (VM, GEM)
            vm_bo = next((b.addr for b in self.vmbos.values() if b.vm == gpuvm and b.obj == obj
                          and b.destroyed_row is None), None)
            if vm_bo is None:
                return
        vb = self._vmbo(vm_bo, gpuvm, obj)
        if vb is None or not self._vmbo_alive(i, vb, "drm_gpuvm_bo_destroy"):
            if vb is not None and vb.orphan_row is not None:
                vb.destroyed_row = i
            return
        obj = vb.obj or obj
        self._touch(i, obj)
        self._gpuva_lock(i, obj, "destroy", vb.addr)
        vm = self.vms.get(vb.vm) if vb.vm else None
        if vm is not None and vm.resv_protected and (vb.extobj or vb.evict) and vm.r_obj:
            self._need_resv(i, vm.r_obj, vb, "drm_gpuvm_bo_destroy list removal",
                            "drm_gpuvm_resv_assert_held(gpuvm) for a DRM_GPUVM_RESV_PROTECTED VM")
        if vb.vas:
            linked = sorted(vb.vas)
            r.emit("GPUVM-VM-BO-DESTROYED-WITH-VAS", i,
                   f"vm_bo {vb.addr} destroyed with {len(linked)} VA{'s' if len(linked) > 1 else ''} still linked",
                   [vb.addr, *linked],
                   [r.evidence(self.vas[v].link_row, f"gpuva_link {v}") for v in linked
                    if self.vas[v].link_row is not None] + [r.evidence(i, "gpuvm_bo_destroy")],
                   key_objects=["vm:" + self._vm_name(vb.vm), "vm_bo", "linked VA"],
                   detail="Each linked VA holds a vm_bo reference (drm_gpuva_link() -> drm_gpuvm_bo_get()), "
                          "so drm_gpuvm_bo_destroy() cannot run while VAs are linked: a reference was dropped "
                          "twice. The VAs' gem.entry now points into freed memory (vm_bo->list.gpuva).")
            for v in linked:
                self.vas[v].vm_bo = None
            vb.vas.clear()
        vb.destroyed_row = i
        vb.extobj = vb.evict = False
        if vb.refs is not None:
            vb.refs = 0

    def op_extobj_add(self, i, vm_bo) -> None:
        vb = self._vmbo(vm_bo)
        if vb is None or not self._vmbo_alive(i, vb, "drm_gpuvm_bo_extobj_add"):
            return
        vm = self.vms.get(vb.vm) if vb.vm else None
        if vm is not None and vm.resv_protected and vm.r_obj:
            self._need_resv(i, vm.r_obj, vb, "drm_gpuvm_bo_extobj_add",
                            "drm_gpuvm_resv_assert_held(gpuvm): the VM's dma_resv, DRM_GPUVM_RESV_PROTECTED")
        # Without RESV_PROTECTED drm_gpuvm_bo_list_add() takes gpuvm->extobj.lock itself: the
        # spinlock is taken inside the probed function, so there is nothing to check from a trace.
        vb.extobj = True
        if vb.vm is not None:
            self.vm_listed.setdefault(vb.vm, {})[vb.addr] = None

    def op_evict(self, i, vm_bo, evict) -> None:
        vb = self._vmbo(vm_bo)
        if vb is None or not self._vmbo_alive(i, vb, "drm_gpuvm_bo_evict"):
            return
        self._need_resv(i, vb.obj, vb, "drm_gpuvm_bo_evict", "dma_resv_assert_held(obj->resv)")
        vm = self.vms.get(vb.vm) if vb.vm else None
        on = bool(num(evict, 0))
        if on and vm is not None and vm.resv_protected and vb.extobj:
            return  # only the flag is set; the list is updated under the VM resv in validate
        vb.evict = on
        if on and vb.vm is not None:
            self.vm_listed.setdefault(vb.vm, {})[vb.addr] = None

    # -- VAs --------------------------------------------------------------------------------------
    def op_va_insert(self, i, gpuvm, va, addr, range_, obj, offset) -> None:
        vm = self._vm(gpuvm)
        if vm is None:
            return
        self._vm_alive(i, vm, "drm_gpuva_insert")
        pid = self.r.pid[i]
        if pid in self.pending_insert:
            self._insert_done(*self.pending_insert.pop(pid), ok=True)
        a, n = num(addr, 0) or 0, num(range_, 0) or 0
        o = None if is_err_ptr(obj) else obj
        self._touch(i, o)
        v = Va(va, gpuvm, a, n, o, i)
        problems: list[tuple[str, str]] = []
        if vm.row is not None:
            end = vm.start + vm.range
            if a + n >= 1 << 64 or a < vm.start or a + n > end:
                problems.append(("range", f"[{hx(a)}, {hx(a + n)}) is outside the VM range [{hx(vm.start)}, {hx(end)})"))
            elif vm.reserve_range and a < vm.reserve_offset + vm.reserve_range and vm.reserve_offset < a + n:
                problems.append(("reserved", f"[{hx(a)}, {hx(a + n)}) intersects the kernel reserved node "
                                             f"[{hx(vm.reserve_offset)}, {hx(vm.reserve_offset + vm.reserve_range)})"))
        for other in vm.vas.overlapping(a, a + n, skip=va):
            problems.append(("overlap", other))
        old = self.vas.get(va)
        if old is not None and old.inserted and old.vm in self.vms:
            self.vms[old.vm].vas.discard(va)
        self.vas[va] = v
        vm.vas.add(va, a, a + n)
        if self.insert_ret:
            self.pending_insert[pid] = (v, i, problems)
        else:
            self._insert_done(v, i, problems, ok=True)

    def op_va_insert_ret(self, i, ret) -> None:
        p = self.pending_insert.pop(self.r.pid[i], None)
        if p is not None:
            self._insert_done(*p, ok=(num(ret, 0) == 0))

    def _insert_done(self, v: Va, row: int, problems: list, ok: bool) -> None:
        r = self.r
        vm = self.vms[v.vm]
        if not ok:  # the kernel refused it (-EINVAL / -EEXIST): correct behaviour
            vm.vas.discard(v.addr)
            v.inserted = False
            v.refused = True
            return
        rng = f"[{hx(v.start)}, {hx(v.start + v.range)})"
        for kind, what in problems:
            if kind == "overlap":
                o = self.vas.get(what)
                orng = f"[{hx(o.start)}, {hx(o.start + o.range)})" if o else "?"
                r.emit("GPUVM-VA-OVERLAP", row, f"VA {v.addr} {rng} overlaps VA {what} {orng} in VM {vm.addr}",
                       [v.addr, what],
                       ([r.evidence(o.row, f"gpuva_insert {what}")] if o and o.row is not None else [])
                       + [r.evidence(row, f"gpuva_insert {v.addr}")],
                       key_objects=["vm:" + (vm.name or "unnamed"), "VA overlap"],
                       detail=f"__drm_gpuva_insert() refuses a VA that intersects an existing one "
                              f"(drm_gpuva_it_iter_first() -> -EEXIST), yet {r.task(row)} inserted {rng} "
                              f"while {what} {orng} was still inserted. The interval tree is corrupt or a "
                              "removal was missed.")
            else:
                r.emit("GPUVM-VA-OUT-OF-RANGE", row, f"VA {v.addr} {rng} is not valid in VM {vm.addr}: {what}",
                       [v.addr, vm.addr],
                       ([r.evidence(vm.row, "gpuvm_init")] if vm.row is not None else []) + [r.evidence(row, "gpuva_insert")],
                       key_objects=["vm:" + (vm.name or "unnamed"), "VA " + kind],
                       detail=f"drm_gpuvm_range_valid() rejects it (drm_gpuva_insert() -> -EINVAL): {what}.")

    def op_va_remove(self, i, va) -> None:
        v = self.vas.get(va)
        if v is None or not v.inserted:
            return
        vm = self.vms.get(v.vm) if v.vm else None
        self._touch(i, v.obj)
        if v.vm_bo is not None:
            self._vmbo_alive(i, self.vmbos.get(v.vm_bo), "drm_gpuva_remove")
        else:
            self._vm_alive(i, vm, "drm_gpuva_remove")
        if vm is not None:
            vm.vas.discard(va)
        v.inserted = False

    def op_va_link(self, i, va, vm_bo) -> None:
        r = self.r
        v = self.vas.get(va)
        vb = self._vmbo(vm_bo, v.vm if v else None, v.obj if v else None)
        if vb is None or not self._vmbo_alive(i, vb, "drm_gpuva_link"):
            return
        if v is None or v.obj is None:
            return  # sparse VA: drm_gpuva_link() is a no-op
        self._touch(i, v.obj)
        if vb.obj is not None and vb.obj != v.obj:
            r.emit("GPUVM-VA-WRONG-GEM", i,
                   f"VA {va} of GEM {v.obj} linked to vm_bo {vb.addr} of GEM {vb.obj}",
                   [va, vb.addr],
                   ([r.evidence(v.row, "gpuva_insert")] if v.row is not None else [])
                   + ([r.evidence(vb.row, "vm_bo created")] if vb.row is not None else []) + [r.evidence(i, "gpuva_link")],
                   key_objects=["vm:" + self._vm_name(vb.vm), "VA of another GEM"],
                   detail="drm_gpuva_link() has drm_WARN_ON(va->gem.obj != vm_bo->obj): the VA maps GEM "
                          f"{v.obj} but joins the list of GEM {vb.obj}'s vm_bo; evict/validate will walk the "
                          "wrong object.")
        self._gpuva_lock(i, v.obj, "link", vb.addr)
        if v.vm_bo is not None and v.vm_bo in self.vmbos:
            self.vmbos[v.vm_bo].vas.discard(va)
        v.vm_bo = vb.addr
        v.link_row = i
        vb.vas.add(va)
        if vb.refs is not None:
            vb.refs += 1  # drm_gpuva_link() -> drm_gpuvm_bo_get(); unlink's put is traced

    def op_va_unlink(self, i, va) -> None:
        v = self.vas.get(va)
        if v is None or v.vm_bo is None:
            return
        vb = self.vmbos.get(v.vm_bo)
        self._touch(i, v.obj)
        if not self._vmbo_alive(i, vb, "drm_gpuva_unlink"):
            return
        self._gpuva_lock(i, v.obj, "unlink", v.vm_bo)
        if vb is not None:
            vb.vas.discard(va)
        v.vm_bo = None

    # -- GEM free: weak references, destructor path, kref_read() race --------------------------------
    def op_gem_free(self, i, obj, resv) -> None:
        r = self.r
        g = self._gem(obj)
        if g is None:
            return
        if g.freed_row is not None:
            g = self.gems[obj] = Gem(obj)  # the address was reused for a new GEM
        g.resv = None if is_err_ptr(resv) else resv
        pid = r.pid[i]
        self._judge_unlocked(i, obj, g.resv, pid)
        for (j, held, vb, what, assertion) in self.list_checks.pop(obj, []):
            if g.resv not in held:
                self._report_list(j, vb, what, assertion, obj)
        for vb in [b for b in self.vmbos.values() if b.obj == obj and b.destroyed_row is None and b.orphan_row is None]:
            vb.orphan_row = i
            linked = sorted(vb.vas)
            ev = ([r.evidence(vb.row, f"vm_bo {vb.addr} created")] if vb.row is not None else [])
            ev += [r.evidence(self.vas[v].link_row, f"gpuva_link {v}") for v in linked if self.vas[v].link_row is not None]
            ev.append(r.evidence(i, "gem_free"))
            r.emit("GPUVM-GEM-FREED-WITH-VM-BO", i,
                   f"GEM {obj} freed while its vm_bo {vb.addr} (VM {vb.vm or '?'}) still exists",
                   [obj, vb.addr], ev,
                   key_objects=["vm:" + self._vm_name(vb.vm), "GEM", "vm_bo"],
                   detail="drm_gpuvm_bo_create() takes a GEM reference (drm_gem_object_get()) that only "
                          "drm_gpuvm_bo_destroy() drops, so a GEM cannot be freed while a vm_bo of it "
                          "exists. Here it was: the vm_bo did not hold its reference (the \"weak reference\" "
                          f"mode). vm_bo {vb.addr} still points at the freed GEM"
                          + (f" and {len(linked)} linked VA(s) map it" if linked else "") + ".")
        g.freed_row = i
        g.free_task = pid

    def _unlocked_recs(self, obj: str, resv: str | None) -> list[Unlocked]:
        out = []
        for rec in self.unlocked.pop(obj, []):
            if resv is not None and resv in rec.held:
                continue
            if resv is None and rec.held:
                continue  # cannot tell which ww_mutex was the GEM's
            out.append(rec)
        return out

    def _judge_unlocked(self, i: int, obj: str, resv: str | None, pid: int | None) -> None:
        groups: dict[tuple, list[Unlocked]] = {}
        for rec in self._unlocked_recs(obj, resv):
            groups.setdefault((rec.pid, rec.vm_bo, rec.what in _TEARDOWN), []).append(rec)
        for (tpid, _, teardown), recs in groups.items():
            if not teardown:  # link/obtain never belong to a destructor path
                self._report_unlocked(recs, obj, None)
            elif tpid == pid and all(x.open for x in recs):
                continue  # the GEM's own destructor path: nobody else can hold a reference
            elif tpid != pid and all(x.open for x in recs):
                self._report_race(recs, obj, i)
            else:
                self._report_unlocked(recs, obj, i)

    def _desc(self, recs: list[Unlocked]) -> str:
        names = {"link": "drm_gpuva_link", "unlink": "drm_gpuva_unlink", "obtain": "drm_gpuvm_bo_obtain",
                 "destroy": "drm_gpuvm_bo_destroy"}
        seen = []
        for x in recs:
            if names[x.what] not in seen:
                seen.append(names[x.what])
        return ", ".join(seen)

    def _report_unlocked(self, recs: list[Unlocked], obj: str, free_row: int | None) -> None:
        r = self.r
        first = recs[0]
        vb = self.vmbos.get(first.vm_bo) if first.vm_bo else None
        objects = [first.vm_bo, obj] if first.vm_bo else [obj]
        ev = [r.evidence(x.row, self._desc([x]) + " without the gpuva lock") for x in recs]
        if free_row is not None:
            ev.append(r.evidence(free_row, "gem_free by the same task, later"))
        r.emit("GPUVM-GPUVA-LOCK-NOT-HELD", first.row,
               f"{self._desc(recs)} on GEM {obj} without its gpuva lock held",
               objects, ev,
               key_objects=["vm:" + self._vm_name(vb.vm if vb else None), *sorted({x.what for x in recs})],
               detail=f"{r.task(first.row)} calls {self._desc(recs)} at {r.where(first.row)} holding "
                      f"{', '.join(sorted(first.held)) or 'no dma_resv'}, but drm_gem_gpuva_assert_lock_held(obj) "
                      "needs the GEM's dma_resv (or its custom gpuva lock) to protect obj->gpuva.list and "
                      "vm_bo->list.gpuva. This is not the GEM's own destructor path (the task frees no GEM "
                      "right after, or moved on to another object in between).")

    def _report_race(self, recs: list[Unlocked], obj: str, free_row: int) -> None:
        r = self.r
        first = recs[0]
        vb = self.vmbos.get(first.vm_bo) if first.vm_bo else None
        objects = [first.vm_bo, obj] if first.vm_bo else [obj]
        t, u = r.task(first.row), r.task(free_row)
        ev = [r.evidence(x.row, f"{self._desc([x])} by {t} without the gpuva lock") for x in recs]
        ev.append(r.evidence(free_row, f"gem_free by {u}: the GEM's destructor ran in another task"))
        left = f"{t} (VM {vb.vm if vb else '?'})"
        right = f"{u} (drops the last GEM reference)"
        w = max(len(left), 44)
        detail = (
            f"{t} skipped the GEM's gpuva lock for {self._desc(recs)} at {r.where(first.row)}: the only "
            "exception drm_gpuvm allows is the GEM's own destructor path, recognised with "
            "`if (kref_read(&obj->refcount) > 0) drm_gem_gpuva_assert_lock_held(obj);`. But the GEM was "
            f"freed by another task, {u}, at {r.where(free_row)}: the refcount reached zero through a "
            "concurrent drop from another VM, so the kref_read() check in one task races with the "
            "destructor in the other, and both walk obj->gpuva.list without a lock:\n\n"
            f"  {left:<{w}}  {right}\n  {'-' * len(left):<{w}}  {'-' * len(right)}\n"
            f"  {'drm_gpuvm_bo_destroy(vm_bo)':<{w}}\n"
            f"  {'  kref_read(&obj->refcount) == 0 -> no lock':<{w}}  drm_gem_object_put(obj) -> refcount 0\n"
            f"  {'':<{w}}  free_object: unlink/destroy vm_bos unlocked\n"
            f"  {'  list_del(&vm_bo->list.entry.gem)':<{w}}  drm_gem_object_release(obj) + free\n\n"
            "(Danilo Krummrich, \"drm/gpuvm: Don't require obj lock in destructor path\", v5 review: "
            "\"What if the reference count drops to zero right after the kref_read() check\".)"
        )
        r.emit("GPUVM-KREF-READ-RACE", first.row,
               f"{self._desc(recs)} on GEM {obj} without its gpuva lock while {u} frees the GEM (kref_read() race)",
               objects, ev,
               key_objects=["vm:" + self._vm_name(vb.vm if vb else None), *sorted({x.what for x in recs})],
               detail=detail, extra={"tasks": [t, u]})

    # -- locks ----------------------------------------------------------------------------------
    def op_ww_lock(self, i, lock, kind) -> None:
        pid = self.r.pid[i]
        if not self.lock_ret.get(kind, False):
            self.held.setdefault(pid, {})[lock] = i
            return
        self.pending_lock.setdefault(pid, []).append((kind, lock, i))

    def op_ww_lock_ret(self, i, ret, kind) -> None:
        pid = self.r.pid[i]
        stack = self.pending_lock.get(pid)
        if not stack:
            return
        for j in range(len(stack) - 1, -1, -1):
            if stack[j][0] == kind:
                _, lock, row = stack.pop(j)
                break
        else:
            return
        v = num(ret, None)
        if (kind == "lock" and v == 0) or (kind == "trylock" and v == 1):
            self.held.setdefault(pid, {})[lock] = row

    def op_ww_unlock(self, i, lock) -> None:
        pid = self.r.pid[i]
        if lock in self.held.get(pid, {}):
            del self.held[pid][lock]
            return
        for h in self.held.values():
            h.pop(lock, None)

    def op_gpuva_lock(self, i, addr) -> None:
        pid = self.r.pid[i]
        self.custom[pid] = self.custom.get(pid, 0) + 1

    def op_gpuva_unlock(self, i, addr) -> None:
        pid = self.r.pid[i]
        self.custom[pid] = max(0, self.custom.get(pid, 0) - 1)

    # -- driver tracepoints (xe, amdgpu): VA overlap only ----------------------------------------
    def op_drv_bind(self, i, vm, va, start, last, page) -> None:
        r = self.r
        s, e, p = _hexnum(start), _hexnum(last), num(page, 1) or 1
        if s is None or e is None or vm is None:
            return
        vmk = str(vm)
        key = f"{va}@{s:x}"
        ivs = self.drv.setdefault(vmk, IntervalSet())
        lo, hi = s * p, (e + 1) * p
        for other in ivs.overlapping(lo, hi, skip=key):
            if not self._once(("drv", vmk, key, other)):
                continue
            ov, oa = other.rsplit("@", 1)
            olo, ohi = ivs.items[other]
            row = self._drv_rows.get((vmk, other))
            r.emit("GPUVM-VA-OVERLAP", i,
                   f"{r.event[i]}: {va} [{hx(lo)}, {hx(hi)}) overlaps {ov} [{hx(olo)}, {hx(ohi)}) in VM {vmk}",
                   [str(va), ov],
                   ([r.evidence(row, f"{r.event[row]} {ov}")] if row is not None else []) + [r.evidence(i, r.event[i])],
                   key_objects=[r.event[i], "VA overlap"],
                   detail="Two live mappings of one VM cover the same GPU addresses: the page tables map "
                          "one of them over the other. (For amdgpu_vm_bo_map, which names no VM, the VM "
                          "is approximated by the task.)")
        ivs.add(key, lo, hi)
        self._drv_rows[(vmk, key)] = i

    def op_drv_unbind(self, i, vm, va, start, page) -> None:
        s = _hexnum(start)
        if s is None or vm is None:
            return
        ivs = self.drv.get(str(vm))
        if ivs is not None:
            ivs.discard(f"{va}@{s:x}")

    def op_drv_vm_reset(self, i, vm) -> None:
        self.drv.pop(str(vm), None)

    # -- history ---------------------------------------------------------------------------------
    def state_of(self, obj: str) -> str | None:
        """A VM, GEM, vm_bo or VA (by address, as the kprobes print it or without 0x and leading
        zeros): its name/range, lists, links and references; None for other objects."""
        kind, d = query(obj)
        if kind != "address" or not d:
            return None
        for key in (obj.strip().lower(), "0x" + d, d):
            if key in self.vmbos:
                return self._vmbo_state(self.vmbos[key])
            if key in self.vas:
                return self._va_state(self.vas[key])
            if key in self.vms:
                return self._vm_state(self.vms[key])
            if key in self.gems:
                return self._gem_state(self.gems[key])
        return None

    def _vm_label(self, vm: str | None) -> str:
        return f"{vm or '?'} ({self._vm_name(vm)})"

    def _vm_state(self, vm: VM) -> str:
        r = self.r
        n = len(vm.vas)
        parts = [vm.name or "unnamed"]
        if vm.row is None:
            parts.append("initialised before the trace")
        parts.append(f"{n} VA{'' if n == 1 else 's'} inserted")
        listed = [self.vmbos.get(a) for a in self.vm_listed.get(vm.addr, ())]
        for name in ("extobj", "evict"):
            on = [b.addr for b in listed if b is not None and b.vm == vm.addr and getattr(b, name)]
            parts.append(f"{name} list: {', '.join(on) or 'empty'}")
        if vm.dead_row is not None:
            parts.append(f"finalised at {r.where(vm.dead_row)}")
        return ", ".join(parts)

    def _gem_state(self, g: Gem) -> str:
        r = self.r
        head = "alive" if g.freed_row is None else f"freed by {r.task(g.freed_row)} at {r.where(g.freed_row)}"
        vbs = []
        for a in self.gem_vmbos.get(g.addr, ()):
            vb = self.vmbos.get(a)
            if vb is None or vb.obj != g.addr or vb.destroyed_row is not None:
                continue
            vbs.append(f"{a} (VM {self._vm_name(vb.vm)}{', orphaned' if vb.orphan_row is not None else ''})")
        return f"{head}, vm_bos: {', '.join(vbs)}" if vbs else f"{head}, no vm_bos"

    def _vmbo_state(self, vb: VmBo) -> str:
        r = self.r
        parts = [f"vm {self._vm_label(vb.vm)}", f"obj {vb.obj or '?'}",
                 f"refs {'?' if vb.refs is None else vb.refs}",
                 f"linked VAs: {', '.join(sorted(vb.vas)) or 'none'}"]
        if vb.extobj:
            parts.append("on the extobj list")
        if vb.evict:
            parts.append("on the evict list")
        if vb.orphan_row is not None:
            parts.append(f"GEM freed under it at {r.where(vb.orphan_row)}")
        if vb.destroyed_row is not None:
            parts.append(f"destroyed at {r.where(vb.destroyed_row)}")
        return ", ".join(parts)

    def _va_state(self, v: Va) -> str:
        out = f"[{hx(v.start)}, {hx(v.start + v.range)}) in vm {self._vm_label(v.vm)}"
        if v.refused:
            return out + ", insert refused"
        if v.obj is None:
            out += ", sparse (no GEM)"
        elif v.vm_bo is not None:
            out += f", linked to vm_bo {v.vm_bo}"
        else:
            out += f", GEM {v.obj}, not linked"
        return out if v.inserted else out + ", removed"

    # -- end of trace ----------------------------------------------------------------------------
    def finish(self) -> None:
        for v, row, problems in list(self.pending_insert.values()):
            self._insert_done(v, row, problems, ok=True)
        self.pending_insert.clear()
        for obj in list(self.unlocked):
            g = self.gems.get(obj)
            recs = self._unlocked_recs(obj, g.resv if g else None)
            groups: dict[tuple, list[Unlocked]] = {}
            for rec in recs:
                groups.setdefault((rec.pid, rec.vm_bo, rec.what in _TEARDOWN), []).append(rec)
            for grp in groups.values():
                self._report_unlocked(grp, obj, None)
        for obj, checks in self.list_checks.items():
            for (j, held, vb, what, assertion) in checks:
                if not held:
                    self._report_list(j, vb, what, assertion, obj)
