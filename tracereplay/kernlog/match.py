"""Tie the reports a kernel printed (dmesg) to the findings of a trace replay.

Used by ``tracereplay check --dmesg LOG TRACE``.  Each report is paired with the finding that
explains it: the finding's rule must be one the report's kind corresponds to (``KIND_RULES``)
and, for lockdep reports, the finding must name the same lock classes (kernel class names
without their ``#N`` version and ``/subclass`` suffix, compared with the class names ftrace's
``lock_acquire`` prints); KASAN reports pair by the accessed address where the trace has raw
addresses.  Reports that no finding explains are listed, and so are the findings the kernel
never printed: lockdep turns itself off after its first report (``debug_locks_off()``), so a
trace replay routinely finds more than the log shows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..findings import Finding
from . import classes
from .reports import Report, split_name

# report kind -> rules (exact ids, or family prefixes ending in "-") that can explain it
KIND_RULES: dict[str, tuple[str, ...]] = {
    "circular_locking": ("LOCK-CYCLE",),
    "recursive_locking": ("LOCK-RECURSIVE", "LOCK-SAME-CLASS"),
    "inconsistent_lock_state": ("LOCK-IRQ-STATE",),
    "bad_unlock_balance": ("LOCK-BAD-UNLOCK",),
    "safe_to_unsafe": ("LOCK-IRQ-SAFE-UNSAFE", "LOCK-IRQ-STATE"),
    "irq_lock_inversion": ("LOCK-IRQ-SAFE-UNSAFE", "LOCK-IRQ-STATE"),
    "locks_held_at_exit": ("LOCK-HELD-AT-EXIT",),
    "refcount": ("REF-", "FENCE-"),
    "fence_pending_signals": ("FENCE-PENDING-RELEASE",),
    "kasan": ("SLAB-", "FENCE-USE-AFTER-FREE", "RCU-RECYCLED-OBJECT", "GPUVM-"),
}

# kinds lockdep prints (after the first of them, lockdep stops checking)
LOCKDEP_KINDS = frozenset({
    "circular_locking", "recursive_locking", "inconsistent_lock_state", "irq_lock_inversion",
    "safe_to_unsafe", "bad_unlock_balance", "held_lock_freed", "locks_held_at_exit",
    "lock_held_returning_to_user", "suspicious_rcu_usage", "invalid_wait_context",
    "nested_lock_not_taken", "lockdep_capacity", "lockdep_non_static_key", "lockdep_warn"})

# rules about the trace window itself, which no kernel check mirrors
KERNEL_SILENT = frozenset({"LOCK-HELD-AT-END"})

# kinds whose pairing is by lock classes
_CLASS_KINDS = frozenset({
    "circular_locking", "recursive_locking", "inconsistent_lock_state", "bad_unlock_balance",
    "safe_to_unsafe", "irq_lock_inversion", "locks_held_at_exit"})

_HEX = re.compile(r"(?:0x)?([0-9a-fA-F]{8,16})")
_RAW_ADDR = re.compile(r"\b(?:0x([0-9a-fA-F]{6,16})|(ffff[0-9a-f]{12}))\b")
_CLASS_SUFFIX = re.compile(r"(?:#\d+)?(?:/\d+)?$")


def class_name(name: str) -> str:
    """A lock class name without lockdep's ``#N`` version and ``/subclass``."""
    base, _version, _subclass = split_name(name)
    return _CLASS_SUFFIX.sub("", base) or name


def rule_matches(rule: str, patterns: tuple[str, ...]) -> bool:
    """Whether ``rule`` is one of ``patterns`` (ids, or family prefixes ending in ``-``)."""
    return any(rule.startswith(p) if p.endswith("-") else rule == p for p in patterns)


def report_classes(rep: Report) -> list[str]:
    """The lock classes a lockdep report is about, in report order (first seen first)."""
    names: list[str] = []
    if rep.kind == "circular_locking" and rep.lock_chain:
        names = [e["name"] for e in rep.lock_chain]
    elif rep.kind == "bad_unlock_balance" and rep.releasing:
        names = [rep.releasing["name"]]
    elif rep.kind in ("recursive_locking", "inconsistent_lock_state") and rep.acquiring:
        names = [rep.acquiring["name"]]
    elif rep.kind == "locks_held_at_exit" and rep.held_locks:
        names = [h["name"] for h in rep.held_locks]
    else:
        names = classes(rep)
    out: list[str] = []
    for n in names:
        c = class_name(n)
        if c not in out:
            out.append(c)
    return out


def finding_classes(f: Finding) -> list[str]:
    """Lock class names among a finding's objects (raw addresses left out)."""
    out: list[str] = []
    for o in f.objects:
        if _HEX.fullmatch(o):
            continue
        c = class_name(o)
        if c not in out:
            out.append(c)
    return out


def _hex(v: str | None) -> int | None:
    if not v:
        return None
    try:
        return int(v, 16)
    except ValueError:
        return None


def _raw_addresses(f: Finding) -> set[int]:
    """Raw kernel addresses among a finding's objects (``0x...`` or ``ffff...``); hashed %p
    pointers are another namespace and never compare with KASAN's addresses."""
    out: set[int] = set()
    for o in f.objects:
        for m in _RAW_ADDR.finditer(o):
            out.add(int(m.group(1) or m.group(2), 16))
    return out


@dataclass
class Pair:
    """A report and the finding that explains it."""

    report: Report
    finding: Finding
    reason: str


@dataclass
class Unexplained:
    """A report no finding of the trace explains."""

    report: Report
    reason: str


