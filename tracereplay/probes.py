"""The GPUVM probe kit: kprobe_events definitions for the canonical GPUVM vocabulary (issue 6)
and the commands that record them with lock and dma_fence events.

Two syntaxes per event: BTF (`$arg1`, `arg->field`, 6.5+ with CONFIG_PROBE_EVENTS_BTF_ARGS)
and register fallbacks for x86-64 (%di %si %dx %cx %r8 %r9 = arguments 1-6, %ax = return
value) with struct offsets named. Offsets differ between kernel builds: read them with
`pahole -C drm_gpuvm_bo drivers/gpu/drm/drm_gpuvm.ko` (or `bpftool btf dump`) and pass
`--offset NAME=VALUE`; the defaults are those of a 6.12 x86-64 build and are placeholders.
"""

from __future__ import annotations

from dataclasses import dataclass

# struct offsets the register fallbacks need (bytes), named as `struct.member`
DEFAULT_OFFSETS: dict[str, int] = {
    "drm_gpuvm_bo.vm": 0x0,
    "drm_gpuvm_bo.obj": 0x8,
    "drm_gpuvm_bo.kref": 0x14,  # after vm, obj, bool evicted; kref release callbacks get &vm_bo->kref
    "drm_gpuva.vm": 0x0,
    "drm_gpuva.vm_bo": 0x8,
    "drm_gpuva.va.addr": 0x18,
    "drm_gpuva.va.range": 0x20,
    "drm_gpuva.gem.offset": 0x28,
    "drm_gpuva.gem.obj": 0x30,
    "drm_gem_object.resv": 0x148,
}


@dataclass(frozen=True)
class Probe:
    event: str
    kind: str  # "p" (entry) or "r" (return)
    symbol: str
    btf: str  # fetch args with BTF names
    regs: str  # x86-64 register fallback
    note: str = ""


