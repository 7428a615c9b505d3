"""Findings: what a model reports, with the evidence that explains it.

A finding names the event that triggered it (file:line) and the evidence events (file:line of
each), the way KASAN prints the allocation and free stacks next to the bad access.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from .rules import rule as _rule

SEVERITIES = ("info", "warning", "error")
_SEV_RANK = {s: i for i, s in enumerate(SEVERITIES)}

# Parts of an object string that change from boot to boot, run to run or machine to machine.
# The fingerprint keeps what identifies a bug the way syzbot's titles do (lock class names, fence
# driver/timeline names, call sites) and drops the rest:
# - hashed (%p) or raw addresses: 8-16 hex digits with at least one decimal digit, 0x-prefixed
#   numbers of any length, and lockdep's "[<ffffffff81234567>]" frames;
# - the offset/size of a call site ("func+0x1a/0x40" -> "func") and module build ids;
# - lockdep's "#N" class-name version (the order in which same-named classes registered);
# - the pid of a "comm-pid" task, and the instance numbers of kernel threads ("kworker/u16:3",
#   "ksoftirqd/5", "irq/45-i915");
# - fence "context:seqno" numbers (contexts come from dma_fence_context_alloc() at run time);
# - timestamps ("123.456789").
_FRAME = re.compile(r"\[<[0-9a-fA-F]+>\]\s*")
_SYM_OFF = re.compile(r"\+0x[0-9a-fA-F]+(?:/0x[0-9a-fA-F]+)?")
_BUILD_ID = re.compile(r"(\[[\w-]+)\s+[0-9a-f]{20,}\]")
_HEX_PREFIXED = re.compile(r"\b0x[0-9a-fA-F]+\b")
_ADDR = re.compile(r"\b(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{8,16}\b")
_CLASS_VERSION = re.compile(r"#\d+\b")
_KTHREAD = re.compile(r"\b(kworker|ksoftirqd|migration|cpuhp|rcuc|rcuop|rcuos|rcuog|idle_inject|"
                      r"watchdog|irq_work|kcompactd|kswapd|jbd2|scsi_eh|scsi_tmf)"
                      r"(/|-)[\w:.+-]*")
_IRQ_THREAD = re.compile(r"\birq/\d+-")
_FENCE = re.compile(r"(?<![\w.])\d+:\d+(?![\w.])")
_TIMESTAMP = re.compile(r"\b\d+\.\d{6,9}\b")
_TASK_PID = re.compile(r"(?:-\d+)+$")  # all of them: "a-1-2" -> "a", so a second pass keeps it


def severity_rank(sev: str) -> int:
    return _SEV_RANK[sev]


@dataclass(frozen=True)
class Evidence:
    """One event that explains a finding (file:line) and why it is cited."""

    file: str
    line: int
    note: str = ""
    ts_ns: int | None = field(default=None, compare=False)  # lets a finding see the span it covers

    def to_dict(self) -> dict:
        d = {"file": self.file, "line": self.line}
        if self.note:
            d["note"] = self.note
        return d


@dataclass
class Finding:
    rule: str
    title: str
    file: str
    line: int
    objects: list[str]
    evidence: list[Evidence] = field(default_factory=list)
    severity: str = ""  # defaults to the rule's severity
    ts_ns: int | None = None
    task: str | None = None  # "comm-pid" as the trace prints it
    cpu: int | None = None
    detail: str = ""  # multi-line explanation (scenario tables, histories)
    incomplete: str | None = None  # why the trace window is incomplete here, if it is
    key_objects: list[str] | None = None  # normalised identities for the fingerprint
    extra: dict = field(default_factory=dict)  # rule-specific structured data

    def __post_init__(self) -> None:
        r = _rule(self.rule)  # raises KeyError for an unknown rule: rules are table-driven
        if not self.severity:
            self.severity = r.severity
        if self.incomplete and self.severity != "info":
            # Never drop a finding in an incomplete window: downgrade it one step and say why.
            self.severity = SEVERITIES[_SEV_RANK[self.severity] - 1]

    @property
    def fingerprint(self) -> str:
        """Stable across runs, machines and boots: rule + normalised objects, never addresses."""
        keys = self.key_objects if self.key_objects is not None else [
            normalise_object(o) for o in self.objects
        ]
        h = hashlib.sha1("\x1f".join([self.rule, *sorted(keys)]).encode()).hexdigest()
        return h[:16]

    def to_dict(self) -> dict:
        d = {
            "rule": self.rule,
            "severity": self.severity,
            "title": self.title,
            "file": self.file,
            "line": self.line,
            "ts_ns": self.ts_ns,
            "task": self.task,
            "cpu": self.cpu,
            "objects": list(self.objects),
            "evidence": [e.to_dict() for e in self.evidence],
            "fingerprint": self.fingerprint,
            "incomplete": self.incomplete,
        }
        if self.detail:
            d["detail"] = self.detail
        if self.extra:
            d["extra"] = self.extra
        return d


def normalise_object(obj: str) -> str:
    """Drop the parts of an object string that differ between boots, runs and machines.

    Idempotent: normalising a normalised string changes nothing.
    """
    s = _FRAME.sub("", obj)
    s = _SYM_OFF.sub("", s)
    s = _BUILD_ID.sub(r"\1]", s)
    s = _KTHREAD.sub(lambda m: m[1] + m[2] + "N", s)
    s = _IRQ_THREAD.sub("irq/N-", s)
    s = _HEX_PREFIXED.sub("ADDR", s)
    s = _ADDR.sub("ADDR", s)
    s = _CLASS_VERSION.sub("", s)
    s = _TIMESTAMP.sub("TS", s)
    s = _FENCE.sub("CTX:SEQNO", s)
    return _TASK_PID.sub("", s)
