"""The lock model: lockdep's checks, replayed over lock_acquire/lock_release, never switched off.

Semantics follow kernel/locking/lockdep.c: per-context held-lock stacks (an interrupt's locks
belong to the interrupt, not to the task it interrupted), a class dependency graph fed the way
check_prevs_add() feeds it, cycle search with the strong-path rule for read acquisitions, and
irq usage states from the irq-info flags.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from functools import lru_cache

import polars as pl

from ..engine import Group, Model, Replay, context_kind, shared_list
from ..findings import Evidence
from .addresses import norm_addr

# lockdep maps acquired with check=0 (rcu_lock_acquire and friends): lockdep never validates
# them, so they add no dependency and no irq usage.
_NO_CHECK_PREFIXES = ("rcu_read_lock", "rcu_callback", "rcu_lock")


@lru_cache(maxsize=4096)
def no_check(name: str) -> bool:
    return name.startswith(_NO_CHECK_PREFIXES) or "srcu" in name


@lru_cache(maxsize=4096)
def recursive_reader(name: str) -> bool:
    """Classes whose read side lockdep treats as recursive (read == 2).

    The trace prints `read` for read == 1 and read == 2 alike; these are the classes known to be
    recursive readers: RCU/SRCU maps and rwlock_t readers such as tasklist_lock.
    """
    return no_check(name) or name == "tasklist_lock" or name.endswith("rwlock")


# dma_resv_lockdep() (drivers/dma-buf/dma-resv.c) primes these orders at boot, so lockdep knows
# them before any driver runs; a trace needs only the reversed edge to close the cycle.
PRIMED_ORDER = [
    "&mm->mmap_lock",
    "reservation_ww_class_acquire",
    "reservation_ww_class_mutex",
    "fs_reclaim",
    "mmu_notifier_invalidate_range_start",
    "dma_fence_map",
]
PRIMED_NOTE = "primed at boot by dma_resv_lockdep(), drivers/dma-buf/dma-resv.c"


def instance_key(addr: str | None, name: str | None) -> str | None:
    """A lock instance: its lockdep_map address, or its class name when %p printed no address
    (None: a body that names neither, which the model cannot follow)."""
    if _usable(addr):
        return addr
    return None if name is None else "name:" + name


@lru_cache(maxsize=1 << 16)
def _usable(addr: str | None) -> bool:
    # Without an entropy source %p prints "(____ptrval____)" for every pointer.
    return bool(addr) and "ptrval" not in addr


# operation kinds of LockModel.run's loop
_ACQUIRE, _RELEASE = object(), object()


def _bools(s: pl.Series) -> list[bool]:
    """bool() of each operand (None -> False), as the handlers take read/trylock."""
    if s.dtype == pl.Boolean:
        return s.fill_null(False).to_list()
    return [bool(v) for v in s.to_list()]


def _checks(names: pl.Series) -> list[bool]:
    """Per row, whether lockdep validates the class (``not no_check(name)``), once per name."""
    if names.dtype in (pl.String, pl.Categorical) and not names.null_count():
        unchecked = [n for n in names.unique().cast(pl.String).to_list() if no_check(n)]
        return (~names.cast(pl.String).is_in(unchecked)).to_list()
    values = names.to_list()
    check = {n: n is not None and not no_check(n) for n in set(values)}  # no name: skipped anyway
    return list(map(check.__getitem__, values))


def _keys(sub: pl.DataFrame, addrs: list) -> list[str]:
    """``instance_key(addr, name)`` per row, in one vectorised pass over string operands
    (``addrs``: the addr operands as a list, the keys where every address is usable)."""
    addr, name = sub["addr"], sub["name"]
    if addr.dtype == pl.String and name.dtype in (pl.String, pl.Categorical):
        usable = addr.is_not_null() & (addr.str.len_bytes() > 0) & ~addr.str.contains("ptrval", literal=True)
        if usable.all():
            return addrs
        keys = sub.select(pl.when(usable).then(pl.col("addr"))
                          .otherwise(pl.lit("name:") + pl.col("name").cast(pl.String)))[:, 0]
        if not keys.null_count():
            return shared_list(keys)
    return list(map(instance_key, addr.to_list(), name.to_list()))


def _first_states(ev: pl.DataFrame, ix: pl.Series, sub: pl.DataFrame, trylock: list[bool], read: list[bool],
                  bh_known: bool) -> list[bool]:
    """Per acquisition (rows ``ix``), whether it is the first of the run's rows in its usage state
    ``(name, context kind, irqs off, bh off, read, trylock)`` (the key of ``LockModel.marked``)
    among those lockdep checks with irq flags known: the only ones ``_mark_state`` may mark."""
    name, trylock_s, read_s = sub["name"], sub["trylock"], sub["read"]
    if name.dtype not in (pl.String, pl.Categorical):
        name = name.cast(pl.String)
    names = name.cast(pl.Categorical).to_physical().cast(pl.Int64).fill_null(-1) + 1
    flags = pl.DataFrame([ev[c].gather(ix) for c in ("nmi", "hardirq", "softirq", "pid", "irqs_off")]
                         + [ev["bh_off"].gather(ix) if bh_known else pl.Series("bh_off", [None] * len(ix), pl.Boolean)])
    tri = {c: pl.when(pl.col(c).is_null()).then(0).when(pl.col(c)).then(2).otherwise(1) for c in ("irqs_off", "bh_off")}
    modes = [pl.lit(pl.Series(v, dtype=pl.Int64) if s.dtype != pl.Boolean else s.fill_null(False).cast(pl.Int64))
             for s, v in ((read_s, read), (trylock_s, trylock))]
    state = (((((pl.lit(names) * 5 + context_kind()) * 3 + tri["irqs_off"]) * 3 + tri["bh_off"]) * 2
              + modes[0]) * 2 + modes[1])
    return flags.select(state.is_first_distinct() & pl.col("irqs_off").is_not_null())[:, 0].to_list()


@dataclass(slots=True)
class Held:
    key: str  # instance identity: the lockdep_map address, or the name when addresses are unusable
    addr: str
    name: str
    read: bool
    trylock: bool
    idx: int  # row of the acquire event
    check: bool = True  # lockdep validates this class (not an rcu_lock_acquire-style map)


@dataclass(slots=True)
class Edge:
    """A -> B: B was acquired while A was held (as lockdep's check_prev_add records it)."""

    a: str
    b: str
    first_prev: int | None  # row of A's acquire (None for primed edges)
    first_next: int | None  # row of B's acquire
    prev_shared: bool  # every occurrence held A as a reader
    next_recursive: bool  # every occurrence took B as a recursive reader
    prev_addrs: set = field(default_factory=set)
    next_addrs: set = field(default_factory=set)
    primed: bool = False


# usage kinds, as lockdep names them
_IN = {"hardirq": "IN-HARDIRQ", "softirq": "IN-SOFTIRQ"}
_ON = {"hardirq": "HARDIRQ-ON", "softirq": "SOFTIRQ-ON"}


class LockModel(Model):
    name = "lock"
    OPS = {
        "lock.acquire": ("addr", "name", "trylock", "read"),
        "lock.release": ("addr", "name"),
        "lock.task_exit": (),
    }

    def __init__(self, replay: Replay) -> None:
        super().__init__(replay)
        self.held: dict[tuple, list[Held]] = {}
        # (context, instance key) -> row of the context's last release of it
        self.released: dict[tuple, int] = {}
        self.edges: dict[tuple[str, str], Edge] = {}
        self.out: dict[str, set[str]] = {}
        self.cycles_reported: set[frozenset] = set()
        self.same_class_reported: set[str] = set()
        self.usage: dict[str, dict[str, int]] = {}  # class -> usage string -> first row
        self.irq_reported: set[tuple] = set()
        self.marked: set[tuple] = set()
        self.edge_seen: set[tuple] = set()
        self.read_classes: set[str] = set()  # classes read-acquired somewhere (read or recursive?)  # (instance, mode) pairs already turned into edges  # (class, context kind, irqs off, bh off, read, try) seen
        self._known: dict[str, set] | None = None  # class name -> addresses, for state_of
        self._known_addrs: set[str] = set()
        ev = replay.table.events
        # softirq-enabled state is visible only where the flags print BH state (5.18+)
        self.bh_known = bool(ev["bh_off"].any()) if "bh_off" in ev.columns and len(ev) else False
        for a, b in zip(PRIMED_ORDER, PRIMED_ORDER[1:], strict=False):
            self._add_edge_raw(Edge(a, b, None, None, False, False, primed=True))

    # -- operations ------------------------------------------------------------------------
    def op_acquire(self, i: int, addr: str, name: str, trylock: bool, read: bool) -> None:
        if name is None:  # a lock event whose body did not parse: no class to follow
            return
        r = self.r
        ctx = r.contexts[i]
        stack = self.held.setdefault(ctx, [])
        key = instance_key(addr, name)
        h = Held(key, addr, name, bool(read), bool(trylock), i, not no_check(name))
        if h.check:
            if h.read:
                self.read_classes.add(name)
            self._check_recursion(i, ctx, stack, h)
            if not h.trylock:
                self._add_dependencies(i, ctx, stack, h)
            self._mark_usage(i, ctx, h)
        stack.append(h)

    def run(self, groups: list[Group], order: list[int]) -> None:
        """op_acquire and op_release in one loop over prepared operands (the instance key,
        whether lockdep checks the class, read/trylock as bools), for the common cases: an
        acquisition that meets no held lock of its instance or class and whose dependency on the
        lock below it is known, a release of the top of the stack. Anything else takes the same
        helpers as the handlers."""
        kinds, nexts = [], []
        r = self.r
        ev = r.table.events
        for op, _, sub in groups:
            if op == "lock.acquire":
                ix = sub["_i"]
                off = ev["irqs_off"].gather(ix).to_list()
                bh = ev["bh_off"].gather(ix).to_list() if self.bh_known else [None] * len(ix)
                trylock, read = _bools(sub["trylock"]), _bools(sub["read"])
                first = _first_states(ev, ix, sub, trylock, read, self.bh_known)
                addrs = shared_list(sub["addr"])
                kinds.append(_ACQUIRE)
                nexts.append(iter(zip(ix.to_list(), addrs, shared_list(sub["name"]),
                                      trylock, read, _keys(sub, addrs), _checks(sub["name"]), r.contexts_at(ix),
                                      off, bh, first, strict=True)).__next__)
            elif op == "lock.release":
                kinds.append(_RELEASE)
                addrs = shared_list(sub["addr"])
                nexts.append(iter(zip(sub["_i"].to_list(), addrs, shared_list(sub["name"]),
                                      _keys(sub, addrs), r.contexts_at(sub["_i"]), strict=True)).__next__)
            else:
                handler = self.handler(op)
                kinds.append(handler)
                nexts.append(iter(zip(*(sub[c].to_list() for c in sub.columns), strict=True)).__next__)
        held, released, edge_seen = self.held, self.released, self.edge_seen
        read_classes = self.read_classes
        for g in order:
            kind = kinds[g]
            if kind is _ACQUIRE:
                i, addr, name, trylock, read, key, check, ctx, off, bh, first = nexts[g]()
                if name is None:  # as op_acquire
                    continue
                stack = held.get(ctx)
                if stack is None:
                    stack = held[ctx] = []
                h = Held(key, addr, name, read, trylock, i, check)
                if check:
                    if read:
                        read_classes.add(name)
                    if stack and not trylock:
                        for x in stack:
                            if x.key == key or x.name == name:
                                self._check_recursion(i, ctx, stack, h)
                                break
                        top = stack[-1]
                        if (not top.check or top.trylock or top.name == name
                                or (top.key, top.name, top.read, key, name, read) not in edge_seen):
                            self._add_dependencies(i, ctx, stack, h)
                    if first:  # a state seen before is in marked: _mark_state would stop
                        self._mark_state(i, ctx, h, off, bh)
                stack.append(h)
            elif kind is _RELEASE:
                i, addr, name, key, ctx = nexts[g]()
                if name is None:
                    continue
                stack = held.get(ctx)
                if stack and stack[-1].key == key:
                    stack.pop()
                    released[(ctx, key)] = i
                else:
                    self._release_other(i, addr, name, ctx, key, stack)
            else:
                kind(*nexts[g]())

    def op_release(self, i: int, addr: str, name: str) -> None:
        if name is None:
            return
        ctx = self.r.contexts[i]
        key = instance_key(addr, name)
        stack = self.held.get(ctx)
        if stack and stack[-1].key == key:  # the usual, nested release
            stack.pop()
            self.released[(ctx, key)] = i
            return
        self._release_other(i, addr, name, ctx, key, stack)

    def _release_other(self, i: int, addr: str, name: str, ctx: tuple, key: str, stack: list[Held] | None) -> None:
        """A release of a lock that is not on top of the context's stack."""
        r = self.r
        if self._pop(stack, key):
            self.released[(ctx, key)] = i
            return
        # Old kernels set the softirq flag for BH-disabled task code too, and a lock may be
        # released after the task left the interrupt: look in the task's and this CPU's stacks.
        for other in (("task", r.pid[i]), ("idle", r.cpu[i]), ("softirq", r.cpu[i]),
                      ("hardirq", r.cpu[i]), ("nmi", r.cpu[i])):
            if other != ctx and self._pop(self.held.get(other), key):
                self.released[(other, key)] = i
                return
        # Held exclusively by another context: this context cannot hold it too. (A reader may
        # have taken it before the trace started, so shared holders prove nothing.)
        holder = next(((c, h) for c, s in self.held.items() for h in s if h.key == key and not h.read), None)
        if holder is not None:
            c, h = holder
            self.r.emit(
                "LOCK-BAD-UNLOCK", i,
                f"bad unlock balance: {r.context_name(ctx, i)} releases {name} held by "
                f"{r.context_name(c, h.idx)}",
                [name, addr],
                [r.evidence(h.idx, f"{name} acquired by {r.context_name(c, h.idx)}"), r.evidence(i, "release")],
                detail=f"{r.task(i)} is trying to release lock ({name}) at {r.where(i)}\n"
                       f"but there are no more locks to release!\n"
                       f"(the lock is held by {r.context_name(c, h.idx)} since {r.where(h.idx)})",
            )
        elif (ctx, key) in self.released:
            # this context took and released it in the trace, and releases it again
            last = self.released[(ctx, key)]
            self.r.emit(
                "LOCK-BAD-UNLOCK", i,
                f"bad unlock balance: {r.context_name(ctx, i)} releases {name} again",
                [name, addr],
                [r.evidence(last, f"{name} last released here"), r.evidence(i, "release again")],
                detail=f"{r.task(i)} is trying to release lock ({name}) at {r.where(i)}\n"
                       f"but there are no more locks to release!\n"
                       f"(last released at {r.where(last)} by {r.task(last)})",
            )
        # else: acquired before the trace started; nothing to judge

    def op_task_exit(self, i: int) -> None:
        r = self.r
        ctx = ("task", r.pid[i])
        stack = self.held.pop(ctx, [])
        if stack:
            names = [h.name for h in stack]
            listing = "\n".join(f" #{n}: {h.addr} ({h.name}), acquired at {r.where(h.idx)}"
                                for n, h in enumerate(stack))
            r.emit(
                "LOCK-HELD-AT-EXIT", i,
                f"{r.task(i)} exits with {len(stack)} lock{'s' if len(stack) > 1 else ''} held: {', '.join(names)}",
                names,
                [r.evidence(h.idx, f"{h.name} acquired") for h in stack],
                detail=f"{r.task(i)} still has locks held!\n{listing}",
            )

    def finish(self) -> None:
        r = self.r
        for ctx, stack in self.held.items():
            if not stack:
                continue
            last = stack[-1].idx
            r.emit(
                "LOCK-HELD-AT-END", last,
                f"{r.context_name(ctx, last)} still holds {', '.join(h.name for h in stack)} at the end of the trace",
                [h.name for h in stack],
                [r.evidence(h.idx, f"{h.name} acquired") for h in stack],
                incomplete=None,
            )
        self._check_irq_safe_unsafe()

    def state_of(self, obj: str) -> str | None:
        """Who holds a lock class (by name) or instance (by address) right now, or "free";
        None for an object no lock event of the trace names."""
        if self._known is None:
            ev = self.r.table.events
            rows = ev.filter(ev["event"].is_in(["lock_acquire", "lock_release", "lock_contended",
                                                 "lock_acquired"])).select("addr", "name").unique()
            self._known = {}
            for addr, name in rows.iter_rows():
                if name is not None:
                    self._known.setdefault(name, set()).add(addr)
            self._known_addrs = {norm_addr(a) for a in rows["addr"].to_list() if _usable(a)}
        want = norm_addr(obj)
        is_class = obj in self._known
        if not is_class and (not want or want not in self._known_addrs):
            return None
        show_addr = is_class and len(self._known[obj]) > 1
        holders = []
        for ctx, stack in self.held.items():
            for h in stack:
                if (h.name == obj) if is_class else (norm_addr(h.addr) == want):
                    who = self.r.context_name(ctx, h.idx) + (" (read)" if h.read else "")
                    holders.append(f"{who} [{h.addr}]" if show_addr else who)
        return "held by " + ", ".join(holders) if holders else "free"

    # -- helpers ---------------------------------------------------------------------------
    @staticmethod
    def _pop(stack: list[Held] | None, key: str) -> bool:
        if not stack:
            return False
        for j in range(len(stack) - 1, -1, -1):
            if stack[j].key == key:
                del stack[j]
                return True
        return False

    def _check_recursion(self, i: int, ctx: tuple, stack: list[Held], h: Held) -> None:
        if h.trylock:
            return  # a trylock that succeeded cannot have deadlocked
        r = self.r
        same = same_cls = None
        for x in reversed(stack):  # held stacks are short: one pass finds both
            if x.key == h.key:
                same = x
                break
            if same_cls is None and x.name == h.name:
                same_cls = x
        if same is not None:
            if h.read and same.read and recursive_reader(h.name):
                return
            both_read = h.read and same.read
            blind = h.key.startswith("name:")  # %p printed "(____ptrval____)": instances unknown
            r.emit(
                "LOCK-RECURSIVE", i,
                f"possible recursive locking: {r.context_name(ctx, i)} takes {h.name} again while holding it",
                [h.name, h.addr],
                [r.evidence(same.idx, "first acquisition"), r.evidence(i, "second acquisition")],
                severity="warning" if both_read or blind else "",
                detail=_recursive_detail(r, i, same, h, both_read) + (
                    "\nthe trace prints no lock addresses ((____ptrval____): no entropy for %p hashing "
                    "at boot), so the two may be different instances of the class; a warning.\n"
                    if blind else ""),
            )
            return
        if same_cls is None or (h.read and same_cls.read) or h.name in self.same_class_reported:
            return
        if h.name.endswith("_mutex") and any(x.name == h.name[: -len("_mutex")] + "_acquire" for x in stack):
            return  # ww_mutex under its acquire context: nest_lock
        self.same_class_reported.add(h.name)
        r.emit(
            "LOCK-SAME-CLASS", i,
            f"{r.context_name(ctx, i)} takes a second {h.name} ({h.addr}) while holding {same_cls.addr}",
            [h.name],
            [r.evidence(same_cls.idx, f"{h.name} {same_cls.addr} acquired"), r.evidence(i, f"{h.name} {h.addr} acquired")],
            detail="If this nesting is annotated (mutex_lock_nested/spin_lock_nested subclass, or a "
                   "nest_lock), lockdep accepts it; subclasses do not reach the trace.",
        )

    def _add_dependencies(self, i: int, ctx: tuple, stack: list[Held], h: Held) -> None:
        # check_prevs_add(): edges from the held locks down to and including the most recent
        # non-trylock one; older locks are connected through it already.
        for prev in reversed(stack):
            if not prev.check:
                continue
            if prev.name != h.name:
                self._add_edge(prev, h, i)
            if not prev.trylock:
                break

    def _add_edge(self, prev: Held, nxt: Held, i: int) -> None:
        # the same two instances in the same modes again change nothing (most acquisitions)
        sig = (prev.key, prev.name, prev.read, nxt.key, nxt.name, nxt.read)
        if sig in self.edge_seen:
            return
        self.edge_seen.add(sig)
        k = (prev.name, nxt.name)
        rec = nxt.read and recursive_reader(nxt.name)
        e = self.edges.get(k)
        if e is not None:
            e.prev_shared = e.prev_shared and prev.read
            e.next_recursive = e.next_recursive and rec
            e.prev_addrs.add(prev.key)
            e.next_addrs.add(nxt.key)
            if e.primed and e.first_next is None:
                e.first_prev, e.first_next = prev.idx, i
            return
        e = Edge(prev.name, nxt.name, prev.idx, i, prev.read, rec, {prev.key}, {nxt.key})
        self._add_edge_raw(e)
        self._check_cycle(e, i)

    def _add_edge_raw(self, e: Edge) -> None:
        self.edges[(e.a, e.b)] = e
        self.out.setdefault(e.a, set()).add(e.b)

    def _check_cycle(self, new: Edge, i: int) -> None:
        """Is there a strong path new.b -> ... -> new.a? Then new closes a cycle."""
        start = (new.b, new.next_recursive)
        parent: dict[tuple, tuple | None] = {start: None}
        q = deque([start])
        goal = None
        while q:
            node, entered_rec = q.popleft()
            if node == new.a and not (entered_rec and new.prev_shared):
                goal = (node, entered_rec)
                break
            for nb in self.out.get(node, ()):
                e = self.edges[(node, nb)]
                if entered_rec and e.prev_shared:
                    continue  # -(*R)-> X -(S*)-> is not a strong path
                st = (nb, e.next_recursive)
                if st not in parent:
                    parent[st] = (node, entered_rec)
                    q.append(st)
        if goal is None:
            return
        path = []  # classes from new.b to new.a
        st: tuple | None = goal
        while st is not None:
            path.append(st[0])
            st = parent[st]
        path.reverse()
        classes = frozenset(path)
        if classes in self.cycles_reported:
            return
        chain = [self.edges[(a, b)] for a, b in zip(path, path[1:], strict=False)]
        cycle_edges = chain + [new]
        # static locks (no '&' in the name) have one instance per class: two addresses under one
        # name are two classes. Dynamic classes share a name across instances by design.
        uncertain = []
        for e_in, e_out in zip(cycle_edges, cycle_edges[1:] + cycle_edges[:1], strict=False):
            if e_in.primed or e_out.primed:
                continue
            if not (e_in.next_addrs & e_out.prev_addrs):
                if not e_in.b.startswith("&"):
                    return  # two different static locks that share a name: not a cycle
                uncertain.append(e_in.b)
        self.cycles_reported.add(classes)
        self._report_cycle(new, path, chain, uncertain, i)

    def _report_cycle(self, new: Edge, path: list[str], chain: list[Edge], uncertain: list[str], i: int) -> None:
        r = self.r
        held_cls, new_cls = new.a, new.b
        order = [new_cls] + path[1:]  # new lock ... held lock: the existing chain
        evidence: list[Evidence] = []
        lines = []
        for e in chain + [new]:
            if e.primed and e.first_next is None:
                lines.append(f"  {e.a} --> {e.b}: {PRIMED_NOTE}")
                continue
            evidence.append(r.evidence(e.first_prev, f"{e.a} acquired"))
            evidence.append(r.evidence(e.first_next, f"{e.b} acquired while holding {e.a}"))
            lines.append(f"  {e.a} --> {e.b}: {r.task(e.first_next)} at {r.where(e.first_prev)} -> {r.where(e.first_next)}")
        cyc = " --> ".join(order + [new_cls])
        parent = path[-2] if len(path) >= 2 else new_cls
        scenario = _scenario(new_cls, parent, held_cls)
        note = ""
        if uncertain:
            note = (f"\nclass identity uncertain: the cycle joins at {', '.join(sorted(set(uncertain)))} "
                    "only through different instances; classes that share a name print the same "
                    "name in the trace (lockdep's #N suffix is not traced).\n")
        ambiguous = sorted(c for c in set(order) if c in self.read_classes and not recursive_reader(c))
        if ambiguous:
            note += (f"\nread acquisitions of {', '.join(ambiguous)}: the trace prints `read` for "
                     "read and recursive-read alike; treated as non-recursive readers (rwsem-like), "
                     "which a queued writer can block. If they are recursive readers (rwlock_t), a "
                     "reader-only path through them does not deadlock.\n")
        ctx = r.context(i)
        detail = (
            f"{r.context_name(ctx, i)} is trying to acquire lock:\n  {new_cls} at {r.where(i)}\n"
            f"but task is already holding lock:\n  {held_cls} at {r.where(new.first_prev)}\n"
            f"which lock already depends on the new lock.\n\n"
            f"the dependency chain is:\n" + "\n".join(lines) + "\n" + note +
            ("\nChain exists of:\n  " + " --> ".join(order) + "\n" if len(path) > 2 else "") +
            "\n" + scenario
        )
        r.emit(
            "LOCK-CYCLE", i,
            f"possible circular locking dependency: {cyc}",
            order,
            evidence,
            severity="warning" if uncertain else "",
            detail=detail,
            key_objects=sorted(set(order)),
            extra={"cycle": order, "uncertain": sorted(set(uncertain)), "read_ambiguous": ambiguous},
        )

    def _mark_usage(self, i: int, ctx: tuple, h: Held) -> None:
        r = self.r
        self._mark_state(i, ctx, h, r.irqs_off[i], r.bh_off[i] if self.bh_known else None)

    def _mark_state(self, i: int, ctx: tuple, h: Held, irqs_off: bool | None, bh_off: bool | None) -> None:
        """_mark_usage with the event's irqs-off and (when the trace shows it) BH-off flags."""
        if irqs_off is None:
            return  # no irq-info column: contexts unknown
        # the same class in the same state marks nothing new: most acquisitions stop here
        state = (h.name, ctx[0], irqs_off, bh_off, h.read, h.trylock)
        if state in self.marked:
            return
        self.marked.add(state)
        rw = "R" if h.read else "W"
        marks = []
        if ctx[0] in _IN:
            # mark_usage(): only a non-trylock acquisition makes a class irq-safe
            if not h.trylock:
                marks.append(f"{_IN[ctx[0]]}-{rw}")
            if ctx[0] == "softirq" and not irqs_off:
                marks.append(f"HARDIRQ-ON-{rw}")
        elif ctx[0] != "nmi":
            if not irqs_off:
                marks.append(f"HARDIRQ-ON-{rw}")
                if self.bh_known and not bh_off:
                    marks.append(f"SOFTIRQ-ON-{rw}")
        u = self.usage.setdefault(h.name, {})
        for m in marks:
            if m in u:
                continue
            u[m] = i
            self._check_usage_conflict(i, h, m, u)

    def _check_usage_conflict(self, i: int, h: Held, mark: str, u: dict[str, int]) -> None:
        kind, _, rw = mark.rpartition("-")
        irq = "hardirq" if "HARDIRQ" in kind else "softirq"
        opposite = _ON[irq] if kind.startswith("IN-") else _IN[irq]
        # read in irq + read with irqs on is fine; any write on either side conflicts
        conflicting = [f"{opposite}-W"] + ([f"{opposite}-R"] if rw == "W" else [])
        other = next((m for m in conflicting if m in u), None)
        if other is None or (h.name, irq) in self.irq_reported:
            return
        self.irq_reported.add((h.name, irq))
        r = self.r
        j = u[other]
        prev_mark, new_mark = other, mark
        self.r.emit(
            "LOCK-IRQ-STATE", i,
            f"inconsistent lock state: {h.name} {{{prev_mark}}} -> {{{new_mark}}}",
            [h.name],
            [r.evidence(j, f"{{{prev_mark}}} state registered"), r.evidence(i, f"{{{new_mark}}}")],
            detail=(
                f"inconsistent {{{prev_mark}}} -> {{{new_mark}}} usage.\n"
                f"{r.task(i)} takes {h.name} at {r.where(i)}\n"
                f"{{{prev_mark}}} state was registered at {r.where(j)} by {r.task(j)}\n\n"
                f"Possible unsafe locking scenario:\n\n       CPU0\n       ----\n  lock({h.name});\n"
                f"  <Interrupt>\n    lock({h.name});\n\n *** DEADLOCK ***\n"
            ),
        )

    def _check_irq_safe_unsafe(self) -> None:
        r = self.r
        for irq in ("hardirq", "softirq"):
            safe = [c for c, u in self.usage.items() if f"{_IN[irq]}-W" in u or f"{_IN[irq]}-R" in u]
            for a in sorted(safe):
                parent: dict[str, str | None] = {a: None}
                q = deque([a])
                while q:
                    node = q.popleft()
                    for nb in sorted(self.out.get(node, ())):
                        if nb in parent:
                            continue
                        parent[nb] = node
                        q.append(nb)
                        u = self.usage.get(nb, {})
                        if f"{_ON[irq]}-W" not in u or (a, nb, irq) in self.irq_reported:
                            continue
                        if f"{_IN[irq]}-W" in u or f"{_IN[irq]}-R" in u:
                            continue  # nb is itself irq-safe: reported as LOCK-IRQ-STATE
                        self.irq_reported.add((a, nb, irq))
                        path = [nb]
                        while parent[path[-1]] is not None:
                            path.append(parent[path[-1]])
                        path.reverse()
                        edges = [self.edges[(x, y)] for x, y in zip(path, path[1:], strict=False)]
                        ev = [r.evidence(self.usage[a].get(f"{_IN[irq]}-W", self.usage[a].get(f"{_IN[irq]}-R")),
                                         f"{a} became {irq}-safe"),
                              r.evidence(u[f"{_ON[irq]}-W"], f"{nb} became {irq}-unsafe")]
                        ev += [r.evidence(e.first_next, f"{e.b} acquired while holding {e.a}")
                               for e in edges if e.first_next is not None]
                        last = edges[-1].first_next if edges[-1].first_next is not None else u[f"{_ON[irq]}-W"]
                        up = irq.upper()
                        r.emit(
                            "LOCK-IRQ-SAFE-UNSAFE", last,
                            f"{up}-safe -> {up}-unsafe lock order: {' --> '.join(path)}",
                            path, ev,
                            key_objects=[a, nb, irq],
                            detail=(
                                f"{a} is {irq}-safe (taken in {irq} context) and {nb} is {irq}-unsafe "
                                f"(taken with {irq}s enabled), but {a} is held while {nb} is acquired:\n"
                                f"  {' --> '.join(path)}\n\nPossible interrupt unsafe locking scenario:\n\n"
                                f"       CPU0                    CPU1\n       ----                    ----\n"
                                f"  lock({nb});\n{'':31}local_irq_disable();\n{'':31}lock({a});\n"
                                f"{'':31}lock({nb});\n  <Interrupt>\n    lock({a});\n\n *** DEADLOCK ***\n"
                            ),
                        )


def _recursive_detail(r: Replay, i: int, first: Held, again: Held, both_read: bool) -> str:
    s = (f"{r.task(i)} is trying to acquire lock:\n  {again.addr} ({again.name}) at {r.where(i)}\n\n"
         f"but task is already holding lock:\n  {first.addr} ({first.name}) at {r.where(first.idx)}\n\n"
         f"Possible unsafe locking scenario:\n\n       CPU0\n       ----\n"
         f"  {'r' if first.read else ''}lock({first.name});\n  {'r' if again.read else ''}lock({again.name});\n\n"
         f" *** DEADLOCK ***\n")
    if both_read:
        s += ("\nboth acquisitions are reads: a deadlock if the class is a non-recursive reader "
              "(rwsem) and a writer queues in between; harmless for a recursive reader (rwlock_t).\n")
    return s


def _scenario(source: str, parent: str, target: str) -> str:
    """lockdep's print_circular_lock_scenario(): source = the lock being acquired, target =
    the lock held, parent = the class just before target in the existing chain."""
    pad = " " * 31
    return (
        " Possible unsafe locking scenario:\n\n"
        "       CPU0                    CPU1\n"
        "       ----                    ----\n"
        f"  lock({target});\n"
        f"{pad}lock({parent});\n"
        f"{pad}lock({target});\n"
        f"  lock({source});\n\n"
        " *** DEADLOCK ***\n"
    )
