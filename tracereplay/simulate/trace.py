"""Writing simulated traces: tasks made of atomic blocks, interleaved by a seeded scheduler.

Lines follow the kernel's text formats exactly (../shared/kernel-spec.md 1.1-1.10, 2.1-2.3):
the `trace` file header, the per-event prefix of trace_print_context(), kprobe/kretprobe bodies
as print_kprobe_event()/print_kretprobe_event() write them (raw 0x pointers), and lock, kmem
and dma_fence tracepoints as their TP_printk strings print them on a kernel booted with
`no_hash_pointers` (so %p is the raw pointer, 16 hex digits without 0x).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

HEADER = """# tracer: nop
#
# entries-in-buffer/entries-written: {n}/{n}   #P:{cpus}
#
#                                _-----=> irqs-off/BH-disabled
#                               / _----=> need-resched
#                              | / _---=> hardirq/softirq
#                              || / _--=> preempt-depth
#                              ||| / _-=> migrate-disable
#                              |||| /     delay
#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION
#              | |         |   |||||     |         |
"""


def p(addr: int) -> str:
    """A pointer as %p prints it with no_hash_pointers (and as lock_acquire shows it)."""
    return f"{addr:016x}"


def x(addr: int) -> str:
    """A pointer or x64 value as a kprobe argument prints it."""
    return f"0x{addr:x}"


@dataclass
class Block:
    """Lines a task emits without another task's events in between (a critical section, or one
    step the scenario treats as atomic). `needs`: labels of blocks that must have run first."""

    lines: list[tuple[str, str]] = field(default_factory=list)  # (flags, body)
    label: str | None = None
    needs: tuple[str, ...] = ()


class Task:
    def __init__(self, comm: str, pid: int, cpu: int) -> None:
        self.comm, self.pid, self.cpu = comm, pid, cpu
        self.blocks: list[Block] = []

    def block(self, label: str | None = None, needs: tuple[str, ...] = ()) -> Block:
        b = Block(label=label, needs=tuple(needs))
        self.blocks.append(b)
        return b


class B:
    """Body builders appending to a block."""

    def __init__(self, block: Block, flags: str = ".....") -> None:
        self.b = block
        self.flags = flags

    def raw(self, body: str, flags: str | None = None) -> B:
        self.b.lines.append((flags or self.flags, body))
        return self

    def kp(self, event: str, site: str, **args) -> B:
        a = " ".join(f"{k}={v}" for k, v in args.items())
        return self.raw(f"{event}: ({site}){' ' + a if a else ''}")

    def kr(self, event: str, site: str, func: str, **args) -> B:
        a = " ".join(f"{k}={v}" for k, v in args.items())
        return self.raw(f"{event}: ({site} <- {func}){' ' + a if a else ''}")

    def lock_acquire(self, addr: int, name: str, read: bool = False, trylock: bool = False) -> B:
        return self.raw(f"lock_acquire: {p(addr)} {'try ' if trylock else ''}{'read ' if read else ''}{name}")

    def lock_release(self, addr: int, name: str) -> B:
        return self.raw(f"lock_release: {p(addr)} {name}")

    def fence(self, event: str, driver: str, timeline: str, context: int, seqno: int, flags: str | None = None) -> B:
        return self.raw(f"{event}: driver={driver} timeline={timeline} context={context} seqno={seqno}", flags)


class Writer:
    """Interleaves tasks' blocks with random.Random(seed) and prints the trace."""

    def __init__(self, seed: int, start: float = 2000.0, cpus: int = 4) -> None:
        self.rng = random.Random(seed)
        self.ts_us = int(start * 1_000_000)
        self.cpus = cpus

    def run(self, tasks: list[Task]) -> str:
        done: set[str] = set()
        out: list[str] = []
        while any(t.blocks for t in tasks):
            ready = [t for t in tasks if t.blocks and set(t.blocks[0].needs) <= done]
            if not ready:
                raise RuntimeError("scenario deadlock: no task can run")
            t = self.rng.choice(ready)
            b = t.blocks.pop(0)
            for flags, body in b.lines:
                self.ts_us += self.rng.randint(2, 37)
                sec, usec = divmod(self.ts_us, 1_000_000)
                comm = "<idle>" if t.pid == 0 else t.comm
                out.append(f"{comm:>16}-{t.pid:<7} [{t.cpu:03d}] {flags} {sec:5d}.{usec:06d}: {body}")
            if b.label:
                done.add(b.label)
        return HEADER.format(n=len(out), cpus=self.cpus) + "\n".join(out) + "\n"
