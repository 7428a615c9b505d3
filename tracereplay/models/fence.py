"""The dma_fence model: each fence's lifecycle init -> emit -> enable_signal -> signaled -> destroy.

Semantics follow drivers/dma-buf/dma-fence.c and include/linux/dma-fence.h:
- identity is (context, seqno) as the tracepoints print them (`%u`, the low 32 bits), never the
  driver/timeline names (≈6.17+ print "detached-driver"/"signaled-timeline" once signalled);
  operands given in hex (`0x...`, xe's `ctx=`) are read as hex and truncated the same way;
- every operation carries `src` (the event family): a driver's own fence events are a separate
  view of the same fences and never double-count the core dma_fence events;
- dma_fence_signaled is traced only by the call that set DMA_FENCE_FLAG_SIGNALED_BIT, so a
  second one for a live id means two live fences share the id or one was re-initialised;
- dma_fence_release() traces dma_fence_destroy, then WARNs "Fence %s:%s:%llx:%llx released with
  pending signals!" if callbacks are still queued on an unsignalled fence and signals it with
  -EDEADLK (so a dma_fence_signaled right after the destroy belongs to that path);
- dma_fence_is_later(): `(int)(lower_32_bits(f1) - lower_32_bits(f2)) > 0`.
Context 0 is never handed out by dma_fence_context_alloc() (the counter starts at 1); stub
fences (dma_fence_allocate_private_stub) and the dma-buf selftests' mock fences all use (0, 0),
so many fences legitimately share that id: it gets lifecycle tracking but no identity rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from ..engine import Group, Model, Replay, shared_list
from ..findings import Evidence
from .addresses import query


def u32(v) -> int | None:
    """An operand as the tracepoints print context/seqno: the low 32 bits."""
    if v is None:
        return None
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v & 0xFFFFFFFF
    s = str(v).strip()
    try:
        n = int(s, 16) if s.lower().startswith("0x") else int(s, 10)
    except ValueError:
        return None
    return n & 0xFFFFFFFF


def u32_list(s: pl.Series) -> list[int | None]:
    """``u32`` of each value: integers masked in one polars pass, anything else once per
    distinct value."""
    if s.dtype.is_integer():
        wide = pl.UInt64 if s.dtype.is_unsigned_integer() else pl.Int64
        return (s.cast(wide) & 0xFFFFFFFF).to_list()
    values = s.to_list()
    low = {v: u32(v) for v in set(values)}
    return list(map(low.__getitem__, values))


def _keys(context: pl.Series, seqno: pl.Series, src: list) -> list[tuple | None]:
    """``FenceModel._key`` of each row, without its bookkeeping of event families."""
    return [(s or "dma_fence", c, q) if c is not None and q is not None else None
            for c, q, s in zip(u32_list(context), u32_list(seqno), src, strict=True)]


def is_later(a: int, b: int) -> bool:
    """dma_fence_is_later() for 32-bit seqnos: wrap-safe."""
    d = (a - b) & 0xFFFFFFFF
    return 0 < d < 0x80000000


@dataclass
class Fence:
    key: tuple  # (src, context, seqno)
    init: int | None  # row of the init event (None: initialised before the trace)
    driver: str | None = None
    timeline: str | None = None
    reinit: int | None = None  # row of the REINIT-LIVE init that created this instance
    emit: int | None = None
    enable: int | None = None
    signaled: int | None = None
    destroyed: int | None = None
    waits: dict = field(default_factory=dict)  # pid -> row of wait_start
    release_unsignalled: bool = False  # destroyed unsignalled: a signal may follow (-EDEADLK)
    pending_reported: bool = False
    uaf_reported: bool = False

    @property
    def id(self) -> str:
        return f"{self.key[1]}:{self.key[2]}"


# operation kinds FenceModel.run handles inline in their common cases
_INIT, _EMIT, _SIGNALED, _DESTROY = object(), object(), object(), object()
_INLINE = {"fence.init": _INIT, "fence.emit": _EMIT, "fence.signaled": _SIGNALED, "fence.destroy": _DESTROY}


class FenceModel(Model):
    name = "fence"
    _K = ("context", "seqno", "src")
    OPS = {
        "fence.init": ("context", "seqno", "src", "driver", "timeline"),
        "fence.emit": _K,
        "fence.enable_signal": _K,
        "fence.signaled": _K,
        "fence.destroy": _K,
        "fence.wait_start": _K,
        "fence.wait_end": _K,
        "fence.use": _K,
        "fence.signal_call": _K,
    }

    def __init__(self, replay: Replay) -> None:
        super().__init__(replay)
        self.live: dict[tuple, list[Fence]] = {}
        self.dead: dict[tuple, Fence] = {}
        self.first_init: dict[tuple, tuple[int, int]] = {}  # (src, ctx) -> (row, seqno)
        self.max_signal: dict[tuple, tuple[int, int]] = {}  # (src, ctx) -> (seqno, row)
        self.order_reported: set[tuple] = set()
        self.uninit_reported: set[tuple] = set()
        self.all: list[Fence] = []
        self.candidates: list[Fence] = []  # destroyed unsignalled with signalling enabled
        self.srcs: list[str] = []  # event families seen, for state_of

    def run(self, groups: list[Group], order: list[int]) -> None:
        """The handlers' ``on_*`` halves over fence keys made before the loop: context and
        seqno reduced to 32 bits in one polars pass (or once per distinct value when the trace
        prints them as text), and the event families in order of first use, as ``_key`` records
        them."""
        handlers, nexts, first_use = [], [], []
        for g, (op, _, sub) in enumerate(groups):
            i = sub["_i"].to_list()
            keys = _keys(sub["context"], sub["seqno"], shared_list(sub["src"]))
            firsts: dict[str, int] = {}
            for row, k in zip(i, keys, strict=True):
                if k is not None and k[0] not in firsts:
                    firsts[k[0]] = row
            first_use += [(row, g, src) for src, row in firsts.items()]
            handlers.append(getattr(self, "on_" + op.split(".", 1)[1]))
            extra = [shared_list(sub[c]) for c in sub.columns[4:]]  # init: driver, timeline
            nexts.append(iter(zip(i, keys, *extra, strict=True)).__next__)
        for *_, src in sorted(first_use):
            if src not in self.srcs:
                self.srcs.append(src)
        # The common cases inline (as the on_* handlers do them): an init of an id not alive, an
        # emit of a live fence, the signal of the only live fence of an id (in seqno order), the
        # destroy of the only live fence of an id once signalled. Anything else: the handler.
        kinds = [_INLINE.get(op, h) for (op, _, _), h in zip(groups, handlers, strict=True)]
        live, dead, first_init, max_signal, fences = self.live, self.dead, self.first_init, self.max_signal, self.all
        for g in order:
            kind = kinds[g]
            if kind is _INIT:
                args = nexts[g]()
                key = args[1]
                if key is None or key in live:
                    handlers[g](*args)
                    continue
                i = args[0]
                f = Fence(key, i, args[2], args[3])
                fences.append(f)
                dead.pop(key, None)
                first_init.setdefault((key[0], key[1]), (i, key[2]))
                live[key] = [f]
            elif kind is _EMIT:
                i, key = nexts[g]()
                lst = live.get(key) if key else None
                if lst:
                    f = lst[0]
                    if f.emit is None:
                        f.emit = i
                else:
                    handlers[g](i, key)
            elif kind is _SIGNALED:
                i, key = nexts[g]()
                lst = live.get(key) if key else None
                if lst and len(lst) == 1 and lst[0].signaled is None:
                    f = lst[0]
                    f.signaled = i
                    src, ctx, seq = key
                    if ctx != 0:
                        c = (src, ctx)
                        last = max_signal.get(c)
                        if last is None or 0 < ((seq - last[0]) & 0xFFFFFFFF) < 0x80000000:
                            max_signal[c] = (seq, i)
                        else:
                            self._check_order(i, f)
                else:
                    handlers[g](i, key)
            elif kind is _DESTROY:
                i, key = nexts[g]()
                lst = live.get(key) if key else None
                if lst and len(lst) == 1 and lst[0].signaled is not None:
                    f = lst[0]
                    f.destroyed = i
                    del live[key]
                    dead[key] = f
                else:
                    handlers[g](i, key)
            else:
                kind(*nexts[g]())

    # -- helpers ---------------------------------------------------------------------------
    def _key(self, context, seqno, src) -> tuple | None:
        c, s = u32(context), u32(seqno)
        if c is None or s is None:
            return None
        src = src or "dma_fence"
        if src not in self.srcs:
            self.srcs.append(src)
        return (src, c, s)

    def _objects(self, f: Fence) -> list[str]:
        objs = [f.id]
        if f.driver is not None:
            objs.append(f"{f.driver}:{f.timeline}")
        return objs

    def _keys(self, f: Fence) -> list[str]:
        if f.driver is not None:
            return [f.driver, f.timeline or ""]
        return [f.key[0]]

    def _name(self, f: Fence) -> str:
        if f.driver is not None:
            return f"fence {f.id} ({f.driver}:{f.timeline})"
        return f"fence {f.id}"

    def _gap(self, j: int, i: int) -> str | None:
        return self.r.gap_between(j, i)

    def _history(self, f: Fence, i: int | None = None, note: str = "") -> list[Evidence]:
        r = self.r
        ev = []
        for row, what in ((f.init, "dma_fence_init"), (f.emit, "emitted"), (f.enable, "signalling enabled"),
                          (f.signaled, "signalled"), (f.destroyed, "destroyed")):
            if row is not None:
                ev.append((row, what))
        ev.sort()
        out = [r.evidence(row, f"{self._name(f)} {what}") for row, what in ev]
        if i is not None:
            out.append(r.evidence(i, note))
        return out

    def _lookup(self, i: int, key: tuple, what: str) -> Fence | None:
        """The live instance an event refers to; reports use after free and uninitialised use.

        Returns None when the event must not be applied (the fence is dead)."""
        lst = self.live.get(key)
        if lst:
            return lst[0]
        dead = self.dead.get(key)
        if dead is not None:
            self._use_after_free(i, dead, what)
            return None
        return self._phantom(i, key, what)

    def _phantom(self, i: int, key: tuple, what: str) -> Fence:
        """A fence first seen after its init: initialised before the trace, or never."""
        f = Fence(key, None)
        self.live[key] = [f]
        self.all.append(f)
        src, ctx, seq = key
        first = self.first_init.get((src, ctx))
        if ctx != 0 and first is not None and is_later(seq, first[1]) and key not in self.uninit_reported:
            self.uninit_reported.add(key)
            r = self.r
            j = first[0]
            gap = self._gap(j, i)
            r.emit(
                "FENCE-UNINIT", i,
                f"{what} of fence {f.id}, which was never initialised",
                [f.id],
                [r.evidence(j, f"context {ctx} initialises seqno {first[1]}: later seqnos are created inside the trace"),
                 r.evidence(i, what)],
                key_objects=[src, what],
                incomplete=gap,
                detail=(f"Context {ctx} initialised seqno {first[1]} at {r.where(j)}; seqno {seq} is later "
                        f"(dma_fence_is_later), so its dma_fence_init must lie between that event and "
                        f"{r.where(i)}, where the trace {'is incomplete: ' + gap if gap else 'is complete'}. "
                        "No dma_fence_init for it was traced: the fence memory was used without "
                        "dma_fence_init(), or the id was corrupted."),
            )
        return f

    def _use_after_free(self, i: int, f: Fence, what: str) -> None:
        if f.key[1] == 0 or f.uaf_reported:
            return
        f.uaf_reported = True
        r = self.r
        d = f.destroyed
        skew = r.order_uncertain(i, d)
        r.emit(
            "FENCE-USE-AFTER-FREE", i,
            f"{what} of {self._name(f)} after it was destroyed",
            self._objects(f),
            self._history(f, i, what + " after destroy"),
            key_objects=self._keys(f),
            detail=(f"dma_fence_release() ran for {self._name(f)} at {r.where(f.destroyed)} "
                    f"(dma_fence_destroy): its last reference was dropped and the memory freed "
                    f"(kfree_rcu or the driver's release). {r.task(i)} still uses it at {r.where(i)}: "
                    "a reference was put too often, or a pointer was used without holding one."
                    + (f"\nThe two events are on different CPUs {abs(r.ts[i] - r.ts[d])} ns apart: "
                       "per-CPU trace clocks may order them wrongly, so this is a warning."
                       if skew else "")),
            severity="warning" if skew else "",
        )

    def _pending_release(self, i: int, f: Fence, signal_row: int | None = None, proven: bool = True) -> None:
        """Proven: the kernel's WARN condition (callbacks queued) is visible in the trace, by an
        open wait or by the -EDEADLK signal dma_fence_release() sends; otherwise only signalling
        was enabled (dma_fence_enable_sw_signaling() needs no callback) and it is a warning."""
        if f.pending_reported or f.key[1] == 0:
            return
        f.pending_reported = True
        r = self.r
        why = []
        if f.enable is not None:
            why.append(f"signalling was enabled at {r.where(f.enable)}")
        for row in f.waits.values():
            why.append(f"{r.task(row)} was waiting since {r.where(row)}")
        if signal_row is not None:
            why.append(f"the kernel signalled it from the release path at {r.where(signal_row)} "
                       "(it does so only when callbacks were still queued)")
        ev = self._history(f)
        ev += [r.evidence(row, "wait_start without wait_end") for row in f.waits.values()]
        if signal_row is not None:
            ev.append(r.evidence(signal_row, "signalled with -EDEADLK by dma_fence_release()"))
        drv = f.driver if f.driver is not None else "?"
        tl = f.timeline if f.timeline is not None else "?"
        r.emit(
            "FENCE-PENDING-RELEASE", i,
            f"{self._name(f)} released with pending signals" if proven else
            f"{self._name(f)} released unsignalled with signalling enabled",
            self._objects(f),
            ev,
            key_objects=self._keys(f),
            detail=(f"Fence {drv}:{tl}:{f.key[1]:x}:{f.key[2]:x} released with pending signals!\n"
                    f"The last reference to the fence was dropped at {r.where(i)} before it was "
                    f"signalled, while {'; '.join(why)}. Whoever waits on it is only released by the "
                    "-EDEADLK signal dma_fence_release() forces."
                    + ("" if proven else
                       "\nThe kernel WARNs only when a callback is still queued; the trace shows "
                       "signalling enabled but no callback (dma_fence_enable_sw_signaling() adds "
                       "none), and no -EDEADLK signal followed the release, so this may be benign.")),
            severity="" if proven else "warning",
            extra={"proven": proven},
        )

    # -- operations ------------------------------------------------------------------------
    def op_init(self, i: int, context, seqno, src, driver, timeline) -> None:
        self.on_init(i, self._key(context, seqno, src), driver, timeline)

    def on_init(self, i: int, key: tuple | None, driver, timeline) -> None:
        if key is None:
            return
        r = self.r
        f = Fence(key, i, driver, timeline)
        self.all.append(f)
        self.dead.pop(key, None)
        self.first_init.setdefault((key[0], key[1]), (i, key[2]))
        lst = self.live.setdefault(key, [])
        if lst and key[1] != 0:
            old = lst[-1]
            f.reinit = i
            state = "signalled" if old.signaled is not None else "unsignalled"
            r.emit(
                "FENCE-REINIT-LIVE", i,
                f"fence {f.id} initialised again while still alive ({state})",
                self._objects(f),
                self._history(old, i, "dma_fence_init again"),
                key_objects=self._keys(f),
                detail=(f"{self._name(old)} was initialised at "
                        f"{r.where(old.init) if old.init is not None else 'before the trace'} and has "
                        f"not been destroyed; {r.task(i)} initialises (context {key[1]}, seqno {key[2]}) "
                        f"again at {r.where(i)}. Either live fence memory was re-initialised (its "
                        "refcount, callback list and flags are reset under its users) or two fences "
                        "were given the same id on one context, which breaks dma_fence_is_later() "
                        "and every (context, seqno) based deduplication (dma_resv, drm_sched)."),
            )
        lst.append(f)

    def op_emit(self, i: int, context, seqno, src) -> None:
        self.on_emit(i, self._key(context, seqno, src))

    def on_emit(self, i: int, key: tuple | None) -> None:
        f = self._lookup(i, key, "dma_fence_emit") if key else None
        if f is not None and f.emit is None:
            f.emit = i

    def op_enable_signal(self, i: int, context, seqno, src) -> None:
        self.on_enable_signal(i, self._key(context, seqno, src))

    def on_enable_signal(self, i: int, key: tuple | None) -> None:
        f = self._lookup(i, key, "dma_fence_enable_signal") if key else None
        if f is not None and f.enable is None:
            f.enable = i

    def op_use(self, i: int, context, seqno, src) -> None:
        self.on_use(i, self._key(context, seqno, src))

    def on_use(self, i: int, key: tuple | None) -> None:
        if key:
            self._lookup(i, key, self.r.event[i])

    def op_wait_start(self, i: int, context, seqno, src) -> None:
        self.on_wait_start(i, self._key(context, seqno, src))

    def on_wait_start(self, i: int, key: tuple | None) -> None:
        f = self._lookup(i, key, "dma_fence_wait_start") if key else None
        if f is not None:
            f.waits[self.r.pid[i]] = i

    def op_wait_end(self, i: int, context, seqno, src) -> None:
        self.on_wait_end(i, self._key(context, seqno, src))

    def on_wait_end(self, i: int, key: tuple | None) -> None:
        if not key:
            return
        lst = self.live.get(key)
        if lst:
            for f in lst:
                if f.waits.pop(self.r.pid[i], None) is not None:
                    return
            return
        self._lookup(i, key, "dma_fence_wait_end")

    def op_signaled(self, i: int, context, seqno, src) -> None:
        self.on_signaled(i, self._key(context, seqno, src))

    def on_signaled(self, i: int, key: tuple | None) -> None:
        if not key:
            return
        r = self.r
        lst = self.live.get(key)
        if not lst:
            dead = self.dead.get(key)
            if (dead is not None and dead.release_unsignalled and dead.signaled is None
                    and r.pid[dead.destroyed] == r.pid[i]):
                # dma_fence_release() signals a fence that still had callbacks (-EDEADLK)
                dead.signaled = i
                self._pending_release(dead.destroyed, dead, signal_row=i)
                return
            f = self._lookup(i, key, "dma_fence_signaled")
            if f is None:
                return
            lst = self.live[key]
        target = next((f for f in lst if f.signaled is None), None)
        done = next((f for f in lst if f.signaled is not None), None)
        if target is not None:
            target.signaled = i
            self._check_order(i, target)
        if done is None or key[1] == 0:
            return
        f = target or done
        reinit = next((x for x in lst if x.reinit is not None), None)
        short = "re-initialised while alive" if reinit is not None else "two live fences share the id"
        if reinit is not None:
            case = (f"the fence was re-initialised while alive at {r.where(reinit.reinit)} "
                    "(FENCE-REINIT-LIVE), which cleared DMA_FENCE_FLAG_SIGNALED_BIT")
        else:
            case = ("two live fences share (context, seqno): the other one was initialised before "
                    "the trace started, or without a traced dma_fence_init")
        r.emit(
            "FENCE-DOUBLE-SIGNAL", i,
            f"fence {f.id} signalled twice: {short}",
            self._objects(f),
            [r.evidence(done.signaled, f"{self._name(done)} signalled"), r.evidence(i, "signalled again")],
            key_objects=self._keys(f),
            detail=(f"dma_fence_signaled is traced only by the signal that sets "
                    f"DMA_FENCE_FLAG_SIGNALED_BIT, and (context {key[1]}, seqno {key[2]}) was already "
                    f"signalled at {r.where(done.signaled)}; the second one at {r.where(i)} means "
                    f"{case}."),
            extra={"case": "reinit" if reinit is not None else "shared-id"},
        )

    def op_signal_call(self, i: int, context, seqno, src) -> None:
        self.on_signal_call(i, self._key(context, seqno, src))

    def on_signal_call(self, i: int, key: tuple | None) -> None:
        if not key:
            return
        r = self.r
        lst = self.live.get(key)
        if not lst:
            if key in self.dead:
                self._use_after_free(i, self.dead[key], "dma_fence_signal()")
            return
        if any(f.signaled is None for f in lst) or key[1] == 0:
            return
        f = lst[-1]
        r.emit(
            "FENCE-DOUBLE-SIGNAL", i,
            f"fence {f.id} signalled twice: refused second dma_fence_signal()",
            self._objects(f),
            [r.evidence(f.signaled, f"{self._name(f)} signalled"), r.evidence(i, "dma_fence_signal() again")],
            severity="warning",
            key_objects=self._keys(f),
            detail=(f"{r.task(i)} calls dma_fence_signal() at {r.where(i)} on {self._name(f)}, "
                    f"which was signalled at {r.where(f.signaled)}. The kernel refuses it "
                    "(test_and_set_bit of DMA_FENCE_FLAG_SIGNALED_BIT; returns -EINVAL, no "
                    "dma_fence_signaled event): harmless to the fence, but the caller's idea of "
                    "who signals the fence is wrong (racing completion paths)."),
            extra={"case": "refused"},
        )

    def op_destroy(self, i: int, context, seqno, src) -> None:
        self.on_destroy(i, self._key(context, seqno, src))

    def on_destroy(self, i: int, key: tuple | None) -> None:
        if not key:
            return
        lst = self.live.get(key)
        if not lst:
            dead = self.dead.get(key)
            if dead is not None:
                self._use_after_free(i, dead, "dma_fence_destroy (second release)")
                return
            f = self._phantom(i, key, "dma_fence_destroy")
            lst = self.live[key]
        f = next((x for x in lst if x.signaled is not None), lst[0])
        lst.remove(f)
        f.destroyed = i
        if not lst:
            del self.live[key]
            self.dead[key] = f
        if f.signaled is None:
            if len(lst) == 0:
                f.release_unsignalled = True
            if f.waits:
                self._pending_release(i, f)
            elif f.enable is not None:
                self.candidates.append(f)  # decided by a release-path signal, or at the end

    # -- history -----------------------------------------------------------------------------
    def state_of(self, obj: str) -> str | None:
        """A fence ``context:seqno``: its lifecycle so far (initialised by, emitted, signalling
        enabled, waiters, signalled at, destroyed); None for a fence no event has named."""
        kind, v = query(obj)
        if kind != "fence":
            return None
        c, seq = (u32(x) for x in v.split(":"))
        views = []
        for src in self.srcs:
            key = (src, c, seq)
            lst = self.live.get(key)
            fences = lst if lst else [self.dead[key]] if key in self.dead else []
            if not fences:
                continue
            text = " | ".join(self._state(f) for f in fences)
            if len(fences) > 1:
                text = f"{len(fences)} live fences: {text}"
            views.append(text if src == "dma_fence" else f"{src}: {text}")
        return "; ".join(views) or None

    def _state(self, f: Fence) -> str:
        r = self.r
        parts = [f"initialised by {r.task(f.init)}" if f.init is not None else "initialised before the trace"]
        if f.emit is not None:
            parts.append("emitted")
        if f.enable is not None:
            parts.append("signalling enabled")
        if f.waits:
            parts.append("waited on by " + ", ".join(r.task(row) for row in f.waits.values()))
        if f.signaled is not None:
            parts.append(f"signalled at {r.where(f.signaled)}")
        if f.destroyed is not None:
            parts.append("destroyed")
        return ", ".join(parts)

    def _check_order(self, i: int, f: Fence) -> None:
        src, ctx, seq = f.key
        if ctx == 0:
            return
        c = (src, ctx)
        last = self.max_signal.get(c)
        if last is None or is_later(seq, last[0]):
            self.max_signal[c] = (seq, i)
            return
        if seq == last[0] or c in self.order_reported:
            return
        self.order_reported.add(c)
        r = self.r
        r.emit(
            "FENCE-SEQNO-ORDER", i,
            f"context {ctx} signals seqno {seq} after seqno {last[0]}",
            [f.id, f"{ctx}:{last[0]}"],
            [r.evidence(last[1], f"seqno {last[0]} signalled"), r.evidence(i, f"seqno {seq} signalled later")],
            key_objects=self._keys(f),
            detail=(f"On one context, signalling seqno N means every seqno before it is complete "
                    f"(dma_fence_is_later, 32-bit wrap-safe). Seqno {last[0]} was signalled at "
                    f"{r.where(last[1])} and the earlier seqno {seq} only at {r.where(i)}: waiters that "
                    "compare seqnos (dma_resv slot replacement, syncobj timelines) may have treated it "
                    "as complete too early. Reported once per context."),
        )

    def finish(self) -> None:
        r = self.r
        for f in self.candidates:
            self._pending_release(f.destroyed, f, proven=False)
        for f in self.all:
            if f.destroyed is not None:
                continue
            for row in f.waits.values():
                r.emit(
                    "FENCE-WAIT-UNFINISHED", row,
                    f"{r.task(row)} waits on {self._name(f)} at the end of the trace",
                    self._objects(f),
                    [r.evidence(row, "dma_fence_wait_start without dma_fence_wait_end")],
                    key_objects=self._keys(f),
                    incomplete=self._gap(row, len(r.line) - 1) if len(r.line) else None,
                )
            if f.emit is not None and f.signaled is None and f.key[1] != 0:
                r.emit(
                    "FENCE-NEVER-SIGNALLED", f.emit,
                    f"{self._name(f)} emitted but never signalled by the end of the trace",
                    self._objects(f),
                    self._history(f),
                    key_objects=self._keys(f),
                    incomplete=self._gap(f.emit, len(r.line) - 1) if len(r.line) else None,
                )
