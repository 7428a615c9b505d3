"""Slab objects by address, RCU read sections, and the SLAB_TYPESAFE_BY_RCU recycling hazard.

- Objects come from kmalloc/kmem_cache_alloc/kfree/kmem_cache_free (mm/slab_common.c,
  mm/slub.c) or from mapped kprobe/driver events. Addresses live in two namespaces that are
  never joined: hashed `%p` values as tracepoints print them (16 hex digits, no 0x; consistent
  within one boot) and raw pointers as kprobe arguments print them (`0xffff...`).
- RCU read sections are per context (task, or the interrupt on a CPU) from the lockdep maps of
  the rcu_read_lock family (lock_acquire/lock_release); grace periods from rcu_grace_period.
- A slab cache created with SLAB_TYPESAFE_BY_RCU (dma_fence slabs in i915 and the dma-buf
  selftests) may hand a freed object out again at once, without a grace period: only the type
  is stable under RCU, not the identity. A reader that loaded the pointer before the free can
  then take a reference on a different, recycled object. dma_fence_get_rcu() is a bare
  kref_get_unless_zero(); dma_fence_get_rcu_safe() re-reads the RCU pointer after taking the
  reference and retries when it changed, which is what makes the recycled case safe.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..engine import Model, Replay


def addr_key(v) -> tuple[str, str] | None:
    """(namespace, normalised address), or None for NULL/unusable values."""
    if v is None:
        return None
    s = str(v).strip().lower()
    if not s or "ptrval" in s or s == "(null)":
        return None
    if s.startswith("0x"):
        try:
            n = int(s, 16)
        except ValueError:
            return None
        return None if n == 0 else ("raw", f"0x{n:x}")
    if s.strip("0") == "":
        return None
    # %p hashes are 32 bits printed in 16 hex digits (leading zeros); a 16-digit value that is
    # not zero-padded is a raw pointer printed by %p under no_hash_pointers (or %lx).
    if len(s) == 16 and not s.startswith("00000000"):
        try:
            return ("raw", f"0x{int(s, 16):x}")
        except ValueError:
            return ("hashed", s)
    return ("hashed", s)


@dataclass
class Obj:
    addr: str
    events: list = field(default_factory=list)  # (row, "alloc" | "free")
    freed_by: tuple = ()  # (event, cache name) of the last free
    allocated: bool = False  # seen allocated in the trace at least once
    live: bool = False
    unknown_reported: bool = False


class SlabModel(Model):
    name = "slab"
    OPS = {
        "slab.alloc": ("ptr", "call_site"),
        "slab.free": ("ptr", "call_site", "name"),
        "rcu.read_lock": ("addr", "name"),
        "rcu.read_unlock": ("addr", "name"),
        "rcu.gp": ("rcu_name", "gp_seq", "gp_event"),
        "rcu.deref": ("ptr", "func"),
        "rcu.deref_safe": ("ptr", "func"),
    }

    def __init__(self, replay: Replay) -> None:
        super().__init__(replay)
        self.objs: dict[tuple[str, str], Obj] = {}
        self.sections: dict[tuple, list] = {}  # context -> [depth, row of outermost lock]
        self.gp_ends: list[tuple[int, str, int]] = []  # (row, flavour, gp_seq)
        self.recycled_reported: set[tuple] = set()
        self.unknown: dict[tuple[str, str], list[tuple]] = {}  # (event, site) -> frees

    def finish(self) -> None:
        r = self.r
        for (event, site), frees in self.unknown.items():
            i, ptr, call_site = frees[0]
            shown = [p for _, p, _ in frees[:5]]
            more = f" (+{len(frees) - 5} more)" if len(frees) > 5 else ""
            title = (f"free of {ptr}, never seen allocated" if len(frees) == 1 else
                     f"{len(frees)} frees of addresses never seen allocated ({event} at {site})")
            r.emit(
                "SLAB-FREE-UNKNOWN", i, title,
                shown + ([more.strip()] if more else []),
                [r.evidence(j, f"{event} {p} call_site={cs}") for j, p, cs in frees[:10]],
                key_objects=[event, site],
            )

    # -- slab ------------------------------------------------------------------------------
    def op_alloc(self, i: int, ptr, call_site) -> None:
        k = addr_key(ptr)
        if k is None:
            return
        o = self.objs.setdefault(k, Obj(str(ptr)))
        o.events.append((i, "alloc"))
        o.allocated = o.live = True

    def op_free(self, i: int, ptr, call_site, name=None) -> None:
        k = addr_key(ptr)
        if k is None:
            return
        r = self.r
        o = self.objs.get(k)
        if o is None or not o.allocated:
            o = o or self.objs.setdefault(k, Obj(str(ptr)))
            if not o.unknown_reported:
                o.unknown_reported = True
                # grouped by free site at the end: a trace that starts mid-run frees many
                # objects allocated before it, and one finding per site says as much
                self.unknown.setdefault((r.event[i], _site(call_site)), []).append((i, str(ptr), call_site))
            o.events.append((i, "free"))
            return
        how = (r.event[i], name or None)
        if not o.live and o.freed_by != how:
            # freed through another allocator or cache than last time: the memory was reused
            # by an allocation the trace does not show (slab page recycled, bulk allocation)
            o.allocated = False
        elif not o.live:
            last_free = next(row for row, what in reversed(o.events) if what == "free")
            alloc = next(row for row, what in reversed(o.events) if what == "alloc")
            gap = gap_between(r, last_free, i)
            r.emit(
                "SLAB-DOUBLE-FREE", i,
                f"double free of {ptr}",
                [str(ptr)],
                [r.evidence(alloc, "allocated"), r.evidence(last_free, f"freed ({r.event[last_free]})"),
                 r.evidence(i, f"freed again ({r.event[i]} call_site={call_site})")],
                key_objects=[_site(call_site)],
                incomplete=gap,
                detail=(f"{ptr} was allocated at {r.where(alloc)} and freed at {r.where(last_free)} by "
                        f"{r.task(last_free)}; {r.task(i)} frees it again at {r.where(i)} with no "
                        "allocation of that address in between. The second kfree/kmem_cache_free "
                        "corrupts the slab freelist (KASAN: double-free or invalid-free)."),
            )
        o.events.append((i, "free"))
        o.live = False
        o.freed_by = how

    # -- RCU -------------------------------------------------------------------------------
    def op_read_lock(self, i: int, addr, name) -> None:
        ctx = self.r.context(i)
        s = self.sections.setdefault(ctx, [0, i])
        if s[0] == 0:
            s[1] = i
        s[0] += 1

    def op_read_unlock(self, i: int, addr, name) -> None:
        r = self.r
        ctx = r.context(i)
        for c in (ctx, ("task", r.pid[i]), ("softirq", r.cpu[i]), ("hardirq", r.cpu[i])):
            s = self.sections.get(c)
            if s and s[0] > 0:
                s[0] -= 1
                return
        # unlock of a section entered before the trace started: nothing to track

    def op_gp(self, i: int, rcu_name, gp_seq, gp_event) -> None:
        if gp_event == "end" and gp_seq is not None:
            self.gp_ends.append((i, rcu_name, int(gp_seq)))

    def op_deref_safe(self, i: int, ptr, func) -> None:
        """dma_fence_get_rcu_safe(): the re-check makes a recycled object harmless."""

    def op_deref(self, i: int, ptr, func) -> None:
        k = addr_key(ptr)
        if k is None:
            return
        r = self.r
        s = self.sections.get(r.context(i))
        o = self.objs.get(k)
        if not s or s[0] == 0 or o is None:
            return
        start = s[1]
        # the latest allocation before this touch, and a free of the old object inside the section
        alloc = next((row for row, what in reversed(o.events) if what == "alloc"), None)
        if alloc is None or alloc < start:
            return
        free = next((row for row, what in reversed(o.events) if what == "free" and start < row < alloc), None)
        if free is None:
            return
        rk = (k, start, alloc)
        if rk in self.recycled_reported:
            return
        self.recycled_reported.add(rk)
        gps = [g for g in self.gp_ends if start < g[0] < alloc]
        gp_note = (f"{len(gps)} grace period(s) ended while the reader was inside its section "
                   f"({', '.join(f'{g[1]} {g[2]} at {r.where(g[0])}' for g in gps[:3])}): the reader is "
                   "not a plain RCU reader, or the trace is incomplete." if gps else
                   "No grace period ended in between: the memory was reused without one, as "
                   "SLAB_TYPESAFE_BY_RCU allows.")
        r.emit(
            "RCU-RECYCLED-OBJECT", i,
            f"{r.task(i)} may hold a recycled object: {ptr} freed and reallocated inside its RCU read section",
            [str(ptr), str(func)],
            [r.evidence(start, "rcu_read_lock: the reader may load the old pointer from here on"),
             r.evidence(free, f"{ptr} freed ({r.event[free]})"),
             r.evidence(alloc, f"{ptr} allocated again ({r.event[alloc]})"),
             r.evidence(i, f"{func}({ptr}) inside the same read section")],
            key_objects=[str(func)],
            detail=(f"{r.context_name(r.context(i), i)} entered an RCU read section at {r.where(start)}. "
                    f"While it was inside, {ptr} was freed at {r.where(free)} and handed out again at "
                    f"{r.where(alloc)}; at {r.where(i)} the reader calls {func}() on that address. A "
                    "pointer loaded before the free now names a different object: with "
                    "SLAB_TYPESAFE_BY_RCU the slab may recycle memory without waiting for readers, "
                    "so kref_get_unless_zero() (dma_fence_get_rcu) succeeds on the NEW fence and the "
                    "reader treats it as the one it looked up. dma_fence_get_rcu_safe() closes this "
                    "window: after taking the reference it re-reads the RCU-protected pointer and, "
                    "if it no longer points at the fence it got, drops the reference and retries. "
                    + gp_note),
        )


def _site(call_site) -> str:
    """call_site without the offset (boot independent)."""
    s = str(call_site or "?")
    return s.split("+", 1)[0]


def gap_between(r: Replay, j: int, i: int) -> str | None:
    """Why the trace is incomplete somewhere between rows j and i, if it is."""
    health = r.table.health
    if health.is_empty() or r.ts[j] is None or r.ts[i] is None:
        return r.incomplete(i)
    lo, hi = r.ts[j], r.ts[i]
    for w in health.iter_rows(named=True):
        if w["file"] != r.file[i]:
            continue
        s = w["start_ns"] if w["start_ns"] is not None else -(2**63)
        e = w["end_ns"] if w["end_ns"] is not None else 2**63 - 1
        if s <= hi and e >= lo:
            return f"{w['kind']} ({w['detail']}, {w['file']}:{w['line']})"
    return None
