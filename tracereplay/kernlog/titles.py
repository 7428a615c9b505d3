"""syzbot-compatible report titles: the oops table, title formats and frame skip lists.

This is data mirroring syzkaller's pkg/report/linux.go (title regexps, report regexps, key-frame
anchors and skip lists: ``linuxOopses`` and ``linuxStackParams``) plus the small engine of
pkg/report/report.go (``extractDescription`` / ``extractStackFrame``) that applies it to the
text of one report.  Formats use syzkaller's positional ``%[N]v`` verbs: the report regexp's
captures (or the title regexp's, when there is no report regexp) come first, then one key frame
per stack trace of the format's stack.
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

STACK = object()  # marker in a stack's parts: syzkaller's parseStackTrace


def compile_(pattern: str) -> re.Pattern[str]:
    """Compile a syzkaller-style pattern, expanding {{PC}}, {{FUNC}}, {{SRC}}, {{ADDR}}."""
    for key, value in _PLACEHOLDERS.items():
        pattern = pattern.replace(key, value)
    return re.compile(pattern)


# linuxStackParams.skipPatterns: frames never used as a title's key frame (regexp search).
GLOBAL_SKIP = [
    "__sanitizer", "__asan", "kasan", "hwasan", "__msan", "kmsan", "kcsan_setup_watchpoint",
    "check_memory_region", "check_heap_object", "check_object", "read_word_at_a_time",
    "(read|write)_once_.*nocheck", "print_address_description", "panic", "invalid_op",
    "report_bug", "fixup_bug", "print_report", "print_usage_bug", "do_error", "invalid_op",
    "_trap$|do_trap", "show_stack", "dump_stack", "walk_stack", "dump_backtrace",
    "warn_slowpath", "warn_alloc", "warn_bogus", "__warn", "alloc_page", "k?v?(?:m|z|c)alloc",
    "krealloc", "kmem_cache", "allocate_slab", "__alloc_frozen_pages_noprof",
    "folio_(?:alloc|unlock)", "filemap_alloc_folio",
    "__filemap_get_folio", "find_or_create_page", "do_read_cache_folio", "read_cache_page",
    "pagecache_get_page", "grab_cache_page_write_begin", "slab_", "debug_object",
    "timer_is_static_object", "work_is_static_object", "__might_fault", "print_unlock",
    "imbalance_bug", "lockdep", "bh_enable", "bh_disable", "perf_trace", "lock_acquire",
    "lock_release", "lock_class", "mark_lock", "(reacquire|mark)_held_locks", "raw_spin_rq",
    "spin_lock", "spin_trylock", "spin_unlock", "read_lock", "read_trylock", "write_lock",
    "write_trylock", "read_unlock", "write_unlock", "^down$", "down_read", "down_write",
    "down_read_trylock", "down_write_trylock", "down_trylock", "up_read", "up_write",
    "^mutex_", "^__mutex_", "^rt_mutex_", "owner_on_cpu", "osq_lock", "osq_unlock",
    "atomic(64)?_(dec|inc|read|set|or|xor|and|add|sub|fetch|xchg|cmpxchg|try)",
    "(set|clear|change|test)_bit", "__wake_up", "^refcount_", "^kref_", "ref_tracker",
    "seqprop_assert", "memcpy", "memcmp", "memset", "memchr", "memmove", "memdup", "strcmp",
    "strncmp", "strcpy", "strlcpy", "strncpy", "strscpy", "strlen", "strstr", "strnstr",
    "strnlen", "strchr", "strdup", "strndup", "copy_to_user", "copy_from_user",
    "copy_to_iter", "copy_from_iter", "copy_page_to_iter", "copy_page_from_iter",
    "copy_folio_to_iter", "^copyin$", "^copyout$", "put_user", "get_user", "might_fault",
    "might_sleep", "list_add", "list_del", "list_replace", "list_move", "list_splice",
    "^rb_", "^__rb_", "_indirect_thunk_", "string", "pointer", "snprintf", "scnprintf",
    "kasprintf", "kvasprintf", "printk", "va_format", "dev_info", "dev_notice", "dev_warn",
    "dev_err", "dev_alert", "dev_crit", "dev_emerg", "program_check_exception",
    "program_check_common", "del_timer", "flush_work", "__cancel_work_timer",
    "cancel_work_sync", "try_to_grab_pending", "flush_workqueue", "drain_workqueue",
    "destroy_workqueue", "queue_work", "finish_wait", "kthread_stop", "kobject_",
    "add_uevent_var", "get_device_parent", "device_add", "device_del", "device_unregister",
    "device_destroy", "device_release", "devres_release_all", "hwrng_unregister",
    "i2c_del_adapter", "__unregister_client", "device_for_each_child", "rollback_registered",
    "unregister_netdev", "sysfs_remove", "device_remove_file", "tty_unregister_device",
    "dummy_urb_enqueue", "usb_kill_urb", "usb_kill_anchored_urbs", "usb_control_msg",
    "usb_hcd_submit_urb", "usb_submit_urb", "^complete$", "wait_for_completion",
    "^kv?free$", "kfree_skb", "readb$", "readw$", "readl$", "readq$", "writeb$", "writew$",
    "writel$", "writeq$", "logic_in", "logic_out", r"^crc\d+", "crc_itu_t",
    "__might_resched", "assertfail", "^iput$", "^iput_final$", "^ihold$",
    "hex_dump_to_buffer", "print_hex_dump", "^klist_", "(trace|lockdep)_(hard|soft)irq",
    "^(un)?lock_page", "stack_trace_consume_entry", "arch_stack_walk", "stack_trace_save",
    "insert_work", "__queue_delayed_work", "queue_delayed_work_on", "ida_free",
    "do_(kernel|translation)_fault", "do_mem_abort", "el1_abort", "el1h_64_sync(?:_handler)?",
    "print_tainted", "xas_(?:start|load|find)", "find_lock_entries",
    "truncate_inode_pages_range", "__phys_addr", "__fortify_report", "cleanup_srcu_struct",
    "rhashtable_lookup", "extract_(user|iter)_to_sg", "drop_nlink", "^get_taint$",
    "^put_device$", "lock_timer_base", "__timer_delete_sync", "sk_stop_timer_sync",
    "__mod_timer", "fast_dput", "dput",
]

# linuxStackParams.stripFramePrefixes: syscall entry prefixes; the shortest strip wins.
STRIP_PREFIXES = ["SYSC_", "SyS_", "sys_", "__x64_", "__ia32_", "__arm64_", "____sys_",
                  "___sys_", "__sys_", "__se_", "__se_sys_", "__do_sys_", "compat_SYSC_", "compat_SyS_",
                  "ksys_"]

# linuxStackParams.stackStartRes
STACK_START = [re.compile(p) for p in (
    r"Call (?:T|t)race", r"Allocated:", r"Allocated by task [0-9]+:", r"Freed:",
    r"Freed by task [0-9]+:", r"[^k] backtrace(?: \(crc [0-9A-Fa-f]*\))?:", r"Backtrace:",
    r"Uninit was stored to memory at")]

# linuxStackParams.frameRes
FRAME_RES = [compile_(r"^ *(?:{{PC}} ){0,2}{{FUNC}}"),
             compile_(r"^ *{{PC}} \(([a-zA-Z0-9_.]+)\) from {{PC}} \({{FUNC}}")]

STACK_FRAME_RE = FRAME_RES[0]  # kept for callers that test "is this line a frame"

# linuxStackParams.corruptedLines
CORRUPTED_LINES = [re.compile(r"^( \[<?(?:0x)?[0-9a-f]+>?\])? should_fail(slab)?(\.[a-z0-9.]+)?\+0x")]

# linuxCorruptedTitles
CORRUPTED_TITLES = [re.compile(r"\[ *[0-9]+\.[0-9]+\]")]

RIP_FRAME = (r"(?:IP|NIP|pc |PC is at):? (?:(?:[0-9]+:)?(?:{{PC}} +){0,2}{{FUNC}}"
             r"|(?:[0-9]+:)?0x[0-9a-f]+|(?:[0-9]+:)?{{PC}} +\[< *\(null\)>\] +\(null\)"
             r"|[0-9]+: +\(null\))")
CALL_TRACE = r"(?:Call (?:T|t)race:)|(?:Backtrace:)"

CORRUPTED_NO_FRAMES = "extracted no frames"
CORRUPTED_NO_REPORT = "matched title but not report regexp"


@dataclass
class Stack:
    """syzkaller's stackFmt: parts (anchors, STACK), parts2 (fallback) and a skip list."""

    parts: list
    parts2: list | None = None
    skip: list[str] = field(default_factory=list)


