"""Split a kernel log into message lines: prefixes stripped, wrapped pieces joined.

Each :class:`Line` keeps the 1-based number of the source line it starts on, so that reports
can point back into the file.  The prefix grammar lives in ``grammars/kernlog.lark``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import grammar

# syzkaller drops "? func+0x1/0x2" frames (unreliable) from prefixed console logs.
_QUESTIONABLE = re.compile(r"(?:\[<[0-9a-f]+>\])? \? +[a-zA-Z0-9_.]+\+0x[0-9a-f]+/[0-9a-f]+")
_BARE_FRAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*\+0x[0-9a-f]+/0x[0-9a-f]+")
_HEADERISH = re.compile(r"(?:WARNING|BUG|INFO|Call Trace|=+|-+\[ cut here|kernel BUG)\b")
# a piece that obviously continues the previous one (KERN_CONT or a mail client's wrap)
_OPEN_END = re.compile(r"(?:at:|\}-|\(|,)$")
_CONT_START = re.compile(r"\)\{|\{[-+.?]{4}\}|\{\d+:\d+\}")
_WORD_CUT = re.compile(r"[a-z0-9_]-$")
# a lock description cut after its usage/wait bits, and the "at: site" line that completes it
_LOCK_OPEN = re.compile(r"\)\{[-+.?]{4}\}(?:-\{\d+:\d+\})?,\s*$")
_AT_WRAP = re.compile(r"\s*at: \S")


@dataclass
class Line:
    """One kernel message line."""

    no: int  # 1-based source line where the message starts
    text: str  # the message, prefix stripped
    ts: float | None = None  # printk stamp (seconds; relative stamps as printed)
    caller: str | None = None  # "T123" / "C1" printk caller id
    prefixed: bool = False  # the source line carried a recognised prefix
    questionable: bool = False  # a "? func+0x../0x.." frame

    @property
    def context(self) -> str:
        """syzkaller's line context: "" (no stamp), "console", or the caller id."""
        if self.caller:
            return self.caller
        return "console" if self.ts is not None else ""


def split_prefix(raw: str) -> tuple[str, float | None, str | None, bool]:
    """(message, stamp, caller id, had prefix) of one physical line."""
    m = grammar.prefix_regexp().match(raw)
    if (m is None or not any(m.groupdict().values())) and raw.startswith(" "):
        # a stamped line indented by a mail quote (" [   18.31] BUG: ..."): stamp required
        lead = len(raw) - len(raw.lstrip(" "))
        m = grammar.prefix_regexp().match(raw, lead)
        if m is not None and m["ts"] is None:
            m = None
    if m is None or not any(m.groupdict().values()):
        return raw, None, None, False
    ts = float(m["ts"]) if m["ts"] else None
    return raw[m.end():], ts, m["caller"], True


def _continues(prev: Line, raw_prev: str, text: str, log_prefixed: bool) -> bool:
    """Whether an unprefixed physical line continues the previous message (e-mail wrap)."""
    if _AT_WRAP.match(text) and _LOCK_OPEN.search(prev.text):
        return True  # "ffff... (class){+.+.}-{4:4}," wrapped before its indented "at: site"
    if not text or text[0].isspace() or _HEADERISH.match(text):
        return False
    if raw_prev.endswith(" ") and raw_prev.strip():
        return True
    if _OPEN_END.search(prev.text.rstrip()) and prev.text.strip():
        return True
    if _WORD_CUT.search(prev.text.rstrip()) and text[0].isalnum():
        return True  # "by task systemd-" / "udevd/342": a hyphenated name cut by the mailer
    return log_prefixed and _BARE_FRAME.match(text) is not None


def read_lines(text: str) -> list[Line]:
    """Normalise a decoded log into message lines (CRLF, prefixes, wrapped lines)."""
    physical = text.splitlines()
    log_prefixed = sum(1 for raw in physical[:400] if split_prefix(raw)[3]) > 0
    out: list[Line] = []
    last_by_context: dict[str, int] = {}
    raw_prev = ""
    prefix_len = 0
    for no, raw in enumerate(physical, start=1):
        raw = raw.rstrip("\r").replace("\t", "        ")
        msg, ts, caller, prefixed = split_prefix(raw)
        if not prefixed and out and _continues(out[-1], raw_prev, msg, log_prefixed):
            prev = out[-1]
            sep = "" if prev.text.endswith(("-", "(")) else " "
            prev.text = prev.text.rstrip() + sep + msg.strip() if sep == " " else prev.text + msg
            raw_prev = raw
            continue
        if prefixed and caller is not None:
            # KERN_CONT pieces of one caller printed on separate stamped lines
            idx = last_by_context.get(caller)
            if idx is not None and out[idx].text.strip() and msg.strip() and (
                    _OPEN_END.search(out[idx].text) or _CONT_START.match(msg)):
                out[idx].text += msg.strip()
                raw_prev = raw
                continue
        if not prefixed and out and out[-1].prefixed and prefix_len > 0 \
                and raw.startswith(" " * prefix_len) and raw.strip():
            # later line of a multi-line record: the console indents it under the prefix
            indent = len(raw) - len(raw.lstrip(" "))
            msg = raw[min(indent, prefix_len + 1):]
            ts, caller, prefixed = out[-1].ts, out[-1].caller, True
        elif prefixed:
            prefix_len = len(raw) - len(msg)
        line = Line(no, msg, ts, caller, prefixed,
                    prefixed and ts is not None and bool(_QUESTIONABLE.search(raw))
                    and "<EOI>" not in raw)
        out.append(line)
        last_by_context[line.context] = len(out) - 1
        raw_prev = raw
    return out
