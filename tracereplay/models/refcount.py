"""Reference counts with kref / refcount_t semantics (lib/refcount.c, include/linux/kref.h).

Objects are identified by (kind, object) as the mapped events print them; raw (0x...) and
hashed pointers are different namespaces. The count is known from the object's init event
(kref_init: 1) or from events that print the count after the operation; an object first seen
in the middle of its life is tracked relatively and judged only after its final put.
refcount_t saturates instead of wrapping: a get on 0 (REFCOUNT_ADD_UAF) and a put below 0
(REFCOUNT_SUB_UAF) warn "addition on 0; use-after-free" / "underflow; use-after-free".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..engine import Model, Replay
from .addresses import addr_key, norm_addr, query

_MAX_HISTORY = 12
# enum refcount_saturation_type (include/linux/refcount.h)
_SATURATION = {
    0: ("REF-ADD-ON-ZERO", "saturated; leaking memory (inc_not_zero overflow)"),
    1: ("REF-ADD-ON-ZERO", "saturated; leaking memory (overflow)"),
    2: ("REF-ADD-ON-ZERO", "addition on 0; use-after-free"),
    3: ("REF-UNDERFLOW", "underflow; use-after-free"),
    4: ("REF-UNDERFLOW", "decrement hit 0; leaking memory"),
}


@dataclass
class Ref:
    obj: str
    kind: str
    count: int | None = None  # None: not known (first seen mid-life)
    init: int | None = None
    final: int | None = None  # row of the final put / release
    history: list = field(default_factory=list)  # (row, note)
    reported: set = field(default_factory=set)


def _int(v) -> int | None:
    if v is None:
        return None
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    s = str(v).strip()
    try:
        return int(s, 16) if s.lower().startswith(("0x", "-0x")) else int(s, 10)
    except ValueError:
        return None


class RefcountModel(Model):
    name = "refcount"
    OPS = {
        "ref.init": ("obj", "kind"),
        "ref.get": ("obj", "kind"),
        "ref.put": ("obj", "kind"),
        "ref.get_count": ("obj", "kind", "count"),
        "ref.put_count": ("obj", "kind", "count"),
        "ref.release": ("obj", "kind"),
        "ref.use": ("obj", "kind"),
        "ref.saturate": ("obj", "type"),
    }

    def __init__(self, replay: Replay) -> None:
        super().__init__(replay)
        self.refs: dict[tuple, Ref] = {}
        self.by_addr: dict[str, list[Ref]] = {}  # address as history matches it -> refs, for state_of

    def _ref(self, obj, kind) -> Ref | None:
        k = addr_key(obj)
        if k is None:
            return None
        key = (str(kind), *k)
        ref = self.refs.get(key)
        if ref is None:
            ref = self.refs[key] = Ref(str(obj), str(kind))
            self.by_addr.setdefault(norm_addr(str(obj).strip()), []).append(ref)
        return ref

    def _note(self, ref: Ref, i: int, note: str) -> None:
        ref.history.append((i, note))
        if len(ref.history) > _MAX_HISTORY:
            keep = [h for h in ref.history if h[0] == ref.init][:1]
            ref.history = keep + ref.history[-(_MAX_HISTORY - len(keep)):]

    def _evidence(self, ref: Ref, i: int, note: str):
        r = self.r
        ev = [r.evidence(row, f"{ref.kind} {ref.obj}: {n}") for row, n in ref.history if row != i]
        ev.append(r.evidence(i, note))
        return ev

    def _dead(self, ref: Ref, i: int, rule: str, what: str, message: str) -> None:
        """An operation on an object after its final put."""
        self._note(ref, i, what)
        if rule in ref.reported:
            return
        ref.reported.add(rule)
        r = self.r
        r.emit(
            rule, i,
            f"{message}: {what} of {ref.kind} {ref.obj} after its final put",
            [ref.obj, ref.kind],
            self._evidence(ref, i, what + " after the final put"),
            key_objects=[ref.kind],
            detail=(f"refcount_t: {message}.\nThe last reference to {ref.kind} {ref.obj} was dropped at "
                    f"{r.where(ref.final)} by {r.task(ref.final)}; the object was released there. "
                    f"{r.task(i)} does {what} at {r.where(i)}: it used a pointer it held no reference "
                    "for, or a put elsewhere was one too many."),
        )

    # -- operations ------------------------------------------------------------------------
    def op_init(self, i: int, obj, kind) -> None:
        ref = self._ref(obj, kind)
        if ref is None:
            return
        ref.count, ref.init, ref.final = 1, i, None
        ref.history, ref.reported = [], set()
        self._note(ref, i, "init (count 1)")

    def op_get(self, i: int, obj, kind) -> None:
        ref = self._ref(obj, kind)
        if ref is None:
            return
        if ref.final is not None:
            self._dead(ref, i, "REF-ADD-ON-ZERO", "get", "addition on 0; use-after-free")
            return
        if ref.count is not None:
            ref.count += 1
        self._note(ref, i, "get" + (f" (count {ref.count})" if ref.count is not None else ""))

    def op_put(self, i: int, obj, kind) -> None:
        ref = self._ref(obj, kind)
        if ref is None:
            return
        if ref.final is not None:
            self._dead(ref, i, "REF-UNDERFLOW", "put", "underflow; use-after-free")
            return
        if ref.count is not None:
            ref.count -= 1
            if ref.count == 0:
                ref.final = i
                self._note(ref, i, "final put (count 0)")
                return
        self._note(ref, i, "put" + (f" (count {ref.count})" if ref.count is not None else ""))

    def op_get_count(self, i: int, obj, kind, count) -> None:
        ref = self._ref(obj, kind)
        n = _int(count)
        if ref is None:
            return
        if n is None:
            self.op_get(i, obj, kind)
            return
        if ref.final is not None or n <= 1:
            if ref.final is None:
                ref.final = ref.history[-1][0] if ref.history else i
            self._dead(ref, i, "REF-ADD-ON-ZERO", f"get (count {n} after)", "addition on 0; use-after-free")
            return
        ref.count = n
        self._note(ref, i, f"get (count {n})")

    def op_put_count(self, i: int, obj, kind, count) -> None:
        ref = self._ref(obj, kind)
        n = _int(count)
        if ref is None:
            return
        if n is None:
            self.op_put(i, obj, kind)
            return
        if ref.final is not None or n < 0:
            if ref.final is None:
                ref.final = ref.history[-1][0] if ref.history else i
            self._dead(ref, i, "REF-UNDERFLOW", f"put (count {n} after)", "underflow; use-after-free")
            return
        ref.count = n
        if n == 0:
            ref.final = i
            self._note(ref, i, "final put (count 0)")
        else:
            self._note(ref, i, f"put (count {n})")

    def op_release(self, i: int, obj, kind) -> None:
        ref = self._ref(obj, kind)
        if ref is None:
            return
        if ref.final is not None and ref.final != i:
            self._dead(ref, i, "REF-USE-AFTER-FREE", "release", "use-after-free")
            return
        ref.count, ref.final = 0, i
        self._note(ref, i, "released")

    def op_use(self, i: int, obj, kind) -> None:
        ref = self._ref(obj, kind)
        if ref is None:
            return
        if ref.final is not None:
            self._dead(ref, i, "REF-USE-AFTER-FREE", self.r.event[i], "use-after-free")
            return
        self._note(ref, i, self.r.event[i])

    def op_saturate(self, i: int, obj, type) -> None:  # noqa: A002 - the kprobe's argument name
        t = _int(type)
        rule, message = _SATURATION.get(t, ("REF-UNDERFLOW", "unknown saturation event!?"))
        r = self.r
        ref = self._ref(obj, "refcount_t")
        ev = self._evidence(ref, i, f"refcount_warn_saturate(type {t})") if ref else [r.evidence(i, "")]
        r.emit(
            rule, i,
            f"refcount_t: {message} ({obj})",
            [str(obj), "refcount_t"],
            ev,
            key_objects=["refcount_t", message],
            detail=(f"refcount_warn_saturate() ran at {r.where(i)} in {r.task(i)}: the kernel itself "
                    f"caught a refcount_t misuse (type {t}: \"refcount_t: {message}.\") and saturated "
                    "the counter, so the object now leaks instead of being freed twice. The "
                    "refcount_t address is not the object's address; the put or get that did it "
                    "is the caller of this event (see the WARN's stack in dmesg)."),
        )

    # -- history -----------------------------------------------------------------------------
    def state_of(self, obj: str) -> str | None:
        """An object's count and who last got or put it (per kind when several kinds share the
        address); None for an object no mapped event has named."""
        kind, v = query(obj)
        refs = [x for x in self.by_addr.get(v, ()) if x.history] if kind == "address" else []
        if not refs:
            return None
        if len(refs) == 1:
            return self._state(refs[0])
        return "; ".join(f"{x.kind}: {self._state(x)}" for x in refs)

    def _state(self, ref: Ref) -> str:
        r = self.r
        row, note = ref.history[-1]
        verb = note.split(" (", 1)[0]
        if ref.final is None:
            count = "unknown (first seen mid-life)" if ref.count is None else ref.count
            return f"refcount {count}, last {verb} by {r.task(row)}"
        f = ref.final
        how = "released" if (f, "released") in ref.history else "final put"
        out = f"refcount 0, {how} by {r.task(f)} at {r.where(f)}"
        if row != f:
            out += f", then {verb} by {r.task(row)}"
        return out

    def finish(self) -> None:
        r = self.r
        for ref in self.refs.values():
            if ref.init is None or ref.final is not None or not ref.count or ref.count <= 0:
                continue
            last = ref.history[-1][0]
            r.emit(
                "REF-LEAK-AT-END", last,
                f"{ref.kind} {ref.obj} still holds {ref.count} reference{'s' if ref.count > 1 else ''} "
                "at the end of the trace",
                [ref.obj, ref.kind],
                [r.evidence(row, f"{ref.kind} {ref.obj}: {n}") for row, n in ref.history],
                key_objects=[ref.kind],
                incomplete=None,
            )