@dataclass
class Format:
    """One title format of an oops header (syzkaller's oopsFormat) and our report kind."""

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
    kind: str = "bug"  # the kind of a report titled with the bare header line


def _f(title: str, fmt: str, kind: str, report: str | None = None, stack: Stack | None = None,
       *, no_stack_trace: bool = False, corrupted: bool = False) -> Format:
    return Format(title=compile_(title), fmt=fmt, kind=kind,
                  report=compile_(report) if report is not None else None, stack=stack,
                  no_stack_trace=no_stack_trace, corrupted=corrupted)


def _stack(*parts: str | object, skip: tuple[str, ...] = (),
           parts2: tuple[str | object, ...] = ()) -> Stack:
    def comp(ps):
        return [p if p is STACK else compile_(p) for p in ps]
    return Stack(parts=comp(parts), parts2=comp(parts2) or None, skip=list(skip))


def _call_trace(*skip: str) -> Stack:
    return _stack(CALL_TRACE, STACK, skip=skip)


def _rip_call_trace(*skip: str) -> Stack:
    return _stack(RIP_FRAME, CALL_TRACE, STACK, skip=skip)


def warning_stack(*skip: str) -> Stack:
    """syzkaller's warningStackFmt: from the RIP line, else from the call trace."""
    return _stack("(?:" + RIP_FRAME + "|--- interrupt: [0-9]+ at {{FUNC}})", STACK,
                  parts2=(CALL_TRACE, STACK), skip=skip)