@dataclass
class Beyond:
    """A finding the kernel never printed."""

    finding: Finding
    reason: str


@dataclass
class MatchResult:
    """The outcome of :func:`match_reports`."""

    pairs: list[Pair] = field(default_factory=list)
    unexplained: list[Unexplained] = field(default_factory=list)
    beyond: list[Beyond] = field(default_factory=list)

    @property
    def unexplained_reports(self) -> list[Report]:
        return [u.report for u in self.unexplained]

    @property
    def beyond_findings(self) -> list[Finding]:
        return [b.finding for b in self.beyond]


def _score(rep: Report, f: Finding, rep_classes: list[str]) -> tuple[float, str] | None:
    """How well ``f`` explains ``rep`` (higher is better) and why; None when it does not."""
    if rep.kind in _CLASS_KINDS:
        got = finding_classes(f)
        if not rep_classes or not got:
            return None
        want_set, got_set = set(rep_classes), set(got)
        common = want_set & got_set
        if not common:
            return None
        if rep.kind == "circular_locking":
            # the cycle must be the same one: lockdep's chain and the replay's cycle
            if want_set != got_set:
                return None
            return 2.0, "same lock cycle: " + " -> ".join(rep_classes)
        if rep.kind == "locks_held_at_exit":
            if not want_set <= got_set:
                return None
            return 1.0 + len(common) / len(want_set | got_set), "same held locks: " + ", ".join(
                c for c in rep_classes if c in common)
        if rep.kind in ("recursive_locking", "inconsistent_lock_state", "bad_unlock_balance"):
            if rep_classes[0] not in got_set:
                return None
            return 1.0 + 1.0 / len(got_set), f"same lock class: {rep_classes[0]}"
        return len(common) / len(want_set | got_set), "same lock classes: " + ", ".join(
            c for c in rep_classes if c in common)
    if rep.kind == "kasan":
        k = rep.kasan or {}
        have = _raw_addresses(f)
        if not have:
            return None
        for key, what in (("addr", "same address"), ("object", "same object")):
            v = _hex(k.get(key))
            if v is not None and v in have:
                return 2.0, f"{what}: {k[key]}"
        a, base, size = _hex(k.get("addr")), _hex(k.get("object")), k.get("object_size")
        if a is not None and base is not None and size and base in have and base <= a < base + size:
            return 1.5, f"address {k['addr']} inside the object at {k['object']}"
        return None
    # refcount / fence: no identity in the report; the call chain names the user
    text = " ".join([*f.objects, f.title, f.detail])
    hits = [fr for fr in rep.frames if fr and re.search(rf"\b{re.escape(fr)}\b", text)]
    if hits:
        return 1.0, f"finding mentions {hits[0]}, a frame of the report"
    return 0.1, "the only finding of a matching rule"


def _ts_gap(rep: Report, f: Finding) -> float:
    if rep.timestamp is None or f.ts_ns is None:
        return float("inf")
    return abs(rep.timestamp - f.ts_ns / 1e9)


def match_reports(reports: list[Report], findings: list[Finding]) -> MatchResult:
    """Pair each report with the finding that explains it; list the rest on both sides.

    A finding explains at most one report unless several reports are the same bug printed again
    (same kind and classes), which then share it.  Ties break by rule order in ``KIND_RULES``,
    then by the closest timestamp, then by trace order.
    """
    res = MatchResult()
    used: dict[int, Pair] = {}
    for rep in reports:
        patterns = KIND_RULES.get(rep.kind)
        if patterns is None:
            res.unexplained.append(Unexplained(rep, f"no trace rule corresponds to a {rep.kind} "
                                                    "report"))
            continue
        rep_classes = report_classes(rep) if rep.kind in _CLASS_KINDS else []
        cands: list[tuple[tuple, Finding, str]] = []
        for idx, f in enumerate(findings):
            if not rule_matches(f.rule, patterns):
                continue
            sc = _score(rep, f, rep_classes)
            if sc is None:
                continue
            order = next(k for k, p in enumerate(patterns) if rule_matches(f.rule, (p,)))
            fresh = id(f) not in used
            cands.append(((not fresh, -sc[0], order, _ts_gap(rep, f), idx), f, sc[1]))
        if rep.kind not in _CLASS_KINDS and rep.kind != "kasan":
            # without identities a guess is only safe when it is the only candidate
            strong = [c for c in cands if c[2] != "the only finding of a matching rule"]
            if not strong and len([c for c in cands if not c[0][0]]) != 1:
                cands = []
        if not cands:
            what = ", ".join(rep_classes) if rep_classes else rep.kind
            rules = "/".join(patterns)
            res.unexplained.append(Unexplained(
                rep, f"no {rules} finding in the trace matches ({what})"))
            continue
        key, f, why = min(cands, key=lambda c: c[0])
        pair = Pair(rep, f, why)
        used.setdefault(id(f), pair)
        res.pairs.append(pair)
    first_lockdep = next((r for r in reports if r.kind in LOCKDEP_KINDS), None)
    for f in findings:
        if id(f) in used:
            continue
        lockdep_rule = f.rule.startswith("LOCK-")
        if f.rule in KERNEL_SILENT:
            reason = "the kernel has no report for this (a property of the trace window)"
        elif lockdep_rule and first_lockdep is not None:
            reason = (f"lockdep stops after its first report ({first_lockdep.title}, "
                      f"{first_lockdep.file}:{first_lockdep.line})")
        elif lockdep_rule:
            reason = "the log has no lockdep report (lockdep off, or not reached)"
        else:
            reason = "the log has no report of this kind"
        res.beyond.append(Beyond(f, reason))
    return res
