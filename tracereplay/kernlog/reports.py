"""Find report boundaries in a kernel log and turn each report into a :class:`Report`."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from . import grammar, titles
from .lines import Line

_MAX_PREFIX = 5
_MAX_PREFIX_CALLER = 50
_STRIP_AFTER = 22

_REFCOUNT_EVENTS = [
    ("addition on 0", "addition_on_0"), ("increment on 0", "addition_on_0"),
    ("underflow", "underflow"), ("saturated", "saturated"),
    ("decrement hit 0", "decrement_hit_0"), ("unknown saturation event", "unknown"),
]


@dataclass
class Report:
    """One kernel report (lockdep, refcount, KASAN, WARN/BUG/Oops)."""

    kind: str
    title: str
    corrupted: bool
    corrupted_reason: str | None
    file: str
    line: int
    end_line: int
    task: str | None = None
    pid: int | None = None
    timestamp: float | None = None
    lock_chain: list[dict[str, Any]] = field(default_factory=list)
    acquiring: dict[str, Any] | None = None
    holding: dict[str, Any] | None = None
    releasing: dict[str, Any] | None = None  # bad unlock balance: the lock released once too often
    held_locks: list[dict[str, Any]] = field(default_factory=list)
    frames: list[str] = field(default_factory=list)
    kasan: dict[str, Any] | None = None
    refcount_event: str | None = None
    text: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (JSON-ready); the raw text is left out."""
        d = asdict(self)
        d.pop("text")
        return d


def split_name(name: str) -> tuple[str, int | None, int | None]:
    """("&type->i_mutex_dir_key", 3, 1) from "&type->i_mutex_dir_key#3/1"."""
    m = grammar.fullmatch("LOCK_NAME", name)
    if m is None:
        return name, None, None
    v, s = m["version"], m["subclass"]
    return m["base"], int(v) if v else None, int(s) if s else None


def _lock(m: re.Match[str]) -> dict[str, Any]:
    base, version, subclass = split_name(m["name"])
    return {"name": base, "name_version": version, "subclass": subclass, "usage": m["usage"],
            "wait": m["wait"], "raw_name": m["name"]}


def _frame(text: str) -> str | None:
    m = grammar.match("FRAME", text)
    if m is None or m["func"] in ("Call", "Code", "RIP", "RSP"):
        return None
    return m["func"]


def _collect_frames(lines: list[str], start: int) -> tuple[list[str], int]:
    """Frames from ``lines[start:]`` until a line that is not a frame (``<TASK>`` allowed)."""
    out: list[str] = []
    i = start
    while i < len(lines):
        t = lines[i].strip()
        if t in ("<TASK>", "</TASK>", "<IRQ>", "</IRQ>", "<EOI>", "<NMI>", "</NMI>", "<SOFTIRQ>",
                 "</SOFTIRQ>") or t.startswith(("? ", "--- ", "RIP: 00", "Code: ", "RSP: ", "R")) \
                and not _frame(lines[i]) and t[:3] in ("RIP", "Cod", "RSP", "RAX", "RDX", "RBP",
                                                       "R10", "R13", "? ", "---"):
            i += 1
            continue
        f = _frame(lines[i])
        if f is None or not t:
            break
        if not t.startswith("? "):
            out.append(f)
        i += 1
    return out, i


def _fill_structure(rep: Report, lines: list[str]) -> None:
    """Parse the lockdep / KASAN / refcount details out of the report's message lines."""
    chain: list[dict[str, Any]] = []
    i = 0
    pending: str | None = None  # "acquiring" / "holding"
    while i < len(lines):
        t = lines[i].strip()
        if rep.task is None and (m := grammar.search("TASK_LINE", t)):
            rep.task, rep.pid = m["comm"], int(m["pid"])
        if (m := grammar.search("CPU_LINE", t)) and rep.task is None:
            rep.task, rep.pid = m["comm"], int(m["pid"])
        if (m := grammar.match("WARN_HEADER_NEW", t)) and m["pid"] and rep.task is None:
            rep.task, rep.pid = m["comm"], int(m["pid"])
        if rep.refcount_event is None and "refcount_t: " in t:
            for needle, ev in _REFCOUNT_EVENTS:
                if needle in t:
                    rep.refcount_event = ev
                    break
        if rep.releasing is None and (m := grammar.search("RELEASE_LINE", t)):
            base, version, subclass = split_name(m["name"])
            rep.releasing = {"name": base, "name_version": version, "subclass": subclass,
                             "raw_name": m["name"]}
        if re.search(r"is trying to (?:acquire|lock)|just changed the state of lock|takes:$", t):
            pending = "acquiring"
        elif t.startswith(("but task is already holding lock", "and this task is already holding")):
            pending = "holding"
        if (m := grammar.fullmatch("CHAIN_ENTRY", t)):
            entry = {"index": int(m["index"]), **_lock(m)}
            entry.pop("raw_name")
            frames, i = _collect_frames(lines, i + 1)
            entry["sites"] = frames
            chain.append(entry)
            continue
        if (m := grammar.fullmatch("HELD_LOCK", lines[i])) and (
                lm := grammar.fullmatch("LOCK_LINE", m["rest"].strip())):
            lk = _lock(lm)
            rep.held_locks.append({"index": int(m["index"]), "addr": lm["addr"],
                                   "name": lk["raw_name"], "usage": lk["usage"],
                                   "wait": lk["wait"], "at": _frame(lm["at"]) or lm["at"]})
            i += 1
            continue
        if pending and (lm := grammar.fullmatch("LOCK_LINE", t)):
            lk = _lock(lm)
            lk["at"] = _frame(lm["at"]) or lm["at"]
            lk["addr"] = lm["addr"]
            setattr(rep, pending, lk)
            pending = None
        if (m := grammar.search("KASAN_HEADER", t)) and rep.kasan is None:
            rep.kasan = {"bug_type": m["bug_type"], "access": None, "size": None, "addr": None,
                         "object": None, "object_size": None, "cache": None,
                         "alloc_stack": [], "free_stack": []}
        if rep.kasan is not None:
            if rep.kasan["access"] is None and (m := grammar.search("KASAN_ACCESS", t)):
                rep.kasan["access"] = m["access"] or "Free"
                rep.kasan["size"] = int(m["size"]) if m["size"] else None
                rep.kasan["addr"] = m["addr"]
                if rep.task is None:
                    rep.task, rep.pid = m["comm"], int(m["pid"])
            if rep.kasan["object"] is None and (m := grammar.search("KASAN_OBJECT", t)):
                rep.kasan["object"] = m["addr"]
            if rep.kasan["cache"] is None and (m := grammar.search("KASAN_CACHE", t)):
                rep.kasan["cache"], rep.kasan["object_size"] = m["cache"], int(m["size"])
            if (m := grammar.match("KASAN_STACK", t)):
                key = "alloc_stack" if m["which"] == "Allocated" else "free_stack"
                if not rep.kasan[key]:
                    rep.kasan[key], i = _collect_frames(lines, i + 1)
                    continue
        if re.match(r"Call [Tt]race:", t) and not rep.frames:
            rep.frames, i = _collect_frames(lines, i + 1)
            continue
        i += 1
    rep.lock_chain = chain
    if rep.kasan is not None and rep.kasan["access"] is None and "double-free" in t:
        rep.kasan["access"] = "Free"