_AT = r"at: (?:{{PC}} +)?{{FUNC}}"
_KASAN_FREE = r"BUG: KASAN: (?:double-free or invalid-free|double-free|invalid-free) in {{FUNC}}"
_LOCK_KINDS = {"circular": "circular_locking", "inversion": "irq_lock_inversion",
               "unsafe": "safe_to_unsafe", "recursive": "recursive_locking",
               "inconsistent": "inconsistent_lock_state"}

OOPSES: list[Oops] = [
    Oops("BUG:", [
        _f(r"BUG: KASAN:", "KASAN: %[1]v %[3]v in %[4]v", "kasan",
           r"BUG: KASAN: ([a-z\-]+) in {{FUNC}}(?:.*\n)+?.*(Read|Write) (?:of size|at addr) "
           r"(?:[0-9a-f]+)",
           _stack(r"BUG: KASAN: (?:[a-z\-]+) in {{FUNC}}", CALL_TRACE, STACK,
                  skip=("kernel_fault", "tag_check", "mem_abort", "^el1_", "^el1h_"))),
        _f(r"BUG: KASAN:", "KASAN: invalid-free in %[2]v", "kasan", _KASAN_FREE,
           _stack(_KASAN_FREE, CALL_TRACE, STACK, skip=("slab_", "kfree", "vunmap", "vfree"))),
        _f(r"BUG: KASAN: ([a-z\-]+) on address(?:.*\n)+?.*(Read|Write) of size ([0-9]+)",
           "KASAN: %[1]v %[2]v", "kasan"),
        _f(r"BUG: KASAN: (.*)", "KASAN: %[1]v", "kasan", corrupted=True),
        _f(r"BUG: (?:unable to handle kernel paging request|unable to handle page fault for "
           r"address|Unable to handle kernel data access)",
           "BUG: unable to handle kernel paging request in %[1]v", "oops",
           stack=_rip_call_trace()),
        _f(r"BUG: (?:unable to handle kernel NULL pointer dereference|kernel NULL pointer "
           r"dereference|Kernel NULL pointer dereference)",
           "BUG: unable to handle kernel NULL pointer dereference in %[1]v", "oops",
           stack=_rip_call_trace()),
        _f(r"BUG: (?:unable to handle kernel|Unable to handle kernel)",
           "BUG: unable to handle kernel", "oops", corrupted=True),
        _f(r"BUG: (spinlock|rwlock) (lockup suspected|already unlocked|recursion|cpu recursion"
           r"|bad magic|wrong owner|wrong CPU|trylock failure on UP)",
           "BUG: %[1]v %[2]v in %[3]v", "lock_debug",
           stack=_call_trace("spin_", "_lock", "_unlock")),
        _f(r"BUG: soft lockup", "BUG: soft lockup in %[1]v", "bug", stack=_rip_call_trace()),
        _f(r"BUG: .*still has locks held!", "BUG: still has locks held in %[1]v",
           "locks_held_at_exit", r"BUG: .*still has locks held!(?:.*\n)+?.*{{PC}} +{{FUNC}}"),
        _f(r"BUG: scheduling while atomic", "BUG: scheduling while atomic in %[1]v",
           "atomic_sleep", stack=_call_trace("schedule")),
        _f(r"BUG: lock held when returning to user space",
           "BUG: lock held when returning to user space in %[1]v",
           "lock_held_returning_to_user",
           r"BUG: lock held when returning to user space(?:.*\n)+?.*leaving the kernel with "
           r"locks still held(?:.*\n)+?.*" + _AT, no_stack_trace=True),
        _f(r"BUG: bad unlock balance detected!", "BUG: bad unlock balance in %[1]v",
           "bad_unlock_balance", stack=_stack(r"{{PC}} +{{FUNC}}", CALL_TRACE, STACK)),
        _f(r"BUG: held lock freed!", "BUG: held lock freed in %[1]v", "held_lock_freed",
           r"BUG: held lock freed!(?:.*\n)+?.*{{PC}} +{{FUNC}}"),
        _f(r"BUG: Bad rss-counter state", "BUG: Bad rss-counter state", "bug",
           no_stack_trace=True),
        _f(r"BUG: non-zero nr_ptes on freeing mm", "BUG: non-zero nr_ptes on freeing mm", "bug",
           no_stack_trace=True),
        _f(r"BUG: non-zero nr_pmds on freeing mm", "BUG: non-zero nr_pmds on freeing mm", "bug",
           no_stack_trace=True),
        _f(r"BUG: Dentry .* still in use", "BUG: Dentry still in use in %[1]v", "bug",
           r"BUG: Dentry .* still in use \([0-9]+\) \[(unmount) of ([^\]]+)\]"),
        _f(r"BUG: Bad page state", "BUG: Bad page state", "bug"),
        _f(r"BUG: Bad page map", "BUG: Bad page map", "bug"),
        _f(r"BUG: workqueue lockup", "BUG: workqueue lockup", "bug", no_stack_trace=True),
        _f(r"BUG: sleeping function called from invalid context at (.*)",
           "BUG: sleeping function called from invalid context in %[2]v", "atomic_sleep",
           stack=_call_trace()),
        _f(r"BUG: using ([a-z_]+)\(\) in preemptible",
           "BUG: using %[1]v() in preemptible code in %[2]v", "bug",
           stack=_call_trace("dump_stack", "preemption", "preempt", "debug_", "processor_id",
                             "this_cpu")),
        _f(r"BUG: workqueue leaked lock or atomic", "BUG: workqueue leaked lock or atomic in %[1]v",
           "bug", r"BUG: workqueue leaked lock or atomic(?:.*\n)+?.*last function: "
           r"([a-zA-Z0-9_]+)\n", no_stack_trace=True),
        _f(r"BUG: memory leak", "memory leak in %[1]v", "bug",
           stack=_stack(r"backtrace:", STACK,
                        skip=("kmemleak", "mmap", "kmem", "slab", "alloc", "create_object",
                              "idr_get", "list_lru_init", "kasprintf", "kvasprintf",
                              "pcpu_create", "strdup", "strndup", "memdup"))),
        _f(r"BUG: .*stack guard page was hit at", "BUG: stack guard page was hit in %[1]v", "bug",
           stack=_rip_call_trace()),
        # amd64 and arm/arm64 print this differently; syzkaller titles it like the WARNING form.
        _f(r"BUG: Invalid wait context", "WARNING: locking bug in %[1]v", "invalid_wait_context",
           stack=_call_trace("lock_sock", "release_sock")),
        # tracereplay additions (not in linux.go): lockdep capacity and subclass checks.
        _f(r"BUG: MAX_(?:LOCKDEP_KEYS|LOCKDEP_ENTRIES|LOCKDEP_CHAINS|LOCKDEP_CHAIN_HLOCKS"
           r"|STACK_TRACE_ENTRIES|LOCK_DEPTH|LOCKDEP_SUBCLASSES) too low",
           "BUG: MAX_%[1]v too low!", "lockdep_capacity", r"BUG: MAX_([A-Z_]+) too low",
           no_stack_trace=True),
        _f(r"BUG: looking up invalid subclass", "BUG: looking up invalid subclass in %[1]v",
           "lockdep_warn", stack=_call_trace()),
        _f(r"BUG:[ \t\n\r\f\v]*(?:\n|$)", "BUG: corrupted", "bug", corrupted=True),
    ], [compile_(p) for p in ("ODEBUG:", "Boot_DEBUG:", "xlog_status:", "DEBUG:",
                              "BUG: no syscalls can create resource")]),
    Oops("WARNING:", [
        _f(r"WARNING: .*lib/debugobjects\.c.* (?:debug_print|debug_check|at)",
           "WARNING: ODEBUG bug in %[1]v", "warning",
           stack=warning_stack("debug_", "rcu", "hrtimer_", "timer_", "work_", "percpu_",
                               "vunmap", "vfree", "__free_", "debug_check", "kobject_")),
        _f(r"WARNING: .*mm/usercopy\.c.* (?:usercopy_warn|at)", "WARNING: bad usercopy in %[1]v",
           "warning", stack=warning_stack("usercopy", "__check")),
        _f(r"WARNING: .*lib/kobject\.c.* (?:kobject_|at)", "WARNING: kobject bug in %[1]v", "warning",
           stack=warning_stack("kobject_")),
        _f(r"WARNING: .*fs/proc/generic\.c.* (?:proc_register|at)",
           "WARNING: proc registration bug in %[1]v", "warning", stack=warning_stack("proc_")),
        _f(r"WARNING: .*lib/refcount\.c.* (?:refcount_|at)", "WARNING: refcount bug in %[1]v",
           "refcount", stack=warning_stack("refcount", "kobject_")),
        _f(r"WARNING: .*kernel/locking/lockdep\.c.*lock_", "WARNING: locking bug in %[1]v",
           "lockdep_warn", stack=warning_stack("lock_sock", "release_sock")),
        _f(r"WARNING: .*still has locks held!", "WARNING: still has locks held in %[1]v",
           "locks_held_at_exit", r"WARNING: .*still has locks held!(?:.*\n)+?.*at: {{FUNC}}"),
        _f(r"WARNING: Nested lock was not taken", "WARNING: nested lock was not taken in %[1]v",
           "nested_lock_not_taken", stack=warning_stack()),
        _f(r"WARNING: lock held when returning to user space",
           "WARNING: lock held when returning to user space in %[1]v",
           "lock_held_returning_to_user",
           r"WARNING: lock held when returning to user space(?:.*\n)+?.*leaving the kernel "
           r"with locks still held(?:.*\n)+?.*" + _AT, no_stack_trace=True),
        _f(r"WARNING: .*mm/.*\.c.* k?.?malloc", "WARNING: kmalloc bug in %[1]v", "warning",
           stack=warning_stack("kmalloc", "krealloc", "slab", "kmem")),
        _f(r"WARNING: .*mm/vmalloc.c.*__vmalloc_node", "WARNING: zero-size vmalloc in %[1]v",
           "warning", stack=warning_stack()),
        _f(r"WARNING: .* usb_submit_urb", "WARNING in %[1]v/usb_submit_urb", "warning",
           stack=warning_stack("usb_submit_urb", "usb_start_wait_urb", "usb_bulk_msg",
                               "usb_interrupt_msg", "usb_control_msg")),
        # 6.19+ header without a symbol: "WARNING: lib/refcount.c:19 at 0x0, CPU#1: comm/pid"
        _f(r"WARNING: {{SRC}} at 0x\d+, CPU#\d+", "WARNING in %[2]v", "warning",
           stack=warning_stack()),
        _f(r"WARNING: .* at {{SRC}} {{FUNC}}", "WARNING in %[3]v", "warning",
           stack=warning_stack()),
        # 6.15+ header: "WARNING: lib/refcount.c:28 at refcount_warn_saturate+0x59/0x90, CPU#0: ..."
        _f(r"WARNING: {{SRC}} at {{FUNC}}", "WARNING in %[3]v", "warning",
           stack=warning_stack()),
        _f(r"WARNING: \[.*\] {{SRC}} at {{FUNC}}.*", "WARNING in %[3]v", "warning",
           stack=warning_stack()),
        _f(r"WARNING: possible circular locking dependency detected", "possible deadlock in %[1]v",
           "circular_locking",
           r"WARNING: possible circular locking dependency detected(?:.*\n)+?.*is trying to "
           r"acquire lock",
           _stack(_AT, _AT, STACK, skip=("process_one_work", "flush_workqueue",
                                         "drain_workqueue", "destroy_workqueue"))),
        _f(r"WARNING: possible irq lock inversion dependency detected",
           "possible deadlock in %[1]v", "irq_lock_inversion",
           r"WARNING: possible irq lock inversion dependency detected(?:.*\n)+?.*just changed "
           r"the state of lock(?:.*\n)+?.*" + _AT),
        _f(r"WARNING: .*-safe -> .*-unsafe lock order detected", "possible deadlock in %[1]v",
           "safe_to_unsafe", stack=_stack(r"which became (?:.*) at:", STACK)),
        _f(r"WARNING: possible recursive locking detected", "possible deadlock in %[1]v",
           "recursive_locking",
           r"WARNING: possible recursive locking detected(?:.*\n)+?.*is trying to acquire "
           r"lock(?:.*\n)+?.*" + _AT),
        _f(r"WARNING: inconsistent lock state", "inconsistent lock state in %[2]v",
           "inconsistent_lock_state",
           r"WARNING: inconsistent lock state(?:.*\n)+?.*takes(?:.*\n)+?.*" + _AT,
           _call_trace()),
        _f(r"WARNING: suspicious RCU usage", "WARNING: suspicious RCU usage in %[2]v",
           "suspicious_rcu_usage", r"WARNING: suspicious RCU usage(?:.*\n)+?.*?{{SRC}}",
           _call_trace("rcu", "kmem", "slab")),
        _f(r"WARNING: kernel stack regs at [0-9a-f]+ in [^ ]* has bad '([^']+)' value",
           "WARNING: kernel stack regs has bad '%[1]v' value", "warning", no_stack_trace=True),
        _f(r"WARNING: kernel stack frame pointer at [0-9a-f]+ in [^ ]* has bad value",
           "WARNING: kernel stack frame pointer has bad value", "warning", no_stack_trace=True),
        _f(r"WARNING: bad unlock balance detected!", "WARNING: bad unlock balance in %[1]v",
           "bad_unlock_balance", stack=_stack(r"{{PC}} +{{FUNC}}", CALL_TRACE, STACK)),
        _f(r"WARNING: held lock freed!", "WARNING: held lock freed in %[1]v", "held_lock_freed",
           r"WARNING: held lock freed!(?:.*\n)+?.*at:(?: {{PC}})? +{{FUNC}}"),
        _f(r"WARNING: kernel stack regs .* has bad 'bp' value",
           "WARNING: kernel stack regs has bad value", "warning", no_stack_trace=True),
        _f(r"WARNING: kernel stack frame pointer .* has bad value",
           "WARNING: kernel stack regs has bad value", "warning", no_stack_trace=True),
        _f(r"WARNING:[ \t\n\r\f\v]*(?:\n|$)", "WARNING: corrupted", "warning", corrupted=True),
    ], [compile_(p) for p in (
        "WARNING: /etc/ssh/moduli does not exist, using fixed modulus",
        "WARNING: workqueue cpumask: online intersect > possible intersect",
        "WARNING: [Tt]he mand mount option (is being|has been) deprecated",
        r"WARNING: Unsupported flag value\(s\) of 0x%x in DT_FLAGS_1",
        "WARNING: Unprivileged eBPF is enabled with eIBRS",
        r"WARNING: fbcon: Driver '(.*)' missed to adjust virtual screen size",
        "WARNING: See https.* for mitigation options.",
        "WARNING: kernel not compiled with CPU_SRSO", r"EXT4-[Ff][Ss](?: \(.*\))?:",
        r"(?i)warning: .* uses (deprecated v2 capabilities|wireless extensions)",
        r"XFS \(\w+\): WARNING")], kind="warning"),
    Oops("INFO:", [
        _f(r"INFO: possible circular locking dependency detected", "possible deadlock in %[1]v",
           "circular_locking",
           r"INFO: possible circular locking dependency detected \](?:.*\n)+?.*is trying to "
           r"acquire lock(?:.*\n)+?.*at: {{PC}} +{{FUNC}}"),
        _f(r"INFO: possible irq lock inversion dependency detected", "possible deadlock in %[1]v",
           "irq_lock_inversion",
           r"INFO: possible irq lock inversion dependency detected \](?:.*\n)+?.*just changed "
           r"the state of lock(?:.*\n)+?.*at: {{PC}} +{{FUNC}}"),
        _f(r"INFO: SOFTIRQ-safe -> SOFTIRQ-unsafe lock order detected",
           "possible deadlock in %[1]v", "safe_to_unsafe",
           r"INFO: SOFTIRQ-safe -> SOFTIRQ-unsafe lock order detected \](?:.*\n)+?.*is trying "
           r"to acquire(?:.*\n)+?.*at: {{PC}} +{{FUNC}}"),
        _f(r"INFO: possible recursive locking detected", "possible deadlock in %[1]v",
           "recursive_locking",
           r"INFO: possible recursive locking detected \](?:.*\n)+?.*is trying to acquire "
           r"lock(?:.*\n)+?.*at: {{PC}} +{{FUNC}}"),
        _f(r"INFO: inconsistent lock state", "inconsistent lock state in %[1]v",
           "inconsistent_lock_state",
           r"INFO: inconsistent lock state \](?:.*\n)+?.*takes(?:.*\n)+?.*at: {{PC}} +{{FUNC}}"),
        _f(r"INFO: rcu_(?:preempt|sched|bh) (?:self-)?detected(?: expedited)? stall",
           "INFO: rcu detected stall in %[1]v", "bug",
           stack=_stack("apic_timer_interrupt", RIP_FRAME, STACK,
                        parts2=("(?:apic_timer_interrupt|Exception stack|el1h_64_irq)", STACK),
                        skip=("apic_timer_interrupt", "rcu"))),
        _f(r"INFO: trying to register non-static key",
           "INFO: trying to register non-static key in %[1]v", "lockdep_non_static_key",
           stack=_call_trace("stack", "lock", "IRQ")),
        _f(r"INFO: suspicious RCU usage", "INFO: suspicious RCU usage in %[2]v",
           "suspicious_rcu_usage", r"INFO: suspicious RCU usage(?:.*\n)+?.*?{{SRC}}",
           _call_trace("rcu", "kmem", "slab")),
        _f(r"INFO: task .* blocked for more than [0-9]+ seconds", "INFO: task hung in %[1]v",
           "bug", stack=_call_trace("sched", "_lock", "_slowlock", "down", "rwsem",
                                    "completion", "kthread", "wait", "synchronize",
                                    "context_switch", "__switch_to", "cancel_delayed_work",
                                    "rcu_barrier")),
        _f(r"INFO: task .* can't die for more than .* seconds", "INFO: task can't die in %[1]v",
           "bug", stack=_call_trace("schedule")),
        _f(r"INFO: (Freed|Allocated) in (.*)", "INFO: %[1]v in %[2]v", "bug", corrupted=True),
        _f(r"INFO:[ \t\n\r\f\v]*(?:\n|$)", "INFO: corrupted", "bug", corrupted=True),
    ], [compile_(p) for p in ("INFO: lockdep is turned off",
                              "INFO: Stall ended before state dump start", "INFO: NMI handler",
                              "INFO: recovery required on readonly filesystem",
                              r"(handler|interrupt).*took too long", "_INFO::",
                              r"INFO: sys_.* is not present in /proc/kallsyms",
                              "INFO: no syscalls can create resource", "CAM_INFO:",
                              "rmt_storage:INFO:")]),
    Oops("Unable to handle kernel", [
        _f(r"Unable to handle kernel (paging request|NULL pointer dereference|access to user "
           r"memory)", "BUG: unable to handle kernel %[1]v in %[2]v", "oops",
           stack=_rip_call_trace()),
    ], [], kind="oops"),
    Oops("general protection fault", [
        _f(r"general protection fault.*:", "general protection fault in %[1]v", "oops",
           stack=_rip_call_trace()),
    ], [compile_(r"general protection fault .* error:\d+ in ")], kind="oops"),
    Oops("Kernel panic", [
        _f(r"Kernel panic - not syncing: Attempted to kill init!",
           "kernel panic: Attempted to kill init!", "oops"),
        _f(r"Kernel panic - not syncing: Fatal exception", "kernel panic: Fatal exception",
           "oops", corrupted=True),
        _f(r"Kernel panic - not syncing: panic_on_warn set", "kernel panic: panic_on_warn set",
           "oops", corrupted=True),
        _f(r"Kernel panic - not syncing: hung_task: blocked tasks",
           "kernel panic: hung_task: blocked tasks", "oops", corrupted=True),
        _f(r"Kernel panic - not syncing: (.*)", "kernel panic: %[1]v", "oops"),
    ], [], kind="oops"),
    Oops("kernel BUG", [
        _f(r"kernel BUG at mm/usercopy.c", "BUG: bad usercopy in %[1]v", "bug",
           stack=_call_trace("usercopy", "__check")),
        _f(r"kernel BUG at lib/list_debug.c", "BUG: corrupted list in %[1]v", "bug",
           stack=_call_trace()),
        _f(r"kernel BUG at (.*)", "kernel BUG in %[2]v", "bug", stack=_rip_call_trace("^skb_")),
    ], []),
    # tracereplay addition: dma-fence release with unsignalled callbacks (dma-fence.c).
    Oops("released with pending signals!", [
        _f(r"Fence .* released with pending signals!",
           "WARNING: fence released with pending signals in %[1]v", "fence_pending_signals",
           stack=warning_stack("dma_fence_release", "dma_fence_put")),
    ], [], kind="fence_pending_signals"),
]

