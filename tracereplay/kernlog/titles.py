"""syzbot-compatible report titles: the oops table, title formats and frame skip lists.

This is data mirroring syzkaller's pkg/report/linux.go (title regexps, report regexps, key-frame
anchors and skip lists) plus the small engine that applies it to the text of one report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_PLACEHOLDERS = {
    "{{ADDR}}": r"0x[0-9a-f]+",
    "{{PC}}": r"\[<?(?:0x)?[0-9a-f]+>?\]",
    "{{FUNC}}": r"([a-zA-Z0-9_]+)(?:\.|\+| \()",
    "{{SRC}}": r"([a-zA-Z0-9\-_/.]+\.[a-z]+:[0-9]+)",
}

STACK = object()  # marker in a stack's parts: "parse stack frames here"


def compile_(pattern: str) -> re.Pattern[str]:
    """Compile a syzkaller-style pattern, expanding {{PC}}, {{FUNC}}, {{SRC}}, {{ADDR}}."""
    for key, value in _PLACEHOLDERS.items():
        pattern = pattern.replace(key, value)
    return re.compile(pattern)


# Frames never used as a title's key frame (substring match, as in syzkaller).
GLOBAL_SKIP = [
    "__sanitizer", "__asan", "kasan", "__msan", "kmsan", "kcsan_setup_watchpoint",
    "check_memory_region", "check_heap_object", "check_object", "read_word_at_a_time",
    "(read|write)_once_.*nocheck", "print_address_description", "panic", "invalid_op",
    "report_bug", "fixup_bug", "print_report", "print_usage_bug", "do_error", "invalid_op",
    "_trap", "dump_stack", "warn_slowpath", "warn_alloc", "warn_bogus", "__warn", "alloc_page",
    "k?v?(?:m|z|c)alloc", "krealloc", "kmem_cache", "allocate_slab", "folio_(?:alloc|unlock)",
    "filemap_alloc_folio", "__filemap_get_folio", "find_or_create_page", "do_read_cache_folio",
    "read_cache_page", "pagecache_get_page", "grab_cache_page_write_begin", "slab_",
    "debug_object", "timer_is_static_object", "work_is_static_object", "__might_fault",
    "print_unlock_imbalance", "mark_lock", "add_lock_to_list", "print_bad_irq_dependency",
    "check_prev_add", "check_prevs_add", "check_noncircular", "check_usage",
    "lockdep", "lock_acquire", "lock_release", "lock_class", "__lock_acquire", "lock_is_held",
    "reacquire_held_locks", "spin_lock", "spin_trylock", "spin_unlock",
    "raw_read_lock", "raw_read_trylock", "raw_write_lock", "raw_write_trylock",
    "raw_read_unlock", "raw_write_unlock", "down", "down_read", "down_write",
    "down_read_trylock", "down_write_trylock", "up_read", "up_write",
    "mutex_lock", "mutex_trylock", "mutex_unlock", "mutex_remove_waiter",
    "ww_mutex_lock", "rt_mutex", "osq_lock", "osq_unlock", "atomic_dec", "atomic_long_dec",
    "atomic_sub", "atomic_inc", "atomic_long_inc", "atomic_add", "atomic_try_cmpxchg",
    "instrument_", "__wake_up", "^refcount_", "^kref_", "memcpy", "memcmp", "memset",
    "memchr", "memmove", "memdup", "strcmp", "strncmp", "strcpy", "strlcpy", "strncpy",
    "strscpy", "strlen", "strnstr", "strnlen", "strchr", "strdup", "strndup",
    "copy_to_user", "copy_from_user", "copy_to_iter", "copy_from_iter",
    "copy_page_to_iter", "copy_page_from_iter", "copy_folio_to_iter", "^copyin$",
    "^copyout$", "put_user", "get_user", "might_fault", "might_sleep", "list_add",
    "list_del", "list_replace", "list_move", "list_splice", "_indirect_thunk_",
    "string", "pointer", "snprintf", "scnprintf", "kasprintf", "kvasprintf", "printk",
    "va_format", "dev_info", "dev_notice", "dev_warn", "dev_err", "dev_alert", "dev_crit",
    "dev_emerg", "program_check_exception", "program_check_common", "del_timer",
    "flush_work", "__cancel_work_timer", "cancel_work_sync", "try_to_grab_pending",
    "flush_workqueue", "drain_workqueue", "destroy_workqueue", "queue_work",
    "finish_wait", "kthread_stop", "kobject_", "add_uevent_var", "get_device_parent",
    "device_add", "device_del", "device_unregister", "device_destroy", "device_release",
    "devres_release_all", "hwrng_unregister", "i2c_del_adapter", "__unregister_client",
    "device_for_each_child", "rollback_registered", "unregister_netdev",
    "sysfs_remove", "device_remove_file", "tty_unregister_device", "dummy_urb_enqueue",
    "usb_kill_urb", "usb_kill_anchored_urbs", "usb_control_msg", "usb_hcd_submit_urb",
    "usb_submit_urb", "^complete$", "wait_for_completion", "^kv?free$", "kfree_skb",
    "readb$", "readw$", "readl$", "readq$", "__crc32c_le", "xa_",
    "should_fail", "rcu_lockdep_current_cpu_online", "dump_backtrace", "show_stack",
    "walk_stackframe", "arch_stack_walk", "stack_trace_save", "trace_hardirqs",
    "debug_check_no_locks", "^print_", "^_?raw_", "__might_resched",
]

# Syscall entry prefixes stripped from a key frame.
STRIP_PREFIXES = ["__x64_", "__ia32_", "__arm64_", "__riscv_", "__se_", "__do_", "SYSC_",
                  "SyS_", "compat_SYSC_", "compat_SyS_"]

STACK_START = [re.compile(p) for p in (
    r"Call Trace", r"Call trace:", r"Allocated:", r"Allocated by task [0-9]+",
    r"Freed:", r"Freed by task [0-9]+", r"[^k] backtrace:", r"Backtrace:",
    r"Uninit was stored to memory at")]

FRAME_RES = [compile_(r"^ *(?:{{PC}} ){0,2}{{FUNC}}"),
             compile_(r"^ *(?:{{PC}} ){0,2}(?:\? )?([a-zA-Z0-9_.]+)\+0x[0-9a-f]+/0x")]

STACK_FRAME_RE = re.compile(
    r"^ *(?:\[<?(?:[0-9a-f]+)>?\] ?){0,2}[ \t]+(?:[0-9]+:)?([a-zA-Z0-9_.]+)"
    r"(?:\+0x[0-9a-f]+/0x[0-9a-f]+| \()")

CORRUPTED_LINES = [re.compile(r"^( \[<?(?:0x)?[0-9a-f]+>?\])? should_fail(slab)?(\.[a-z0-9.]+)?\+0x")]

CORRUPTED_TITLES = [re.compile(r"\[ *[0-9]+\.[0-9]+\]")]

RIP_FRAME = (r"(?:IP|NIP|pc |PC is at):? (?:(?:[0-9]+:)?(?:{{PC}} +){0,2}{{FUNC}}"
             r"|(?:[0-9]+:)?0x[0-9a-f]+|(?:[0-9]+:)?{{PC}} +\[< *\(null\)>\] +\(null\)"
             r"|[0-9]+: +\(null\))")


@dataclass
class Stack:
    """Where the key frame comes from: anchors, then frames; first non-skipped wins."""

    parts: list
    parts2: list | None = None
    skip: list[str] = field(default_factory=list)


@dataclass
class Format:
    """One title format of an oops header."""

    title: re.Pattern[str]
    fmt: str
    kind: str
    report: re.Pattern[str] | None = None
    stack: Stack | None = None
    no_stack_trace: bool = False
    corrupted: bool = False


@dataclass
class Oops:
    """An oops header (plain substring of a line), its formats and its suppressions."""

    header: str
    formats: list[Format]
    suppressions: list[re.Pattern[str]]


def _warning_stack(*skip: str) -> Stack:
    return Stack(parts=[compile_(r"(?:" + RIP_FRAME + r"|--- interrupt: [0-9]+ at {{FUNC}})"),
                         STACK],
                 parts2=[compile_(r"Call (?:Trace|trace):"), STACK], skip=list(skip))


def _call_trace(*skip: str) -> Stack:
    return Stack(parts=[compile_(r"Call (?:Trace|trace):"), STACK], skip=list(skip))


def _lockdep(title: str, fmt: str, kind: str, anchor: str, *, old: bool = False,
             at_parts: int = 2, skip: tuple[str, ...] = ()) -> Format:
    """A lockdep headline whose key frame is the `at:` line after ``anchor``."""
    head = re.escape(title) + (r" \]" if old else "")
    return Format(
        title=compile_(re.escape(title)), fmt=fmt, kind=kind,
        report=compile_(head + r"(?:.*\n)+?.*" + anchor),
        stack=Stack(parts=[compile_(anchor)] + [compile_(r"at: (?:{{PC}} +)?{{FUNC}}")] * at_parts
                    + [STACK], skip=["process_one_work", "worker_thread", "flush_workqueue",
                                     "drain_workqueue", "__flush_work", "start_flush_work",
                                     *skip]),
    )


def _lockdep_family(level: str, old: bool) -> list[Format]:
    p = f"{level}: "
    return [
        _lockdep(p + "possible circular locking dependency detected", "possible deadlock in %s",
                 "circular_locking", "is trying to acquire lock", old=old),
        _lockdep(p + "possible irq lock inversion dependency detected",
                 "possible deadlock in %s", "irq_lock_inversion", "just changed the state of lock",
                 old=old, at_parts=1),
        _lockdep(p + "SOFTIRQ-safe -> SOFTIRQ-unsafe lock order detected",
                 "possible deadlock in %s", "safe_to_unsafe", "which became SOFTIRQ-irq-unsafe at:",
                 old=old, at_parts=0),
        _lockdep(p + "HARDIRQ-safe -> HARDIRQ-unsafe lock order detected",
                 "possible deadlock in %s", "safe_to_unsafe", "which became HARDIRQ-irq-unsafe at:",
                 old=old, at_parts=0),
        _lockdep(p + "possible recursive locking detected", "possible deadlock in %s",
                 "recursive_locking", "is trying to acquire lock", old=old),
        Format(title=compile_(re.escape(p + "inconsistent lock state")),
               fmt="inconsistent lock state in %s", kind="inconsistent_lock_state",
               report=compile_(re.escape(p + "inconsistent lock state") + (r" \]" if old else "")
                               + r"(?:.*\n)+?.*takes(?:.*\n)+?.*at: (?:{{PC}} +)?{{FUNC}}"),
               stack=Stack(parts=[compile_(r"takes"), compile_(r"at: (?:{{PC}} +)?{{FUNC}}")])),
    ]


def _single_lockdep(level: str) -> list[Format]:
    """bad unlock balance / held lock freed / locks held / nested lock, WARNING: or BUG:."""
    p = f"{level}: "
    tag = level
    return [
        Format(title=compile_(re.escape(p) + r"bad unlock balance detected!"),
               fmt=f"{tag}: bad unlock balance in %s", kind="bad_unlock_balance",
               report=compile_(re.escape(p) + r"bad unlock balance detected!(?:.*\n){0,15}?"
                               r".*is trying to release lock(?:.*\n){0,15}?.*(?:at: )?{{PC}}? *{{FUNC}}"),
               stack=Stack(parts=[compile_(r"is trying to release lock"),
                                  compile_(r"^(?:.*at: )?(?:{{PC}} +)?{{FUNC}}"), STACK],
                           skip=["lock_release"])),
        Format(title=compile_(re.escape(p) + r"held lock freed!"),
               fmt=f"{tag}: held lock freed in %s", kind="held_lock_freed",
               stack=_call_trace("kfree", "kmem", "slab", "free", "destroy")),
        Format(title=compile_(re.escape(p) + r".*still has locks held!"),
               fmt=f"{tag}: still has locks held in %s", kind="locks_held_at_exit",
               stack=_call_trace()),
        Format(title=compile_(re.escape(p) + r"lock held when returning to user space"),
               fmt=f"{tag}: lock held when returning to user space in %s",
               kind="lock_held_returning_to_user",
               report=compile_(re.escape(p) + r"lock held when returning to user space(?:.*\n)+?"
                               r".*leaving the kernel with locks still held(?:.*\n)+?"
                               r".*at: (?:{{PC}} +)?{{FUNC}}"),
               no_stack_trace=True),
        Format(title=compile_(re.escape(p) + r"Nested lock was not taken"),
               fmt=f"{tag}: nested lock was not taken in %s", kind="nested_lock_not_taken",
               stack=_call_trace()),
        Format(title=compile_(re.escape(p) + r"(?:\[ )?Invalid wait context"),
               fmt="BUG: Invalid wait context in %s" if level == "BUG" else
               "WARNING: locking bug in %s", kind="invalid_wait_context",
               stack=_call_trace()),
    ]


_KASAN_HEAD = r"BUG: KASAN: ([a-z\-]+) in {{FUNC}}"

OOPSES: list[Oops] = [
    Oops("BUG:", [
        Format(title=compile_(r"BUG: KASAN:"), fmt="KASAN: %s %s in %s", kind="kasan",
               report=compile_(_KASAN_HEAD + r"(?:.*\n)+?.*(Read|Write) (?:of size|at addr)"),
               stack=Stack(parts=[compile_(r"BUG: KASAN: (?:[a-z\-]+) in {{FUNC}}"),
                                  compile_(r"Call (?:Trace|trace):"),
                                  STACK])),
        Format(title=compile_(r"BUG: KASAN:"), fmt="KASAN: invalid-free in %s", kind="kasan",
               report=compile_(r"BUG: KASAN: (?:double-free or invalid-free|double-free|invalid-free) in {{FUNC}}"),
               stack=Stack(parts=[compile_(r"BUG: KASAN: (?:double-free or invalid-free|double-free|invalid-free) in {{FUNC}}"),
                                  compile_(r"Call (?:Trace|trace):"), STACK],
                           skip=["kmem_", "slab_", "kfree", "vunmap", "vfree"])),
        Format(title=compile_(r"BUG: KASAN: ([a-z\-]+) on address(?:.*\n)+?.*(Read|Write) of size ([0-9]+)"),
               fmt="KASAN: %s %s", kind="kasan"),
        Format(title=compile_(r"BUG: KASAN: (.*)"), fmt="KASAN: %s", kind="kasan", corrupted=True),
        *_single_lockdep("BUG"),
        Format(title=compile_(r"BUG: MAX_(?:LOCKDEP_KEYS|LOCKDEP_ENTRIES|LOCKDEP_CHAINS|LOCKDEP_CHAIN_HLOCKS|STACK_TRACE_ENTRIES|LOCK_DEPTH|LOCKDEP_SUBCLASSES) too low"),
               fmt="BUG: MAX_%s too low!", kind="lockdep_capacity",
               report=compile_(r"BUG: MAX_([A-Z_]+) too low"), no_stack_trace=True),
        Format(title=compile_(r"BUG: sleeping function called from invalid context at (.*)"),
               fmt="BUG: sleeping function called from invalid context in %s", kind="atomic_sleep",
               stack=_call_trace("__might_sleep", "__might_resched", "might_sleep")),
        Format(title=compile_(r"BUG: scheduling while atomic"),
               fmt="BUG: scheduling while atomic in %s", kind="atomic_sleep",
               stack=_call_trace("schedule", "_switch", "__schedule_bug")),
        Format(title=compile_(r"BUG: using __this_cpu_([a-z_]+)\(\) in preemptible"),
               fmt="BUG: using __this_cpu_%s() in preemptible code in %s", kind="bug",
               stack=_call_trace("dump_stack", "preemption", "preempt", "debug_",
                                 "processor_id", "this_cpu")),
        Format(title=compile_(r"BUG: using smp_processor_id\(\) in preemptible"),
               fmt="BUG: using smp_processor_id() in preemptible code in %s", kind="bug",
               stack=_call_trace("dump_stack", "preemption", "preempt", "debug_",
                                 "processor_id", "this_cpu")),
        Format(title=compile_(r"BUG: workqueue leaked lock or atomic"),
               fmt="BUG: workqueue leaked lock or atomic in %s", kind="bug",
               report=compile_(r"BUG: workqueue leaked lock or atomic(?:.*\n)+?.*last function: ([a-zA-Z0-9_]+)\n"),
               no_stack_trace=True),
        Format(title=compile_(r"BUG: spinlock (lockup suspected|already unlocked|recursion|bad magic|wrong owner|wrong CPU|trylock failure on UP)"),
               fmt="BUG: spinlock %s in %s", kind="bug", stack=_call_trace("spin_")),
        Format(title=compile_(r"BUG: soft lockup"), fmt="BUG: soft lockup in %s", kind="bug",
               stack=Stack(parts=[compile_(RIP_FRAME), compile_(r"Call (?:Trace|trace):"), STACK])),
        Format(title=compile_(r"BUG: (?:unable to handle kernel paging request|unable to handle page fault for address|Unable to handle kernel data access)"),
               fmt="BUG: unable to handle kernel paging request in %s", kind="oops",
               stack=Stack(parts=[compile_(RIP_FRAME), compile_(r"Call (?:Trace|trace):"), STACK])),
        Format(title=compile_(r"BUG: (?:unable to handle kernel NULL pointer dereference|kernel NULL pointer dereference|Kernel NULL pointer dereference)"),
               fmt="BUG: unable to handle kernel NULL pointer dereference in %s", kind="oops",
               stack=Stack(parts=[compile_(RIP_FRAME), compile_(r"Call (?:Trace|trace):"), STACK])),
        Format(title=compile_(r"BUG: (?:unable to handle kernel|Unable to handle kernel)"),
               fmt="BUG: unable to handle kernel", kind="oops", corrupted=True),
        Format(title=compile_(r"BUG: Bad rss-counter state"), fmt="BUG: Bad rss-counter state",
               kind="bug", no_stack_trace=True),
        Format(title=compile_(r"BUG: looking up invalid subclass"),
               fmt="BUG: looking up invalid subclass in %s", kind="lockdep_warn",
               stack=_call_trace()),
        Format(title=compile_(r"BUG: memory leak"), fmt="memory leak in %s", kind="bug",
               stack=Stack(parts=[compile_(r"backtrace(?: \(crc [0-9a-f]+\))?:"), STACK],
                           skip=["kmemleak", "mmap", "kmem", "slab", "alloc", "create_object",
                                 "idr_get", "list_lru_init", "kasprintf", "kvasprintf",
                                 "pcpu_create", "strdup", "strndup", "memdup"])),
        Format(title=compile_(r"BUG:[ \t]*(?:\n|$)"), fmt="BUG: corrupted", kind="bug",
               corrupted=True),
    ], [compile_(p) for p in ("ODEBUG:", "Boot_DEBUG:", "DEBUG:",
                              "BUG: no syscalls can create resource")]),
    Oops("WARNING:", [
        Format(title=compile_(r"WARNING: .*lib/refcount\.c.* (?:at )?refcount_"),
               fmt="WARNING: refcount bug in %s", kind="refcount",
               stack=_warning_stack("refcount", "kobject_")),
        Format(title=compile_(r"WARNING: .*kernel/locking/lockdep\.c.*(?:lock_|lockdep_)"),
               fmt="WARNING: locking bug in %s", kind="lockdep_warn",
               stack=_warning_stack("lock_sock", "release_sock")),
        Format(title=compile_(r"WARNING: .*lib/debugobjects\.c.* (?:at )?(?:debug_print|debug_check)"),
               fmt="WARNING: ODEBUG bug in %s", kind="warning",
               stack=_warning_stack("debug_", "rcu", "hrtimer_", "timer_", "work_", "percpu_",
                                    "vunmap", "vfree", "__free_", "debug_check", "kobject_")),
        *_lockdep_family("WARNING", old=False),
        *_single_lockdep("WARNING"),
        Format(title=compile_(r"WARNING: suspicious RCU usage"),
               fmt="WARNING: suspicious RCU usage in %s", kind="suspicious_rcu_usage",
               report=compile_(r"WARNING: suspicious RCU usage(?:.*\n)+?.*?{{SRC}}"),
               stack=_call_trace("rcu", "kmem", "slab")),
        Format(title=compile_(r"WARNING: kernel stack regs at [0-9a-f]+ in [^ ]* has bad '([^']+)' value"),
               fmt="WARNING: kernel stack regs has bad '%s' value", kind="warning",
               no_stack_trace=True),
        Format(title=compile_(r"WARNING: .* (?:at|in) {{SRC}} {{FUNC}}"),
               fmt="WARNING in %s", kind="warning", stack=_warning_stack(),
               report=None),
        Format(title=compile_(r"WARNING: {{SRC}} at {{FUNC}}"),
               fmt="WARNING in %s", kind="warning", stack=_warning_stack()),
        Format(title=compile_(r"WARNING:[ \t]*(?:\n|$)"), fmt="WARNING: corrupted",
               kind="warning", corrupted=True),
    ], [compile_(p) for p in ("WARNING: /etc/ssh/moduli does not exist",
                              "WARNING: workqueue cpumask: online intersect > possible intersect",
                              "WARNING: [Tt]he mand mount option",
                              "WARNING: Unsupported flag value",
                              "WARNING: ignoring .* from a previously registered",
                              "WARNING: The kernel is not compiled")]),
    Oops("INFO:", [
        *_lockdep_family("INFO", old=True),
        Format(title=compile_(r"INFO: suspicious RCU usage"),
               fmt="INFO: suspicious RCU usage in %s", kind="suspicious_rcu_usage",
               report=compile_(r"INFO: suspicious RCU usage(?:.*\n)+?.*?{{SRC}}"),
               stack=_call_trace("rcu", "kmem", "slab")),
        Format(title=compile_(r"INFO: trying to register non-static key"),
               fmt="INFO: trying to register non-static key in %s", kind="lockdep_non_static_key",
               stack=_call_trace("stack", "lock", "IRQ")),
        Format(title=compile_(r"INFO: rcu_(?:preempt|sched|bh) (?:self-)?detected(?: expedited)? stall"),
               fmt="INFO: rcu detected stall in %s", kind="bug",
               stack=Stack(parts=[compile_(r"apic_timer_interrupt|Call (?:Trace|trace):"), STACK],
                           skip=["apic_timer_interrupt", "rcu"])),
        Format(title=compile_(r"INFO: task .* blocked for more than [0-9]+ seconds"),
               fmt="INFO: task hung in %s", kind="bug", stack=_call_trace()),
        Format(title=compile_(r"INFO:[ \t]*(?:\n|$)"), fmt="INFO: corrupted", kind="bug",
               corrupted=True),
    ], [compile_(p) for p in ("INFO: lockdep is turned off", "INFO: Stall ended before state dump start",
                              "INFO: NMI handler", "INFO: recovery required on readonly filesystem",
                              r"(handler|interrupt).*took too long", "_INFO::",
                              r"INFO: sys_.* is not present in /proc/kallsyms",
                              "INFO: no syscalls can create resource",
                              "INFO: task .* blocked for more than [0-9]+ seconds")]),
    Oops("general protection fault", [
        Format(title=compile_(r"general protection fault.*:"), fmt="general protection fault in %s",
               kind="oops",
               stack=Stack(parts=[compile_(RIP_FRAME), compile_(r"Call (?:Trace|trace):"), STACK])),
    ], []),
    Oops("Unable to handle kernel", [
        Format(title=compile_(r"Unable to handle kernel (?:paging request|NULL pointer dereference)"),
               fmt="unable to handle kernel paging request in %s", kind="oops",
               stack=Stack(parts=[compile_(r"(?:pc : |PC is at ){{FUNC}}"),
                                  compile_(r"Call (?:Trace|trace):"), STACK])),
    ], []),
    Oops("Kernel panic", [
        Format(title=compile_(r"Kernel panic - not syncing: panic_on_warn set"),
               fmt="kernel panic: panic_on_warn set", kind="oops", corrupted=True),
        Format(title=compile_(r"Kernel panic - not syncing: Fatal exception"),
               fmt="kernel panic: Fatal exception", kind="oops", corrupted=True),
        Format(title=compile_(r"Kernel panic - not syncing: (.*)"), fmt="kernel panic: %s",
               kind="oops", no_stack_trace=True),
    ], []),
    Oops("kernel BUG", [
        Format(title=compile_(r"kernel BUG at mm/usercopy.c"), fmt="BUG: bad usercopy in %s",
               kind="bug", stack=_call_trace("usercopy", "__check")),
        Format(title=compile_(r"kernel BUG at lib/list_debug.c"), fmt="BUG: corrupted list in %s",
               kind="bug", stack=_call_trace()),
        Format(title=compile_(r"kernel BUG at (.*)"), fmt="kernel BUG in %s", kind="bug",
               report=compile_(r"kernel BUG at .*"),
               stack=Stack(parts=[compile_(RIP_FRAME), compile_(r"Call (?:Trace|trace):"), STACK],
                           parts2=[compile_(r"Call (?:Trace|trace):"), STACK])),
    ], []),
    Oops("released with pending signals!", [
        Format(title=compile_(r"Fence .* released with pending signals!"),
               fmt="WARNING: fence released with pending signals in %s",
               kind="fence_pending_signals", stack=_warning_stack("dma_fence_release",
                                                                  "dma_fence_put")),
    ], []),
]

# Lines matching an oops header that still do not start a new report.
REPORT_START_IGNORES = [compile_(p) for p in (
    r"invalid opcode: 0000", r"Kernel panic - not syncing", r"unregister_netdevice: waiting for",
    r"PANIC: double fault", r"Internal error: Oops - BUG: 0")]

INFO_MESSAGES_WITH_STACK = ["vmalloc: allocation failure:", "FAULT_INJECTION: forcing a failure",
                            "FAULT_FLAG_ALLOW_RETRY missing"]


def match_oops(line: str) -> Oops | None:
    """The oops whose header this raw line carries (syzkaller's matchOops), if any."""
    for oops in OOPSES:
        pos = line.find(oops.header)
        if pos == -1:
            continue
        if pos > 0 and (line[pos - 1].isalnum() or line[pos - 1] == "_"):
            continue
        if any(s.search(line) for s in oops.suppressions):
            continue
        return oops
    return None


def _skip_re(stack: Stack) -> re.Pattern[str]:
    return re.compile("|".join(GLOBAL_SKIP + stack.skip))


def _strip_prefixes(frame: str) -> str:
    for prefix in STRIP_PREFIXES:
        if frame.startswith(prefix):
            return frame[len(prefix):]
    return frame


def _frames_for(parts: list, text: str, skip: re.Pattern[str]) -> tuple[list[str], str]:
    """Candidate key frames from ``text`` following the anchors in ``parts``."""
    lines = text.split("\n")
    frames: list[str] = []
    i = 0
    for idx, part in enumerate(parts):
        if part is STACK:
            nxt = parts[idx + 1] if idx + 1 < len(parts) else None
            while i < len(lines):
                ln = lines[i]
                i += 1
                if any(r.search(ln) for r in CORRUPTED_LINES):
                    return frames, "corrupted line in report"
                if any(r.search(ln) for r in STACK_START):
                    if frames and any(not skip.search(f) for f in frames):
                        break
                    continue
                if nxt is not None and (m := nxt.search(ln)):
                    if m.groups() and m.group(1):
                        frames.append(m.group(1))
                    break
                for r in FRAME_RES:
                    m = r.search(ln)
                    if m:
                        frames.append(m.group(1))
                        break
            if nxt is not None:
                continue
            break
        if idx > 0 and parts[idx - 1] is STACK:
            continue  # matched inside the stack loop
        found = False
        while i < len(lines):
            m = part.search(lines[i])
            i += 1
            if m:
                if m.groups() and m.group(1):
                    frames.append(m.group(1))
                found = True
                break
        if not found:
            break
    return frames, ""


def key_frame(stack: Stack, text: str) -> tuple[str, str]:
    """(key frame, corrupted reason) for ``text`` starting at the report's title match."""
    skip = _skip_re(stack)
    reason = ""
    for parts in filter(None, (stack.parts, stack.parts2)):
        frames, reason = _frames_for(parts, text, skip)
        for frame in frames:
            if not skip.search(frame):
                return _strip_prefixes(frame), reason
    return "", reason or "could not extract frame"


@dataclass
class Title:
    """The outcome of titling one report."""

    title: str
    kind: str
    corrupted: str  # "" when not corrupted
    fmt: Format | None


def describe(text: str, oops: Oops) -> Title:
    """syzkaller's extractDescription: the earliest-matching format of ``oops`` titles ``text``."""
    found: list[tuple[int, int, Format, re.Match[str]]] = []
    for order, f in enumerate(oops.formats):
        m = f.title.search(text)
        if m is not None:
            found.append((m.start(), order, f, m))
    for start, _order, f, m in sorted(found, key=lambda x: (x[0], x[1])):
        title = _apply(f, m, text, start)
        if title is not None:
            return title
    return Title("", "", "", None)


def _apply(f: Format, m: re.Match[str], text: str, start: int) -> Title | None:
    """Title ``text`` with format ``f`` whose title matched at ``start`` (None: report regexp failed)."""
    args = [g or "" for g in m.groups()]
    corrupted = ""
    if f.report is not None:
        rm = f.report.search(text, start)
        if rm is None:
            return None
        args = [g or "" for g in rm.groups()]
    if f.stack is not None:
        frame, reason = key_frame(f.stack, text[start:])
        if not frame:
            frame = "corrupted"
            corrupted = reason or "could not extract frame"
        elif reason:
            corrupted = reason
        args.append(frame)
    need = f.fmt.count("%s")
    if need < len(args):
        # titles use only the trailing captures (syzkaller uses positional %[N]v)
        args = _select_args(f, args)
    title = sanitize(f.fmt % tuple(args[:need]) if need else f.fmt)
    if f.corrupted:
        corrupted = "report format is marked as corrupted"
    return Title(title, f.kind, corrupted, f)


def _select_args(f: Format, args: list[str]) -> list[str]:
    """Pick the captures the format prints (mirrors the %[N]v indices in linux.go)."""
    fmt = f.fmt
    if fmt.startswith("KASAN: %s %s in"):
        return [args[0], args[2], args[-1]]  # bug type, Read/Write, key frame
    if "too low" in fmt:
        return args[:1]
    return args[-fmt.count("%s"):]


# syzkaller's dynamicTitleReplacement: unstable parts of a title become ADDR / LINE / NUM.
_TITLE_REPLACEMENTS = [
    (re.compile(r"syz-executor\.?[0-9]+((/|:)[0-9]+)?"), "syz-executor"),
    (re.compile(r"([a-zA-Z][a-zA-Z0-9_.]+)\+0x[0-9a-z]+/0x[0-9a-z]+"), r"\1"),
    (re.compile(r"([^a-zA-Z0-9])(?:0x)?[0-9a-f]{6,}"), r"\1ADDR"),
    (re.compile(r"([^a-zA-Z0-9])(?:[0-9]{1,3}\.){3}[0-9]{1,3}"), r"\1IP"),
    (re.compile(r"(\.\w+)(:[0-9]+)+"), r"\1:LINE"),
    (re.compile(r"CPU#[0-9]+"), "CPU"),
]
_NUM = re.compile(r"(\W)(\d+)(\W|$)")


def sanitize(title: str) -> str:
    """Replace addresses, line numbers and stray numbers in a title as syzkaller does."""
    for pattern, repl in _TITLE_REPLACEMENTS:
        title = pattern.sub(repl, title)
    prev = None
    while prev != title:
        prev, title = title, _NUM.sub(r"\1NUM\3", title)
    return title
