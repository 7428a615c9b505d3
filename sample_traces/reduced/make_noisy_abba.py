"""Write an AB-BA lock-order inversion buried in unrelated scheduler, kmem, irq and lock noise,
in the tracefs text format (`cat /sys/kernel/tracing/trace` with irq-info, 6.x flags).

    python sample_traces/reduced/make_noisy_abba.py > sample_traces/reduced/abba-noisy.txt

Deterministic (seeded). kworker/1:2-101 takes &dev->state_lock then &dev->fw_lock once; much
later, irq/45-gpu-202 takes them the other way round. Everything else is noise: other tasks
nesting other locks in one consistent order, sched_switch/sched_wakeup, irq_disable/irq_enable
and kmalloc/kfree pairs.
"""

from __future__ import annotations

import random
import sys

HEADER = """# tracer: nop
#
# entries-in-buffer/entries-written: {n}/{n}   #P:4
#
#                                _-----=> irqs-off/BH-disabled
#                               / _----=> need-resched
#                              | / _---=> hardirq/softirq
#                              || / _--=> preempt-depth
#                              ||| / _-=> migrate-disable
#                              |||| /     delay
#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION
#              | |         |   |||||     |         |"""

TASKS = [("kworker/1:2", 101, 1), ("irq/45-gpu", 202, 2), ("systemd-journal", 435, 0),
         ("Xorg", 1187, 3), ("kswapd0", 88, 0), ("gnome-shell", 1420, 3)]
# noise classes, always nested in this order (no cycle among them)
NOISE = [("&mm->mmap_lock", "00000000501e1144"), ("&sb->s_type->i_mutex_key#3", "000000004a8b1c20"),
         ("&rq->__lock", "00000000c0ffee01"), ("&p->pi_lock", "00000000d00dfeed"),
         ("&zone->lock", "0000000077aa5512")]
A = ("&dev->state_lock", "00000000a5a5a001")
B = ("&dev->fw_lock", "00000000b6b6b002")


def line(task, ts, event, body, flags="....."):
    comm, pid, cpu = task
    return f"{f'{comm}-{pid}':>22} [{cpu:03d}] {flags} {ts / 1e6:12.6f}: {event}: {body}"


def noise(rng: random.Random, task, t: int) -> tuple[list[str], int]:
    out = []
    kind = rng.randrange(5)
    if kind == 0:
        other = rng.choice(TASKS)
        out.append(line(task, t, "sched_waking", f"comm={other[0]} pid={other[1]} prio=120 target_cpu={other[2]:03d}", "d..2."))
        t += rng.randint(1, 9)
        out.append(line(task, t, "sched_switch",
                        f"prev_comm={task[0]} prev_pid={task[1]} prev_prio=120 prev_state=S ==> "
                        f"next_comm={other[0]} next_pid={other[1]} next_prio=120", "d..2."))
    elif kind == 1:
        ptr = f"ffff8881{rng.randrange(16**8):08x}"
        out.append(line(task, t, "kmalloc", f"call_site=drm_gem_object_init+0x3c/0x110 ptr={ptr} "
                                            f"bytes_req=96 bytes_alloc=96 gfp_flags=GFP_KERNEL node=-1 accounted=false"))
        t += rng.randint(1, 50)
        out.append(line(task, t, "kfree", f"call_site=drm_gem_object_free+0x2a/0x40 ptr={ptr}"))
    elif kind == 2:
        out.append(line(task, t, "irq_disable", "caller=_raw_spin_lock_irqsave+0x2a/0x60 parent=0x0", "d..1."))
        t += rng.randint(1, 5)
        out.append(line(task, t, "irq_enable", "caller=_raw_spin_unlock_irqrestore+0x44/0x70 parent=0x0", "...1."))
    else:
        k = sorted(rng.sample(range(len(NOISE)), rng.randint(1, 3)))
        held = []
        for j in k:
            name, addr = NOISE[j]
            out.append(line(task, t, "lock_acquire", f"{addr} {name}", "...1."))
            held.append((name, addr))
            t += rng.randint(1, 7)
        for name, addr in reversed(held):
            out.append(line(task, t, "lock_release", f"{addr} {name}", "...1."))
            t += rng.randint(1, 7)
    return out, t + rng.randint(1, 20)


def main() -> None:
    rng = random.Random(10)
    t = 1_000_000_000  # microseconds: 1000.000000 s
    body: list[str] = []
    plan = {150: [TASKS[0]], 420: [TASKS[1]]}  # the two halves of the inversion
    for step in range(600):
        for task in plan.get(step, []):
            first, second = (A, B) if task is TASKS[0] else (B, A)
            for name, addr in (first, second):
                body.append(line(task, t, "lock_acquire", f"{addr} {name}", "...1."))
                t += 3
            for name, addr in (second, first):
                body.append(line(task, t, "lock_release", f"{addr} {name}", "...1."))
                t += 3
        lines, t = noise(rng, rng.choice(TASKS), t)
        body.extend(lines)
    sys.stdout.write(HEADER.format(n=len(body)) + "\n" + "\n".join(body) + "\n")


if __name__ == "__main__":
    main()