def gpuvm_probes(off: dict[str, int] | None = None) -> list[Probe]:
    o = {**DEFAULT_OFFSETS, **(off or {})}
    kref = o["drm_gpuvm_bo.kref"]
    vb_vm, vb_obj = o["drm_gpuvm_bo.vm"] - kref, o["drm_gpuvm_bo.obj"] - kref

    def va(f: str) -> str:
        return f"+{o['drm_gpuva.' + f]}(%di)"

    return [
        Probe("gpuvm_init", "p", "drm_gpuvm_init",
              "gpuvm=$arg1 name=+0($arg2):string flags=$arg3:x32 start=$arg6:x64 range=$arg7:x64 "
              "reserve_offset=$arg8:x64 reserve_range=$arg9:x64 r_obj=$arg5",
              "gpuvm=%di name=+0(%si):string flags=%dx:x32 start=%r9:x64 range=$stack1:x64 "
              "reserve_offset=$stack2:x64 reserve_range=$stack3:x64 r_obj=%r8",
              "drm_gpuvm_init(gpuvm, name, flags, drm, r_obj, start, range, reserve_offset, reserve_range, "
              "ops): arguments 7-9 are on the stack on x86-64 ($stack0 = return address, $stack1 = the 7th)"),
        Probe("gpuvm_fini", "p", "drm_gpuvm_fini", "gpuvm=$arg1", "gpuvm=%di"),
        Probe("gpuvm_bo_create", "p", "drm_gpuvm_bo_create", "gpuvm=$arg1 obj=$arg2", "gpuvm=%di obj=%si"),
        Probe("gpuvm_bo_create_ret", "r", "drm_gpuvm_bo_create", "vm_bo=$retval", "vm_bo=%ax"),
        Probe("gpuvm_bo_obtain", "p", "drm_gpuvm_bo_obtain", "gpuvm=$arg1 obj=$arg2", "gpuvm=%di obj=%si",
              "v7.0 renames it drm_gpuvm_bo_obtain_locked: probe that symbol under the same event name"),
        Probe("gpuvm_bo_obtain_ret", "r", "drm_gpuvm_bo_obtain", "vm_bo=$retval", "vm_bo=%ax"),
        Probe("gpuvm_bo_obtain_prealloc", "p", "drm_gpuvm_bo_obtain_prealloc", "vm_bo=$arg1", "vm_bo=%di"),
        Probe("gpuvm_bo_put", "p", "drm_gpuvm_bo_put", "vm_bo=$arg1", "vm_bo=%di"),
        Probe("gpuvm_bo_destroy", "p", "drm_gpuvm_bo_destroy",
              f"kref=$arg1 gpuvm={vb_vm:+d}($arg1) obj={vb_obj:+d}($arg1)",
              f"kref=%di gpuvm={vb_vm:+d}(%di) obj={vb_obj:+d}(%di)",
              f"kref release callback: its argument is &vm_bo->kref, and fetch args cannot subtract, so "
              f"vm_bo = container_of(kref) = kref - offsetof(struct drm_gpuvm_bo, kref) ({kref:#x}) is not "
              f"printable; vm and obj are read at their offsets relative to the kref ({vb_vm:+#x}, "
              f"{vb_obj:+#x}). The model resolves the vm_bo from (gpuvm, obj): there is one vm_bo per VM "
              "and GEM. A probe inside the function after container_of (perf probe -L drm_gpuvm_bo_destroy) "
              "may print vm_bo= directly; both forms are accepted"),
        Probe("gpuva_insert", "p", "drm_gpuva_insert",
              "gpuvm=$arg1 va=$arg2 addr=va->va.addr:x64 range=va->va.range:x64 obj=va->gem.obj "
              "offset=va->gem.offset:x64",
              f"gpuvm=%di va=%si addr=+{o['drm_gpuva.va.addr']}(%si):x64 range=+{o['drm_gpuva.va.range']}(%si):x64 "
              f"obj=+{o['drm_gpuva.gem.obj']}(%si) offset=+{o['drm_gpuva.gem.offset']}(%si):x64"),
        Probe("gpuva_insert_ret", "r", "drm_gpuva_insert", "ret=$retval:s32", "ret=%ax:s32"),
        Probe("gpuva_remove", "p", "drm_gpuva_remove", "va=$arg1", "va=%di"),
        Probe("gpuva_link", "p", "drm_gpuva_link", "va=$arg1 vm_bo=$arg2", "va=%di vm_bo=%si"),
        Probe("gpuva_unlink", "p", "drm_gpuva_unlink", "va=$arg1", "va=%di"),
        Probe("gpuvm_bo_extobj_add", "p", "drm_gpuvm_bo_extobj_add", "vm_bo=$arg1", "vm_bo=%di"),
        Probe("gpuvm_bo_evict", "p", "drm_gpuvm_bo_evict", "vm_bo=$arg1 evict=$arg2:u8", "vm_bo=%di evict=%si:u8"),
        Probe("gem_free", "p", "drm_gem_object_release", "obj=$arg1 resv=obj->resv",
              f"obj=%di resv=+{o['drm_gem_object.resv']}(%di)"),
        Probe("ww_mutex_lock", "p", "ww_mutex_lock", "lock=$arg1 ctx=$arg2", "lock=%di ctx=%si"),
        Probe("ww_mutex_lock_ret", "r", "ww_mutex_lock", "ret=$retval:s32", "ret=%ax:s32"),
        Probe("ww_mutex_lock_interruptible", "p", "ww_mutex_lock_interruptible", "lock=$arg1 ctx=$arg2",
              "lock=%di ctx=%si"),
        Probe("ww_mutex_lock_interruptible_ret", "r", "ww_mutex_lock_interruptible", "ret=$retval:s32",
              "ret=%ax:s32"),
        Probe("ww_mutex_trylock", "p", "ww_mutex_trylock", "lock=$arg1 ctx=$arg2", "lock=%di ctx=%si"),
        Probe("ww_mutex_trylock_ret", "r", "ww_mutex_trylock", "ret=$retval:s32", "ret=%ax:s32",
              "ww_mutex_trylock returns 1 when it took the lock"),
        Probe("ww_mutex_unlock", "p", "ww_mutex_unlock", "lock=$arg1", "lock=%di"),
    ]


VOCABULARY = [p.event for p in gpuvm_probes()]
TRACEFS = "/sys/kernel/tracing"