def is_corrupted(title: str, text: str, fmt: titles.Format | None) -> str:
    """syzkaller's isCorrupted: "" or the reason the report text is broken."""
    if any(r.search(title) for r in titles.CORRUPTED_TITLES):
        return "title matches corrupted regexp"
    if fmt is None or fmt.no_stack_trace:
        return ""
    has_stack = False
    for key in titles.STACK_START:
        m = key.search(text)
        if m is None:
            continue
        rest = text[m.start():].split("\n")
        if len(rest) < 4:
            return "call trace is missed"
        ok = False
        for ln in rest[1:16]:
            if any(k.search(ln) for k in titles.STACK_START):
                break
            if "(stack is not available)" in ln or any(r.search(ln) for r in titles.FRAME_RES):
                has_stack = ok = True
                break
        if not ok:
            return "no frames in a stack trace"
    if not has_stack:
        return "no stack trace in report"
    return ""


def _first_oops(lines: list[Line], start: int) -> tuple[int, titles.Oops | None]:
    for idx in range(start, len(lines)):
        oops = titles.match_oops(lines[idx].text)
        if oops is not None:
            return idx, oops
    return -1, None


def find_reports(lines: list[Line], file: str) -> list[Report]:
    """All reports of a log, in order (each ends where the next oops starts)."""
    out: list[Report] = []
    pos = 0
    while True:
        start, oops = _first_oops(lines, pos)
        if oops is None:
            return out
        rep, next_pos = _build(lines, start, oops, file)
        if rep is not None:
            out.append(rep)
        pos = max(next_pos, start + 1)


def _build(lines: list[Line], start: int, oops: titles.Oops,
           file: str) -> tuple[Report | None, int]:
    """syzkaller's findReport + extractDescription for the oops at ``lines[start]``."""
    head = lines[start]
    context = head.context
    max_prefix = _MAX_PREFIX_CALLER if context.startswith("T") else _MAX_PREFIX
    prefix = [ln for ln in lines[:start]
              if ln.context == context and ln.text and not ln.questionable][-max_prefix:]
    body: list[Line] = []
    second = 0
    report_end = 0
    skip_text = False
    cpu_traceback = False
    for idx in range(start, len(lines)):
        ln = lines[idx]
        is_head = idx == start
        if not is_head and second == 0:
            if titles.match_oops(ln.text) is not None and not any(
                    r.search(ln.text) for r in titles.REPORT_START_IGNORES):
                second = idx
            elif any(p in ln.text for p in titles.INFO_MESSAGES_WITH_STACK):
                second = idx
        if not is_head and (ln.questionable or ln.context != context and (
                not cpu_traceback or not ln.context.startswith("C"))):
            continue
        skip_line = skip_text
        if "Disabling lock debugging due to kernel taint" in ln.text:
            skip_line = True
        elif "Sending NMI from CPU" in ln.text:
            cpu_traceback = True
        elif len(body) > _STRIP_AFTER and ("Kernel panic - not syncing" in ln.text or
                                           "WARNING: possible circular locking dependency detected"
                                           in ln.text):
            skip_text = skip_line = True
        if not is_head and skip_line:
            continue
        body.append(ln)
        if second == 0 or context not in ("", "console"):
            report_end = len(body)
    body_used = body[:report_end]
    text = "\n".join(ln.text for ln in body_used) + "\n"
    t = titles.describe(text, oops)
    if not t.title:
        text = "\n".join(ln.text for ln in body) + "\n"
        t = titles.describe(text, oops)
        body_used = body
    if not t.title:
        return None, (second or len(lines))
    reason = t.corrupted or is_corrupted(t.title, "\n".join(ln.text for ln in body) + "\n",
                                         t.fmt)
    rep = Report(kind=t.kind, title=t.title, corrupted=bool(reason),
                 corrupted_reason=reason or None, file=file, line=head.no,
                 end_line=body_used[-1].no if body_used else head.no, timestamp=head.ts,
                 text="\n".join(ln.text for ln in body_used))
    _fill_structure(rep, [ln.text for ln in prefix[-3:] if "refcount_t: " in ln.text]
                    + [ln.text for ln in body_used])
    return rep, (second or len(lines))