# Lines matching an oops header that still do not start a new report.
REPORT_START_IGNORES = [compile_(p) for p in (
    r"invalid opcode: 0000", r"Kernel panic - not syncing", r"unregister_netdevice: waiting for",
    r"PANIC: double fault", r"Internal error:")]

INFO_MESSAGES_WITH_STACK = ["vmalloc: allocation failure:", "FAULT_INJECTION: forcing a failure",
                            "FAULT_FLAG_ALLOW_RETRY missing"]


def match_oops(line: str) -> Oops | None:
    """The oops whose header this raw line carries (syzkaller's matchOops), if any."""
    for oops in OOPSES:
        pos = line.find(oops.header)
        if pos == -1:
            continue
        if any(s.search(line) for s in oops.suppressions):
            continue
        return oops
    return None


# ---------------------------------------------------------------------------------------------
# Itanium C++ name demangling, function name only (syzkaller: demangle.Filter(f, NoParams)).
# ---------------------------------------------------------------------------------------------
_SRC_NAME = re.compile(r"(\d+)")


def demangle(name: str) -> str:
    """``fakeName`` from ``_Z8fakeNameiii``, ``ns::f`` from ``_ZN2ns1fEv``; others unchanged."""
    if not name.startswith("_Z"):
        return name
    s, i = name, 2
    if i < len(s) and s[i] == "L":
        i += 1
    parts: list[str] = []
    nested = i < len(s) and s[i] == "N"
    if nested:
        i += 1
        while i < len(s) and s[i] in "rVKRO":  # cv / ref qualifiers of a member function
            i += 1
    while i < len(s):
        m = _SRC_NAME.match(s, i)
        if m is None:
            break
        n = int(m.group(1))
        start = m.end()
        if n == 0 or start + n > len(s):
            return name
        parts.append(s[start:start + n])
        i = start + n
        if not nested:
            break
        if i < len(s) and s[i] == "E":
            break
    return "::".join(parts) if parts else name


