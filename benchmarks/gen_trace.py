"""Generate a realistic ftrace text trace: lock, dma_fence, kmem and sched events, task names
with spaces, a tracefs header. Used by the benchmarks; deterministic for a given seed."""

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
#              | |         |   |||||     |         |
"""

TASKS = [("Web Content", 2711), ("kworker/u8:1", 44), ("Xorg:cs0", 981), ("gnome-shell", 1638),
         ("vm-bind-a", 601), ("<idle>", 0), ("sway", 1200), ("kworker/0:2", 73)]
# in the one order every task takes them
LOCKS = [("(work_completion)(&w->work)", "000000009abcdef0"), ("&dev->struct_mutex", "00000000a1b2c3d4"),
         ("&vm->lock", "000000005e6f7a8b"), ("reservation_ww_class_mutex", "00000000c0ffee00"),
         ("rcu_read_lock", "00000000f00dcafe"), ("&(&obj->lock)->rlock", "0000000012345678")]


def generate(n: int, out, seed: int = 1) -> None:
    """A clean, realistic mix: each task nests locks in one global order and releases them
    LIFO, fences go init -> emit -> signaled -> destroy per timeline, objects are freed once."""
    rnd = random.Random(seed)
    out.write(HEADER.format(n=n))
    ts = 1000_000000
    seq = {5: 1, 6: 1}
    stage = {5: 0, 6: 0}
    fence_events = ("dma_fence_init", "dma_fence_emit", "dma_fence_signaled", "dma_fence_destroy")
    held: dict[int, list[int]] = {}
    live: list[str] = []
    written = 0
    while written < n:
        comm, pid = rnd.choice(TASKS)
        cpu = pid % 4
        ts += rnd.randrange(1, 40)
        pre = f"{comm:>16}-{pid:<7} [{cpu:03d}] ...1. {ts // 1_000_000:5d}.{ts % 1_000_000:06d}: "
        k = rnd.random()
        stack = held.setdefault(pid, [])
        if k < 0.55:
            top = stack[-1] if stack else -1
            if stack and (top == len(LOCKS) - 1 or len(stack) > 2 or rnd.random() < 0.5):
                name, addr = LOCKS[stack.pop()]
                body = f"lock_release: {addr} {name}"
            else:
                j = rnd.randrange(top + 1, len(LOCKS))
                stack.append(j)
                name, addr = LOCKS[j]
                body = f"lock_acquire: {addr} {'read ' if name.startswith('rcu') else ''}{name}"
        elif k < 0.7:
            ctx = rnd.choice((5, 6))
            body = f"{fence_events[stage[ctx]]}: driver=vgem timeline=vgem-{ctx} context={ctx} seqno={seq[ctx]}"
            stage[ctx] += 1
            if stage[ctx] == len(fence_events):
                stage[ctx] = 0
                seq[ctx] += 1
        elif k < 0.85:
            if live and rnd.random() < 0.5:
                p = live.pop(rnd.randrange(len(live)))
                body = f"kfree: call_site=drm_gem_object_release+0x2a/0x60 ptr={p}"
            else:
                p = f"{rnd.getrandbits(64):016x}"
                live.append(p)
                body = (f"kmalloc: call_site=drm_gem_object_init+0x4d/0xb0 ptr={p} bytes_req=256 "
                        "bytes_alloc=256 gfp_flags=GFP_KERNEL|__GFP_ZERO node=-1 accounted=false")
        else:
            o_comm, o_pid = rnd.choice(TASKS)
            body = (f"sched_switch: prev_comm={comm} prev_pid={pid} prev_prio=120 prev_state=S ==> "
                    f"next_comm={o_comm} next_pid={o_pid} next_prio=120")
        out.write(pre + body + "\n")
        written += 1


if __name__ == "__main__":
    generate(int(sys.argv[1]), sys.stdout)
