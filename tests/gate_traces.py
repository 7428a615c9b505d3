"""Generated captures for the gate tests and the benchmark: lock traces in the real tracefs text
format (lock_acquire/lock_release, as include/trace/events/lock.h prints them)."""

from __future__ import annotations

from pathlib import Path

from conftest import HEADER, ev

# A lockdep splat as dmesg prints it, for pairing a kernel log with a trace.
LOCKDEP_LOG = """\
[  100.100000] ======================================================
[  100.100001] WARNING: possible circular locking dependency detected
[  100.100002] 6.8.0 #1 Not tainted
[  100.100003] ------------------------------------------------------
[  100.100004] other/200 is trying to acquire lock:
[  100.100005] ffff888003a1b0c8 (&{cls}->lock_a){{+.+.}}-{{3:3}}, at: drv_path_b+0x40/0x90
[  100.100006]
[  100.100006] but task is already holding lock:
[  100.100007] ffff888003a1b1c8 (&{cls}->lock_b){{+.+.}}-{{3:3}}, at: drv_path_b+0x20/0x90
[  100.100008]
[  100.100008] which lock already depends on the new lock.
[  100.100009]
[  100.100009] the existing dependency chain (in reverse order) is:
[  100.100010]
[  100.100010] -> #1 (&{cls}->lock_b){{+.+.}}-{{3:3}}:
[  100.100011]        __mutex_lock+0x9f/0x9a0
[  100.100012]        drv_path_a+0x30/0x80
[  100.100013]
[  100.100013] -> #0 (&{cls}->lock_a){{+.+.}}-{{3:3}}:
[  100.100014]        __lock_acquire+0x1538/0x2730
[  100.100015]        lock_acquire+0xc4/0x2d0
[  100.100016]        __mutex_lock+0x9f/0x9a0
[  100.100017]        drv_path_b+0x40/0x90
[  100.100018]
[  100.100018] other info that might help us debug this:
[  100.100019]
[  100.100019]  Possible unsafe locking scenario:
[  100.100020]
[  100.100020]        CPU0                    CPU1
[  100.100021]        ----                    ----
[  100.100022]   lock(&{cls}->lock_b);
[  100.100023]                                lock(&{cls}->lock_a);
[  100.100024]                                lock(&{cls}->lock_b);
[  100.100025]   lock(&{cls}->lock_a);
[  100.100026]
[  100.100026]  *** DEADLOCK ***
[  100.100027]
[  100.100027] 1 lock held by other/200:
[  100.100028]  #0: ffff888003a1b1c8 (&{cls}->lock_b){{+.+.}}-{{3:3}}, at: drv_path_b+0x20/0x90
[  100.100029]
[  100.100029] stack backtrace:
[  100.100030] CPU: 1 PID: 200 Comm: other Not tainted 6.8.0 #1
[  100.100031] Call Trace:
[  100.100032]  <TASK>
[  100.100033]  dump_stack_lvl+0x57/0x90
[  100.100034]  check_noncircular+0x10e/0x130
[  100.100035]  __lock_acquire+0x1538/0x2730
[  100.100036]  lock_acquire+0xc4/0x2d0
[  100.100037]  __mutex_lock+0x9f/0x9a0
[  100.100038]  drv_path_b+0x40/0x90
[  100.100039]  </TASK>
"""


def lock_trace(cls: str, *, abba: bool, seed: int = 0, rounds: int = 2) -> str:
    """A small trace on two CPUs taking &CLS->lock_a and &CLS->lock_b. With ``abba`` the second
    task takes them in the reverse order (a LOCK-CYCLE); else both take A then B. ``seed`` varies
    the addresses, pids and timestamps (what changes between boots) but not the classes."""
    a = (f"{0x88000000 + 0x100 * seed:016x}", f"&{cls}->lock_a")
    b = (f"{0x99000000 + 0x100 * seed:016x}", f"&{cls}->lock_b")
    t1, t2 = ("worker", 100 + seed), ("other", 2000 + seed)
    ts = 100.0 + seed
    lines: list[str] = []

    def step(task, cpu, body):
        nonlocal ts
        ts += 0.000001
        lines.append(ev(task[0], task[1], cpu, ts, body))

    for _ in range(rounds):
        for addr, name in (a, b):
            step(t1, 0, f"lock_acquire: {addr} {name}")
        for addr, name in (b, a):
            step(t1, 0, f"lock_release: {addr} {name}")
        second = (b, a) if abba else (a, b)
        for addr, name in second:
            step(t2, 1, f"lock_acquire: {addr} {name}")
        for addr, name in reversed(second):
            step(t2, 1, f"lock_release: {addr} {name}")
    return HEADER.format(n=len(lines)) + "\n".join(lines) + "\n"


def write_lock_corpus(root: Path, n_abba: int, n_clean: int, prefix: str = "gen") -> list[Path]:
    """``n_abba`` traces with distinct AB-BA cycles and ``n_clean`` clean ones under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    out = []
    for k in range(n_abba):
        p = root / f"{prefix}_abba_{k:03d}.trace.txt"
        p.write_text(lock_trace(f"{prefix}drv{k}", abba=True, seed=k))
        out.append(p)
    for k in range(n_clean):
        p = root / f"{prefix}_clean_{k:03d}.txt"
        p.write_text(lock_trace(f"{prefix}clean{k}", abba=False, seed=k))
        out.append(p)
    return out