def definition(p: Probe, btf: bool = True) -> str:
    return f"{p.kind}:gpuvm/{p.event} {p.symbol} {p.btf if btf else p.regs}"


def render(off: dict[str, int] | None = None) -> str:
    """The probe kit as a shell script a kernel developer can read and run."""
    probes = gpuvm_probes(off)
    o = {**DEFAULT_OFFSETS, **(off or {})}
    out = [
        "# tracereplay GPUVM probe kit: kprobe_events for the canonical GPUVM vocabulary.",
        "# Run as root. Needs CONFIG_KPROBE_EVENTS; lock_acquire/lock_release need CONFIG_LOCKDEP +",
        "# CONFIG_DEBUG_LOCK_ALLOC (CONFIG_PROVE_LOCKING); $arg/field syntax needs 6.5+ with",
        "# CONFIG_PROBE_EVENTS_BTF_ARGS and BTF for drm_gpuvm.ko (CONFIG_DEBUG_INFO_BTF_MODULES).",
        "# Load the driver (and drm_gpuvm) first: probes on module symbols need the module.",
        f"T={TRACEFS}",
        "",
        "# 1. Raw pointers: kprobe arguments are raw; make %p tracepoints (lock, kmem) raw too, so",
        "#    addresses join. Either boot with `no_hash_pointers`, or on kernels with the option:",
        "[ -e $T/options/hash-ptr ] && echo 0 > $T/options/hash-ptr",
        "",
        "# 2. Probe definitions (BTF form). Check: grep gpuvm $T/dynamic_events",
        "echo > $T/kprobe_events",
    ]
    for p in probes:
        out.append(f"echo '{definition(p, True)}' >> $T/kprobe_events")
    out += ["", "# 2b. Fallback without BTF args (x86-64 registers; struct offsets below, check with pahole):"]
    out += [f"#   {k} = {v:#x}" for k, v in o.items()]
    for p in probes:
        out.append(f"# echo '{definition(p, False)}' >> $T/kprobe_events")
    notes = [(p.event, p.note) for p in probes if p.note]
    out += ["", "# Notes:"]
    out += [f"#   {e}: {n}" for e, n in notes]
    out += [
        "",
        "# 3. Enable them with lock and dma_fence events (and kmem/sched for context):",
        "echo 1 > $T/events/gpuvm/enable",
        "echo 1 > $T/events/lock/lock_acquire/enable",
        "echo 1 > $T/events/lock/lock_release/enable",
        "echo 1 > $T/events/dma_fence/enable",
        "echo 1 > $T/events/sched/sched_process_exit/enable",
        "echo 1 > $T/events/kmem/kmem_cache_alloc/enable   # optional: fence recycling (RCU-RECYCLED-OBJECT)",
        "echo 1 > $T/events/kmem/kmem_cache_free/enable",
        "# Driver tracepoints on the same model (VA overlap): xe and amdgpu",
        "[ -d $T/events/xe ] && for e in xe_vma_bind xe_vma_pf_bind xe_vma_unbind xe_vm_create xe_vm_free; do "
        "echo 1 > $T/events/xe/$e/enable; done",
        "[ -d $T/events/amdgpu ] && for e in amdgpu_vm_bo_map amdgpu_vm_bo_unmap; do "
        "echo 1 > $T/events/amdgpu/$e/enable; done",
        "echo 65536 > $T/buffer_size_kb",
        "echo > $T/trace",
        "echo 1 > $T/tracing_on",
        "#    ... run the workload ...",
        "echo 0 > $T/tracing_on",
        "cat $T/trace > gpuvm-trace.txt",
        "tracereplay check gpuvm-trace.txt",
        "",
        "# Or with trace-cmd (after step 2 created the events):",
        "#   trace-cmd record -e gpuvm -e lock:lock_acquire -e lock:lock_release -e dma_fence \\",
        "#       -e sched:sched_process_exit -b 65536 -- ./workload",
        "#   trace-cmd report > gpuvm-trace.txt",
        "# trace-cmd report prints %p raw (it formats in user space); kprobe values are raw anyway.",
        "",
        "# 4. Clean up",
        "# echo 0 > $T/events/gpuvm/enable; echo > $T/kprobe_events",
    ]
    return "\n".join(out) + "\n"