# ---------------------------------------------------------------------------------------------
# syzkaller's extractStackFrame / extractDescription
# ---------------------------------------------------------------------------------------------
def _skip_re(stack: Stack) -> re.Pattern[str]:
    return re.compile("|".join(GLOBAL_SKIP + stack.skip))


def strip_prefixes(frame: str) -> str:
    """The shortest of ``frame`` with one syscall-entry prefix removed."""
    best = frame
    for prefix in STRIP_PREFIXES:
        if frame.startswith(prefix) and len(frame) - len(prefix) < len(best):
            best = frame[len(prefix):]
    return best


def _append(frames: list[str], m: re.Match[str] | None, skip: re.Pattern[str]) -> None:
    if m is None:
        return
    for g in m.groups():
        if g is None:
            continue
        g = demangle(g)
        if not skip.search(g):
            frames.append(g)


def _extract_impl(text: str, skip: re.Pattern[str], parts: list) -> tuple[list[str], bool]:
    """syzkaller's extractStackFrameImpl: one key frame per stack trace of ``parts``."""
    lines = text.split("\n")
    pos = 0
    raw: list[str] = []
    results: list[str] = []
    ok = True
    stacks = 0
    idx = 0
    while True:
        if idx == len(parts) or (parts[idx] is STACK and stacks > 0):
            if raw:
                results.append(strip_prefixes(raw[0]))
            else:
                results.append("corrupted")
                ok = False
            raw = []
        if idx == len(parts):
            break
        part = parts[idx]
        if part is STACK:
            stacks += 1
            while pos < len(lines):
                ln = lines[pos]
                pos += 1
                if any(r.search(ln) for r in CORRUPTED_LINES):
                    ok = False
                    break
                if any(r.search(ln) for r in STACK_START):
                    break
                if idx != len(parts) - 1:
                    m = parts[idx + 1].search(ln)
                    if m is not None:
                        _append(raw, m, skip)
                        idx += 1
                        break
                for r in FRAME_RES:
                    m = r.search(ln)
                    if m is not None:
                        break
                _append(raw, m, skip)
        else:
            while pos < len(lines):
                ln = lines[pos]
                pos += 1
                if any(r.search(ln) for r in CORRUPTED_LINES):
                    ok = False
                    break
                m = part.search(ln)
                if m is None:
                    continue
                _append(raw, m, skip)
                break
        idx += 1
    return results, ok


