#!/usr/bin/env python3
"""Summarise the kernel's reports in a dmesg file as prose Markdown bullets for a capture README.

Usage: summarize_dmesg.py DMESG.  Recognises lockdep splats (the "=====" banner followed by
"WARNING: <headline>"), WARN()s ("------------[ cut here ]------------" ... "WARNING: CPU: N PID: P
at FILE:LINE FUNC"), refcount_t messages and BUG:/Oops lines.  The output deliberately does not
reproduce raw log lines (no "[  secs]" stamps, no "WARNING:" prefix), so that tools scanning the
capture directory for kernel logs only find dmesg.txt.
"""
import re
import sys

TS = re.compile(r"^\[\s*(\d+\.\d+)\]\s?(.*)$")
LOCK = re.compile(r"^\s*(?:#\d+:\s+)?(?:[0-9a-f]{8,16}\s+)?\((.+?)\)\{[^}]*\}(?:-\{\d:\d\})?(?:, at: (\S+))?")
SKIP_FRAMES = ("dump_stack", "__warn", "report_bug", "handle_bug", "exc_invalid_op", "asm_exc",
               "lock_acquire", "__lock_acquire", "lockdep_", "print_", "check_", "validate_chain",
               "mark_lock", "_raw_spin", "__mutex_lock", "mutex_lock", "refcount_warn_saturate",
               "warn_slowpath", "? ")


def frames(lines, i):
    """Call trace frames following line i (first few, infrastructure skipped)."""
    out = []
    for _, text in lines[i:i + 80]:
        t = text.strip()
        if t.startswith("Call Trace:") or t in ("<TASK>", "<IRQ>", "</IRQ>", "<SOFTIRQ>"):
            continue
        if out and (t.startswith("</TASK>") or t.startswith("RIP: 0033")):
            break
        m = re.match(r"^([A-Za-z_][\w.]*)\+0x[0-9a-f]+/0x[0-9a-f]+( \[\w+\])?$", t)
        if m and not t.startswith(SKIP_FRAMES):
            out.append(m.group(1) + (m.group(2) or ""))
        if len(out) >= 4:
            break
    return out


def main(path):
    lines = []
    with open(path, errors="replace") as f:
        for raw in f:
            m = TS.match(raw.rstrip("\n"))
            if m:
                lines.append((m.group(1), m.group(2)))
    bullets = []
    for i, (ts, text) in enumerate(lines):
        prev = lines[i - 1][1] if i else ""
        if text.startswith("WARNING: ") and not text.startswith("WARNING: CPU:") and prev.startswith("====="):
            head = text[len("WARNING: "):]
            detail, locks, task = [], [], ""
            for _, t in lines[i + 1:i + 60]:
                if t.startswith("=====") or t.startswith("stack backtrace"):
                    break
                m = re.match(r"^(\S+/\d+) is trying to acquire lock:", t)
                if m:
                    task = m.group(1)
                m = re.match(r"^(\S+/\d+) just changed the state of lock:", t) or re.match(r"^(\S+/\d+) \[HC\d\[\d\]:SC\d\[\d\]", t)
                if m and not task:
                    task = m.group(1)
                if re.match(r"^inconsistent \{", t) or re.match(r"^\S+ lock\(s\) held", t):
                    detail.append(t.rstrip("."))
                m = LOCK.match(t)
                if m:
                    lk = m.group(1) + (f" at {m.group(2)}" if m.group(2) else "")
                    if lk not in locks:
                        locks.append(lk)
            bt = next((j for j in range(i, min(i + 200, len(lines))) if lines[j][1].startswith("stack backtrace")), None)
            s = f"- t={ts} s: lockdep: {head}"
            if task:
                s += f"; task {task}"
            if detail:
                s += "; " + "; ".join(detail)
            if locks:
                s += "; locks named in the report: " + ", ".join(f"`{name}`" for name in locks[:6])
            if bt is not None:
                fr = frames(lines, bt + 1)
                if fr:
                    s += "; backtrace: " + " <- ".join(fr)
            bullets.append(s)
        elif text.startswith("refcount_t: "):
            s = f"- t={ts} s: {text}"
            for j in range(i + 1, min(i + 5, len(lines))):
                m = re.match(r"^WARNING: CPU: (\d+) PID: (\d+) at (\S+) (\S+)", lines[j][1])
                if m:
                    s += f" (WARN at {m.group(3)} in {m.group(4)}, CPU {m.group(1)}, PID {m.group(2)}"
                    ct = next((k for k in range(j, min(j + 40, len(lines))) if lines[k][1].startswith("Call Trace:")), None)
                    fr = frames(lines, ct + 1) if ct is not None else []
                    s += f"; called from {' <- '.join(fr)})" if fr else ")"
                    break
            bullets.append(s)
        elif text.startswith("WARNING: CPU:") and not any(prev[1].startswith("refcount_t") for prev in lines[max(0, i - 3):i]):
            m = re.match(r"^WARNING: CPU: (\d+) PID: (\d+) at (\S+) (\S+)", text)
            if m:
                bullets.append(f"- t={ts} s: WARN at {m.group(3)} in {m.group(4)} (CPU {m.group(1)}, PID {m.group(2)})")
        elif re.match(r"^(BUG|Oops|general protection fault|Kernel panic)", text):
            bullets.append(f"- t={ts} s: {text.replace('BUG: ', 'bug: ')}")
    if not bullets:
        print("- nothing abnormal: no lockdep, refcount_t, WARN or BUG report in dmesg.txt")
    else:
        print("\n".join(bullets))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: summarize_dmesg.py DMESG")
    main(sys.argv[1])
