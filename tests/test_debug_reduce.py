"""tracereplay reduce: delta debugging down to a minimal trace that still produces a finding."""

from __future__ import annotations

import os
import random
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from tracereplay import api
from tracereplay.cli import main
from tracereplay.debug.reduce import _Oracle, ddmin, reduce_file, reduce_text
from tracereplay.errors import UsageError
from tracereplay.table import load_table

SHARED = Path(os.environ.get("TRACEREPLAY_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))
FTRACE = SHARED / "corpus" / "ftrace"
REPO = Path(__file__).resolve().parents[1]
REDUCED = REPO / "sample_traces" / "reduced"
FEW_DOZEN = 36

HEADER = """# tracer: nop
#
# entries-in-buffer/entries-written: {n}/{n}   #P:4
#
#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION
#              | |         |   |||||     |         |
"""


def ev(comm: str, pid: int, cpu: int, ts_us: int, body: str, flags: str = "...1.") -> str:
    sec, usec = divmod(ts_us, 1_000_000)
    return f"{comm:>16}-{pid:<7} [{cpu:03d}] {flags} {sec:5d}.{usec:06d}: {body}"


def fingerprint_of(path: str, rule: str) -> str:
    found = [f for f in api.check([path]).findings if f.rule == rule]
    assert found, f"no {rule} in {path}"
    return found[0].fingerprint


def noisy_cycle(seed: int, n_noise: int = 400) -> str:
    """A three-task A->B, B->C, C->A cycle spread over a trace of unrelated noise."""
    rng = random.Random(seed)
    tasks = [("kworker/0:1", 11, 0), ("kworker/1:1", 22, 1), ("gpu-sched", 33, 2), ("Xorg", 44, 3)]
    locks = {"A": "0000000000aaa000", "B": "0000000000bbb000", "C": "0000000000ccc000",
             "D": "0000000000ddd000", "E": "0000000000eee000"}
    name = {k: f"&obj->lock_{k.lower()}" for k in locks}
    cycle = {100: ("A", "B", 0), 200: ("B", "C", 1), 300: ("C", "A", 2)}
    t, out = 7_000_000, []
    for step in range(n_noise):
        if step in cycle:
            x, y, k = cycle[step]
            c, p, cpu = tasks[k]
            for lk in (x, y):
                out.append(ev(c, p, cpu, t, f"lock_acquire: {locks[lk]} {name[lk]}"))
                t += 2
            for lk in (y, x):
                out.append(ev(c, p, cpu, t, f"lock_release: {locks[lk]} {name[lk]}"))
                t += 2
        c, p, cpu = rng.choice(tasks)
        r = rng.randrange(3)
        if r == 0:
            held = ["D", "E"][: rng.randint(1, 2)]
            for lk in held:
                out.append(ev(c, p, cpu, t, f"lock_acquire: {locks[lk]} {name[lk]}"))
                t += 1
            for lk in reversed(held):
                out.append(ev(c, p, cpu, t, f"lock_release: {locks[lk]} {name[lk]}"))
                t += 1
        elif r == 1:
            o = rng.choice(tasks)
            out.append(ev(c, p, cpu, t, f"sched_switch: prev_comm={c} prev_pid={p} prev_prio=120 prev_state=S "
                                        f"==> next_comm={o[0]} next_pid={o[1]} next_prio=120", "d..2."))
        else:
            out.append(ev(c, p, cpu, t, "irq_disable: caller=_raw_spin_lock_irqsave+0x2a/0x60 parent=0x0", "d..1."))
        t += rng.randint(1, 30)
    return HEADER.format(n=len(out)) + "\n".join(out) + "\n"


def test_ddmin_finds_the_needed_items():
    calls = []

    def test(xs):
        calls.append(len(xs))
        return {3, 17, 42} <= set(xs)

    assert ddmin(list(range(100)), test) == [3, 17, 42]
    assert ddmin([5], lambda xs: True) == [5]
    assert len(calls) < 200


def test_sample_reduction_is_reproducible():
    src = REDUCED / "abba-noisy.txt"
    fp = fingerprint_of(str(src), "LOCK-CYCLE")
    res = reduce_file(str(src), fp)
    assert res.finding.fingerprint == fp and res.finding.rule == "LOCK-CYCLE"
    assert res.before == 1682 and res.after == 4 <= FEW_DOZEN
    assert res.text == (REDUCED / "abba-min.txt").read_text()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_noisy_three_lock_cycle(tmp_path, seed):
    p = tmp_path / "cycle.txt"
    p.write_text(noisy_cycle(seed))
    fp = fingerprint_of(str(p), "LOCK-CYCLE")
    out = tmp_path / "min.txt"
    res = reduce_file(str(p), fp, str(out))
    assert res.after == 6  # the two acquisitions of each of the three tasks
    t = load_table([str(out)])
    assert t.events["event"].to_list() == ["lock_acquire"] * 6
    assert set(t.events["name"]) == {"&obj->lock_a", "&obj->lock_b", "&obj->lock_c"}
    assert [f.fingerprint for f in api.check([str(out)]).findings if f.rule == "LOCK-CYCLE"] == [fp]
    # 1-minimal: without any one of its events the finding is gone
    oracle = _Oracle(t, fp, None, None)
    rows = list(range(len(t.events)))
    assert oracle(rows)
    assert not any(oracle(rows[:k] + rows[k + 1:]) for k in rows)
    # every kept line is a line of the input, under its header
    lines = out.read_text().splitlines()
    assert lines[2] == "# entries-in-buffer/entries-written: 6/6   #P:4"
    assert set(lines[6:]) <= set(p.read_text().splitlines())


def test_end_of_trace_finding_on_corpus():
    src = FTRACE / "lkml-snippets" / "20251106_rostedt_lock_acquire_release_nonrt.txt"
    if not src.exists():
        pytest.skip(f"{src} not found (set TRACEREPLAY_SHARED)")
    fp = fingerprint_of(str(src), "LOCK-HELD-AT-END")
    res = reduce_file(str(src), fp)
    assert res.after == 1
    assert "lock_acquire:" in res.text.splitlines()[-1] and "&mm->mmap_lock" in res.text
    assert res.finding.fingerprint == fp


def test_real_capture():
    src = REPO / "sample_traces" / "real" / "abba" / "trace.txt.xz"
    if not src.exists():
        pytest.skip("real abba capture not present")
    fp = fingerprint_of(str(src), "LOCK-CYCLE")
    res = reduce_file(str(src), fp)
    assert res.before > 10_000 and res.after <= FEW_DOZEN
    assert res.finding.fingerprint == fp
    names = [ln.rsplit(" ", 1)[-1] for ln in res.text.splitlines() if "lock_acquire:" in ln]
    assert set(names) == {"&dev->a_mutex", "&dev->b_mutex"}


def test_unknown_fingerprint_and_prefix(tmp_path):
    src = REDUCED / "abba-noisy.txt"
    with pytest.raises(UsageError, match="no finding with fingerprint"):
        reduce_file(str(src), "0123456789abcdef")
    fp = fingerprint_of(str(src), "LOCK-CYCLE")
    assert reduce_text(src.read_text(), "x", fp[:8]).finding.fingerprint == fp


def test_cli(tmp_path):
    src = REDUCED / "abba-noisy.txt"
    fp = fingerprint_of(str(src), "LOCK-CYCLE")
    out = tmp_path / "m.txt"
    r = CliRunner().invoke(main, ["reduce", str(src), "--finding", fp, "-o", str(out), "--no-progress"])
    assert r.exit_code == 0, r.output
    assert "to 4 in" in r.output and fp in r.output
    assert out.read_text() == (REDUCED / "abba-min.txt").read_text()
    r = CliRunner().invoke(main, ["reduce", str(src), "--finding", "ffffffffffffffff"])
    assert r.exit_code == 2 and "no finding with fingerprint" in r.output


def _simulator_scenarios() -> dict[str, str]:
    """Buggy scenario -> the rule the simulator says it shows (from `simulate --list`)."""
    if "simulate" not in main.commands:
        pytest.skip("GPUVM simulator not available (no `tracereplay simulate`)")
    r = CliRunner().invoke(main, ["simulate", "--list"])
    if r.exit_code != 0:
        pytest.skip("`tracereplay simulate --list` failed")
    out = {}
    for ln in r.stdout.splitlines():
        m = re.match(r"^(\S+)\s+buggy: (\S+)", ln)
        if m:
            out[m[1]] = m[2]
    if not out:
        pytest.skip("`tracereplay simulate --list` lists no buggy scenario")
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_simulated_gpuvm_bugs(tmp_path, seed):
    reduced, undetected = [], []
    for name, rule in _simulator_scenarios().items():
        trace = tmp_path / f"{name}.txt"
        r = CliRunner().invoke(main, ["simulate", name, "--seed", str(seed), "-o", str(trace)])
        assert r.exit_code == 0, r.output
        found = [f for f in api.check([str(trace)]).findings if f.rule == rule]
        if not found:
            undetected.append(name)  # the model for it is not there yet: nothing to reduce
            continue
        fp = found[0].fingerprint
        res = reduce_file(str(trace), fp, str(tmp_path / f"{name}.min.txt"))
        assert res.finding.fingerprint == fp and res.finding.rule == rule
        assert res.after <= FEW_DOZEN and res.after < res.before, (name, res.after)
        again = api.check([str(tmp_path / f"{name}.min.txt")]).findings
        assert fp in {f.fingerprint for f in again}
        reduced.append(name)
    if not reduced:
        pytest.skip(f"no simulated bug is detected yet ({', '.join(undetected)})")