def extract_frames(stack: Stack, text: str) -> tuple[list[str], bool]:
    """Key frames of ``text`` (starting at the report's match) and whether all were found."""
    skip = _skip_re(stack)
    frames, ok = _extract_impl(text, skip, stack.parts)
    if ok or not stack.parts2:
        return frames, ok
    return _extract_impl(text, skip, stack.parts2)


def key_frame(stack: Stack, text: str) -> tuple[str, str]:
    """(first key frame, corrupted reason) for ``text`` starting at the report's match."""
    frames, ok = extract_frames(stack, text)
    return (frames[0] if frames else "corrupted"), ("" if ok else CORRUPTED_NO_FRAMES)


_VERB = re.compile(r"%\[(\d+)\]v")


def render(fmt: str, args: list[str]) -> str:
    """Go's fmt.Sprintf for ``%[N]v`` verbs (a missing argument prints as Go does)."""
    def sub(m: re.Match[str]) -> str:
        n = int(m.group(1))
        return args[n - 1] if 0 < n <= len(args) else "%!v(BADINDEX)"
    return _VERB.sub(sub, fmt)


@dataclass
class Title:
    """The outcome of titling one report."""

    title: str
    kind: str
    corrupted: str  # "" when not corrupted
    fmt: Format | None


def describe(text: str, oops: Oops) -> Title:
    """syzkaller's extractDescription for ``text`` (the report body) and its ``oops``."""
    start = len(text)
    desc, corrupted, fmt = "", "", None
    matched_title = False
    for f in oops.formats:
        m = f.title.search(text)
        if m is None or m.start() > start:
            continue
        if m.start() == start and desc:
            continue
        if m.start() < start:
            desc, fmt, start = "", None, m.start()
        matched_title = True
        if f.report is not None:
            m = f.report.search(text)
            if m is None:
                continue
        args = [g or "" for g in m.groups()]
        corrupted = ""
        if f.stack is not None:
            frames, ok = extract_frames(f.stack, text[m.start():])
            if not ok:
                corrupted = CORRUPTED_NO_FRAMES
            args += frames
        desc = render(f.fmt, args)
        fmt = f
    if not desc:
        corrupted = CORRUPTED_NO_REPORT if matched_title else ""
        pos = text.find(oops.header)
        if pos == -1:
            return Title("", "", "", None)
        end = text.find("\n", pos)
        desc = text[pos:] if end == -1 else text[pos:end]
        kind = _header_kind(desc, oops)
    else:
        kind = fmt.kind
    if not corrupted and fmt is not None and fmt.corrupted:
        corrupted = "report format is marked as corrupted"
    return Title(sanitize(desc), kind, corrupted, fmt)


