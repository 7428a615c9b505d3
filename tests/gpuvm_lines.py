"""Hand-written GPUVM traces in the exact kprobe/kretprobe line format (kernel-spec 1.10)."""

from __future__ import annotations

from pathlib import Path

from tracereplay import api
from tracereplay.simulate.trace import HEADER

VM, ROBJ, RESV_VM = "0xffff88812a3a2100", "0xffff8881d7e10000", "0xffff88816b040000"
X, RX = "0xffff8881d7e11b10", "0xffff88816b0404f0"
Y, RY = "0xffff8881d7e13c20", "0xffff88816b042a00"
VB, VBY = "0xffff8881fd5e5ee0", "0xffff8881fd5e7b80"
VA1, VA2 = "0xffff888100aa0000", "0xffff888100aa0180"
GPUVM = "[drm_gpuvm]"

TASKS = {"a": ("vm-bind-a", 601, 0), "b": ("vm-bind-b", 602, 1), "k": ("kworker/u8:1", 44, 2)}


class Trace:
    """Builds a trace line by line; every method returns the 1-based file line it wrote."""

    def __init__(self) -> None:
        self.lines: list[str] = HEADER.format(n=0, cpus=4).splitlines()
        self.us = 2000_000_000

    def raw(self, who: str, body: str, flags: str = ".....") -> int:
        comm, pid, cpu = TASKS[who]
        self.us += 11
        self.lines.append(f"{comm:>16}-{pid:<7} [{cpu:03d}] {flags} {self.us // 1_000_000:5d}."
                          f"{self.us % 1_000_000:06d}: {body}")
        return len(self.lines)

    def kp(self, who: str, event: str, func: str, **args) -> int:
        a = " ".join(f"{k}={v}" for k, v in args.items())
        return self.raw(who, f"{event}: ({func}+0x0/0x120 {GPUVM}) {a}")

    def kr(self, who: str, event: str, func: str, **args) -> int:
        a = " ".join(f"{k}={v}" for k, v in args.items())
        return self.raw(who, f"{event}: (panthor_vm_bind_exec+0x1a4/0x3c0 [panthor] <- {func}) {a}")

    # -- vocabulary ---------------------------------------------------------------------------
    def init(self, who="a", flags="0x0", vm=VM, robj=ROBJ, name="vm-test") -> int:
        return self.kp(who, "gpuvm_init", "drm_gpuvm_init", gpuvm=vm, name=f'"{name}"', flags=flags,
                       start="0x0", range="0x1000000000", reserve_offset="0x0", reserve_range="0x100000",
                       r_obj=robj)

    def lock(self, who, resv, ret=0) -> int:
        self.raw(who, f"ww_mutex_lock: (ww_mutex_lock+0x0/0x90) lock={resv} ctx=0xffff8881a28f5b30")
        return self.raw(who, f"ww_mutex_lock_ret: (drm_exec_lock_obj+0x4a/0x1c0 [drm_exec] <- ww_mutex_lock) ret={ret}")

    def trylock(self, who, resv, ret=1) -> int:
        self.raw(who, f"ww_mutex_trylock: (ww_mutex_trylock+0x0/0x90) lock={resv} ctx=0x0")
        return self.raw(who, f"ww_mutex_trylock_ret: (ttm_bo_evict_swapout_allowable+0x3c/0x90 [ttm] "
                             f"<- ww_mutex_trylock) ret={ret}")

    def unlock(self, who, resv) -> int:
        return self.raw(who, f"ww_mutex_unlock: (ww_mutex_unlock+0x0/0x50) lock={resv}")

    def obtain(self, who, obj, vb, vm=VM) -> int:
        n = self.kp(who, "gpuvm_bo_obtain", "drm_gpuvm_bo_obtain", gpuvm=vm, obj=obj)
        self.kr(who, "gpuvm_bo_obtain_ret", "drm_gpuvm_bo_obtain", vm_bo=vb)
        return n

    def insert(self, who, va, addr, size, obj, ret=0, vm=VM) -> int:
        n = self.kp(who, "gpuva_insert", "drm_gpuva_insert", gpuvm=vm, va=va, addr=addr, range=size,
                    obj=obj, offset="0x0")
        if ret is not None:
            self.kr(who, "gpuva_insert_ret", "drm_gpuva_insert", ret=ret)
        return n

    def link(self, who, va, vb) -> int:
        return self.kp(who, "gpuva_link", "drm_gpuva_link", va=va, vm_bo=vb)

    def unlink(self, who, va) -> int:
        return self.kp(who, "gpuva_unlink", "drm_gpuva_unlink", va=va)

    def remove(self, who, va) -> int:
        return self.kp(who, "gpuva_remove", "drm_gpuva_remove", va=va)

    def put(self, who, vb) -> int:
        return self.kp(who, "gpuvm_bo_put", "drm_gpuvm_bo_put", vm_bo=vb)

    def destroy(self, who, vb, obj, vm=VM) -> int:
        return self.kp(who, "gpuvm_bo_destroy", "drm_gpuvm_bo_destroy", vm_bo=vb, gpuvm=vm, obj=obj)

    def destroy_kref(self, who, kref, obj, vm=VM) -> int:
        return self.kp(who, "gpuvm_bo_destroy", "drm_gpuvm_bo_destroy", kref=kref, gpuvm=vm, obj=obj)

    def evict(self, who, vb, on=1) -> int:
        return self.kp(who, "gpuvm_bo_evict", "drm_gpuvm_bo_evict", vm_bo=vb, evict=on)

    def extobj(self, who, vb) -> int:
        return self.kp(who, "gpuvm_bo_extobj_add", "drm_gpuvm_bo_extobj_add", vm_bo=vb)

    def gem_free(self, who, obj, resv) -> int:
        return self.raw(who, f"gem_free: (drm_gem_object_release+0x0/0x80 [drm]) obj={obj} resv={resv}")

    def fini(self, who, vm=VM) -> int:
        return self.kp(who, "gpuvm_fini", "drm_gpuvm_fini", gpuvm=vm)

    def mapped(self, who="a", obj=X, resv=RX, vb=VB, va=VA1, addr="0x200000", size="0x10000") -> None:
        """A correct map: obtain, insert, link, put under the GEM's resv."""
        self.lock(who, resv)
        self.obtain(who, obj, vb)
        self.insert(who, va, addr, size, obj)
        self.link(who, va, vb)
        self.put(who, vb)
        self.unlock(who, resv)

    def check(self, tmp_path: Path, prefix: str = "GPUVM-"):
        p = tmp_path / "trace.txt"
        p.write_text("\n".join(self.lines) + "\n")
        return [(f.rule, f.objects, f.line) for f in api.check([str(p)]).findings if f.rule.startswith(prefix)]
