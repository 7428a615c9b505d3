"""syzkaller parser fixtures: first report's title, corrupted flag and kind match the header."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tracereplay.kernlog import parse_log


def _shared() -> Path | None:
    env = os.environ.get("TRACEREPLAY_SHARED")
    path = Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared"
    return path if (path / "corpus").is_dir() else None


SHARED = _shared()
ROOT = SHARED / "corpus" / "syzkaller-reports" if SHARED else None
IN_SCOPE_TYPES = {"LOCKDEP", "REFCOUNT_WARNING", "WARNING", "ATOMIC_SLEEP"}

# TYPE -> the kinds a report of that type may have
KINDS = {
    "LOCKDEP": {"circular_locking", "recursive_locking", "inconsistent_lock_state",
                "irq_lock_inversion", "safe_to_unsafe", "bad_unlock_balance", "held_lock_freed",
                "locks_held_at_exit", "lock_held_returning_to_user", "suspicious_rcu_usage",
                "invalid_wait_context", "nested_lock_not_taken", "lockdep_capacity",
                "lockdep_non_static_key", "lockdep_warn", "lock_debug", "bug"},
    "REFCOUNT_WARNING": {"refcount"},
    "ATOMIC_SLEEP": {"atomic_sleep"},
}

# Files where we knowingly differ from syzkaller's expected header, with the reason.
DEVIATIONS: dict[str, str] = {}


def read_fixture(path: Path) -> tuple[dict[str, str], list[str], str]:
    """(header fields, ALT titles, raw console log) of one fixture file."""
    raw = path.read_bytes().decode("utf-8", errors="replace")
    head, _, body = raw.partition("\n\n")
    fields: dict[str, str] = {}
    alts: list[str] = []
    for line in head.splitlines():
        if line.startswith("#") or ":" not in line:
            continue
        key, value = line.split(":", 1)
        if key == "ALT":
            alts.append(value.strip())
        fields.setdefault(key.strip(), value.strip())
    return fields, alts, body.split("\nREPORT:\n")[0]


def _cases() -> list[str]:
    if ROOT is None:
        return []
    out = []
    for path in sorted(ROOT.glob("*/*")):
        if not path.name.isdigit():
            continue
        fields, _, _ = read_fixture(path)
        typ = fields.get("TYPE", "")
        if (typ in IN_SCOPE_TYPES or typ.startswith("KASAN-") or path.parent.name == "lockdep"
                or not fields.get("TITLE")):
            out.append(f"{path.parent.name}/{path.name}")
    return out


CASES = _cases()


@pytest.mark.skipif(ROOT is None, reason="shared corpus not found beside the repo "
                    "(set TRACEREPLAY_SHARED to the shared/ folder)")
@pytest.mark.parametrize("name", CASES)
def test_fixture(name: str) -> None:
    if name in DEVIATIONS:
        pytest.xfail(DEVIATIONS[name])
    fields, alts, log = read_fixture(ROOT / name)
    reports = parse_log(log, name)
    title = fields.get("TITLE", "")
    if not title:
        assert reports == []
        return
    assert reports, "no report found"
    first = reports[0]
    assert first.title in [title, *alts]
    assert first.corrupted is (fields.get("CORRUPTED", "N") == "Y")
    typ = fields.get("TYPE", "")
    if typ in KINDS:
        assert first.kind in KINDS[typ]
    elif typ.startswith("KASAN-"):
        assert first.kind == "kasan"
    assert first.file == name
    assert first.line >= 1 and first.end_line >= first.line


@pytest.mark.skipif(ROOT is None, reason="shared corpus not found")
def test_corpus_scope_is_large() -> None:
    assert len(CASES) >= 150


@pytest.mark.skipif(ROOT is None, reason="shared corpus not found")
def test_refcount_fixture_details() -> None:
    fields, _, log = read_fixture(ROOT / "refcount" / "157")
    rep = parse_log(log, "157")[0]
    assert (rep.kind, rep.title) == ("refcount", "WARNING: refcount bug in sctp_wfree")
    assert rep.refcount_event == "underflow"
    assert rep.timestamp == 44.471332
    assert rep.pid == 2992


def test_title_engine_helpers() -> None:
    from tracereplay.kernlog import titles

    assert titles.demangle("_Z8fakeNameiii") == "fakeName"
    assert titles.demangle("_ZN2ns4funcEv") == "ns::func"
    assert titles.demangle("dma_buf_detach") == "dma_buf_detach"
    assert titles.strip_prefixes("__do_sys_ioctl") == "ioctl"
    assert titles.strip_prefixes("__se_sys_bpf") == "bpf"
    assert titles.render("KASAN: %[1]v %[3]v in %[4]v", ["a", "b", "Read", "f"]) == "KASAN: a Read in f"
    assert titles.sanitize("WARNING in foo+0x1/0x20 at 0xffff888012345678 CPU#3") == \
        "WARNING in foo at ADDR CPU"


def test_bare_header_title_when_no_format_completes() -> None:
    """syzkaller titles a report whose formats all fail with its header line, corrupted."""
    log = ("[   10.000000] WARNING: possible circular locking dependency detected\n"
           "[   10.000001] 6.1.0 #1 Not tainted\n")
    (rep,) = parse_log(log, "x")
    assert (rep.kind, rep.title, rep.corrupted, rep.corrupted_reason) == (
        "circular_locking", "WARNING: possible circular locking dependency detected", True,
        "matched title but not report regexp")