def _header_kind(line: str, oops: Oops) -> str:
    """The kind of a report syzkaller titles with its bare header line."""
    for f in oops.formats:
        if f.title.search(line) and f.kind:
            return f.kind
    return oops.kind


# syzkaller's dynamicTitleReplacement: unstable parts of a title become ADDR / LINE / NUM.
_TITLE_REPLACEMENTS = [
    (re.compile(r"syz-executor\.?[0-9]+((/|:)[0-9]+)?"), "syz-executor"),
    (re.compile(r"syzkaller[0-9]+((/|:)[0-9]+)?"), "syzkaller"),
    (re.compile(r"([^a-zA-Z0-9])(?:0x)?[0-9a-f]{6,}"), r"\1ADDR"),
    (re.compile(r"([0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3})"), "IP"),
    (re.compile(r"(\.\w+)(:[0-9]+)+"), r"\1:LINE"),
    (re.compile(r"([a-zA-Z][a-zA-Z0-9_.]+)\+0x[0-9a-z]+/0x[0-9a-z]+"), r"\1"),
    (re.compile(r"CPU#[0-9]+"), "CPU"),
    (re.compile(r"(\W)(\d+)(\W|$)"), r"\1NUM\3"),
    (re.compile(r"(\d+){7,}"), "NUM"),
]
_MAX_TITLE = 120


def sanitize(title: str) -> str:
    """syzkaller's replaceTable(dynamicTitleReplacement) followed by sanitizeTitle."""
    for pattern, repl in _TITLE_REPLACEMENTS:
        prev = None
        while prev != title:
            prev, title = title, pattern.sub(repl, title)
    out: list[str] = []
    prev_ch = " "
    for ch in title[:_MAX_TITLE]:
        if ch == "\t":
            ch = " "
        elif ord(ch) < 0x20 or ord(ch) >= 0x7F:
            continue
        if ch == " " and prev_ch == " ":
            continue
        out.append(ch)
        prev_ch = ch
    return "".join(out).strip()
