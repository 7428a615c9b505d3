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

from collections.abc import Callable
from dataclasses import dataclass, field

from ..engine import Group, Model, Replay, shared_list
from .addresses import addr_key, addr_key_list, addr_keys, query

# operation kinds of SlabModel.run's loop
_ALLOC, _FREE, _ENTER, _LEAVE = object(), object(), object(), object()


@dataclass(slots=True)
class Obj:
    addr: str
    events: list = field(default_factory=list)  # (row, "alloc" | "free")
    freed_by: tuple = ()  # (event, cache name) of the last free
    allocated: bool = False  # seen allocated in the trace at least once
    live: bool = False
    unknown_reported: bool = False
    site: str | None = None  # call_site of the last allocation, for state_of
    free_site: str | None = None  # call_site of the last free, for state_of
    readers: dict = field(default_factory=dict)  # context -> (section start, row) of RCU lookups


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
        self._bytes_req: list | None = None  # bytes_req per row, read on state_of's first use

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

    def run(self, groups: list[Group], order: list[int]) -> None:
        """op_alloc, op_free, op_read_lock and op_read_unlock in one loop over prepared
        operands (address keys in one vectorised pass; the unused lockdep-map operands of the
        RCU sections are never read), for the common cases: an allocation, a free of a live
        object, entering a section, leaving the context's own section. Anything else takes the
        handlers."""
        kinds: list = []
        nexts: list[Callable] = []
        for op, event, sub in groups:
            i = sub["_i"].to_list()
            if op == "slab.alloc":
                ptrs = sub["ptr"].to_list()
                kinds.append(_ALLOC)
                nexts.append(iter(zip(i, addr_key_list(sub["ptr"], ptrs), ptrs, shared_list(sub["call_site"]),
                                      strict=True)).__next__)
            elif op == "slab.free":
                ptrs, names = sub["ptr"].to_list(), shared_list(sub["name"])
                hows = {n: (event, n or None) for n in set(names)}  # how op_free tells allocators apart
                kinds.append(_FREE)
                nexts.append(iter(zip(i, addr_key_list(sub["ptr"], ptrs), ptrs, shared_list(sub["call_site"]), names,
                                      map(hows.__getitem__, names), strict=True)).__next__)
            elif op in ("rcu.read_lock", "rcu.read_unlock"):
                kinds.append(_ENTER if op == "rcu.read_lock" else _LEAVE)
                nexts.append(iter(zip(i, self.r.contexts_at(sub["_i"]), strict=True)).__next__)
            else:
                kinds.append(self.handler(op))
                nexts.append(iter(zip(i, *(sub[c].to_list() for c in sub.columns[1:]), strict=True)).__next__)
        objs, sections = self.objs, self.sections
        for g in order:
            kind = kinds[g]
            if kind is _ALLOC:
                i, k, ptr, site = nexts[g]()
                if k is None:
                    continue
                o = objs.get(k)
                if o is None:
                    o = objs[k] = Obj(str(ptr))
                o.events.append((i, "alloc"))
                o.allocated = o.live = True
                o.site = site
            elif kind is _FREE:
                i, k, ptr, site, name, how = nexts[g]()
                if k is None:
                    continue
                o = objs.get(k)
                if o is not None and o.live and o.allocated:
                    o.events.append((i, "free"))
                    o.live = False
                    o.freed_by = how
                    o.free_site = site
                else:
                    self.op_free(i, ptr, site, name)
            elif kind is _ENTER:
                i, ctx = nexts[g]()
                s = sections.get(ctx)
                if s is None:
                    sections[ctx] = [1, i]
                else:
                    if s[0] == 0:
                        s[1] = i
                    s[0] += 1
            elif kind is _LEAVE:
                i, ctx = nexts[g]()
                s = sections.get(ctx)
                if s and s[0] > 0:
                    s[0] -= 1
                else:
                    self.op_read_unlock(i, None, None)
            else:
                kind(*nexts[g]())

    # -- slab ------------------------------------------------------------------------------
    def op_alloc(self, i: int, ptr, call_site) -> None:
        k = addr_key(ptr)
        if k is None:
            return
        o = self.objs.get(k)
        if o is None:
            o = self.objs[k] = Obj(str(ptr))
        o.events.append((i, "alloc"))
        o.allocated = o.live = True
        o.site = call_site

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
            o.free_site = call_site
            return
        how = (r.event[i], name or None)
        if not o.live and o.freed_by != how:
            # freed through another allocator or cache than last time: the memory was reused
            # by an allocation the trace does not show (slab page recycled, bulk allocation)
            o.allocated = False
        elif not o.live:
            last_free = next(row for row, what in reversed(o.events) if what == "free")
            alloc = next(row for row, what in reversed(o.events) if what == "alloc")
            gap = r.gap_between(last_free, i)
            # an allocation on another CPU stamped (almost) like the first free may really have
            # come after it: then the address was reused, not freed twice
            racing = next((row for row, what in o.events if what == "alloc" and row != alloc
                           and r.order_uncertain(row, last_free)), None)
            if racing is None and r.order_uncertain(alloc, last_free):
                racing = alloc
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
                        "corrupts the slab freelist (KASAN: double-free or invalid-free)."
                        + (f"\nThe allocation at {r.where(racing)} is on another CPU within "
                           f"{abs(r.ts[racing] - r.ts[last_free])} ns of the free at {r.where(last_free)}: "
                           "per-CPU clocks may order them wrongly, so the address may have been "
                           "reallocated in between; this is a warning." if racing is not None else "")),
                severity="warning" if racing is not None else "",
            )
        o.events.append((i, "free"))
        o.live = False
        o.freed_by = how
        o.free_site = call_site

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
        self._reader(i, addr_key(ptr))

    def _reader(self, i: int, k: tuple | None) -> None:
        """Remember an RCU lookup of a known object inside an open read section (state_of)."""
        o = self.objs.get(k) if k is not None else None
        if o is None:
            return
        ctx = self.r.context(i)
        s = self.sections.get(ctx)
        if s and s[0] > 0:
            o.readers[ctx] = (s[1], i)

    def op_deref(self, i: int, ptr, func) -> None:
        k = addr_key(ptr)
        if k is None:
            return
        r = self.r
        self._reader(i, k)
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

    # -- history -----------------------------------------------------------------------------
    def state_of(self, obj: str) -> str | None:
        """An address: allocated / freed / reallocated, and the RCU read sections that looked it
        up and are still open; a task: its RCU read section. None when the model never saw it."""
        kind, v = query(obj)
        if kind == "task":
            return self._section_state(("task", int(v)))
        for k in addr_keys(obj):
            o = self.objs.get(k)
            if o is not None and o.events:
                return self._obj_state(o)
        return None

    def _section_state(self, ctx: tuple) -> str | None:
        s = self.sections.get(ctx)
        if s is None:
            return None
        if s[0] == 0:
            return "outside RCU read sections"
        nest = f", nested {s[0]} deep" if s[0] > 1 else ""
        return f"in an RCU read section since {self.r.where(s[1])}{nest}"

    def _obj_state(self, o: Obj) -> str:
        r = self.r
        row, what = o.events[-1]
        if what == "alloc":
            again = any(w == "free" for _, w in o.events)
            size = self._bytes(row)
            how = f"{r.event[row]} at {o.site or '?'}" + (f", {size} bytes" if size is not None else "")
            out = f"{'reallocated' if again else 'allocated'} ({how})"
        else:
            out = f"freed by {r.task(row)} ({r.event[row]} at {o.free_site or '?'})"
            if not any(w == "alloc" for _, w in o.events):
                out += ", never seen allocated"
        readers = [f"{r.context_name(c, j)} since {r.where(start)}"
                   for c, (start, j) in o.readers.items()
                   if (s := self.sections.get(c)) and s[0] > 0 and s[1] == start]
        if readers:
            out += "; looked up under RCU by " + ", ".join(readers)
        return out

    def _bytes(self, row: int) -> int | None:
        col = self._bytes_req
        if col is None:
            ev = self.r.table.events
            col = ev["bytes_req"].to_list() if "bytes_req" in ev.columns else [None] * len(ev)
            self._bytes_req = col
        return col[row]


def _site(call_site) -> str:
    """call_site without the offset (boot independent)."""
    s = str(call_site or "?")
    return s.split("+", 1)[0]
