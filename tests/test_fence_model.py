"""The dma_fence model: every rule with a positive and a negative case, on traces in the exact text
of /sys/kernel/tracing/trace (dma_fence.h: "driver=%s timeline=%s context=%u seqno=%u")."""

from __future__ import annotations

from conftest import HEADER_LINES, ev

from tracereplay.api import check

L = HEADER_LINES  # event k (1-based) is on file line L + k

FENCE_RULES = ("FENCE-",)


def fe(event, ctx, seq, ts, comm="kworker/0:1", pid=44, cpu=0, driver="vgem", timeline="vgem-0", flags="d..1."):
    return ev(comm, pid, cpu, ts, f"{event}: driver={driver} timeline={timeline} context={ctx} seqno={seq}", flags)


def run(trace_file, lines, **kw):
    return [f for f in check([trace_file(lines)], **kw).findings if f.rule.startswith(FENCE_RULES)]


def rules(findings):
    return [(f.rule, f.severity, f.objects, f.line) for f in findings]


def lifecycle(ctx, seq, t0):
    return [
        fe("dma_fence_init", ctx, seq, t0),
        fe("dma_fence_emit", ctx, seq, t0 + 0.001),
        fe("dma_fence_enable_signal", ctx, seq, t0 + 0.002),
        fe("dma_fence_signaled", ctx, seq, t0 + 0.003),
        fe("dma_fence_destroy", ctx, seq, t0 + 0.004, driver="detached-driver", timeline="signaled-timeline"),
    ]


def test_clean_lifecycles_in_order(trace_file):
    lines = lifecycle(5, 1, 100.0) + lifecycle(5, 2, 101.0) + lifecycle(6, 1, 102.0)
    assert run(trace_file, lines) == []


# -- FENCE-DOUBLE-SIGNAL -----------------------------------------------------------------------
def test_double_signal_shared_id(trace_file):
    lines = [
        fe("dma_fence_init", 5, 1, 100.0),
        fe("dma_fence_signaled", 5, 1, 100.1),
        fe("dma_fence_signaled", 5, 1, 100.2),
    ]
    (f,) = run(trace_file, lines)
    assert rules([f]) == [("FENCE-DOUBLE-SIGNAL", "error", ["5:1", "vgem:vgem-0"], L + 3)]
    assert f.extra["case"] == "shared-id"
    assert "two live fences share (context, seqno)" in f.detail
    assert [e.line for e in f.evidence] == [L + 2, L + 3]


def test_double_signal_after_reinit(trace_file):
    lines = [
        fe("dma_fence_init", 5, 1, 100.0),
        fe("dma_fence_signaled", 5, 1, 100.1),
        fe("dma_fence_init", 5, 1, 100.2),
        fe("dma_fence_signaled", 5, 1, 100.3),
    ]
    got = run(trace_file, lines)
    assert rules(got) == [
        ("FENCE-REINIT-LIVE", "error", ["5:1", "vgem:vgem-0"], L + 3),
        ("FENCE-DOUBLE-SIGNAL", "error", ["5:1", "vgem:vgem-0"], L + 4),
    ]
    assert got[1].extra["case"] == "reinit"
    assert f"re-initialised while alive at {got[0].file}:{L + 3}" in got[1].detail


def test_refused_second_signal_from_kprobe(trace_file):
    kp = "dma_fence_signal: (dma_fence_signal+0x0/0x50) fence=0xffff888004a1c000 context=5 seqno=1"
    lines = [
        fe("dma_fence_init", 5, 1, 100.0),
        ev("kworker/0:1", 44, 0, 100.1, kp, "....."),
        fe("dma_fence_signaled", 5, 1, 100.101),
        ev("kworker/0:2", 45, 1, 100.2, kp, "....."),
    ]
    (f,) = run(trace_file, lines)
    assert rules([f]) == [("FENCE-DOUBLE-SIGNAL", "warning", ["5:1", "vgem:vgem-0"], L + 4)]
    assert f.extra["case"] == "refused"
    assert "refused second dma_fence_signal()" in f.title


def test_stub_context_zero_shares_ids(trace_file):
    # dma_fence_allocate_private_stub() and the selftests' mock fences all use (0, 0)
    lines = [
        fe("dma_fence_init", 0, 0, 100.0, driver="mock", timeline="mock"),
        fe("dma_fence_init", 0, 0, 100.1, driver="mock", timeline="mock"),
        fe("dma_fence_signaled", 0, 0, 100.2, driver="mock", timeline="mock"),
        fe("dma_fence_signaled", 0, 0, 100.3, driver="mock", timeline="mock"),
        fe("dma_fence_destroy", 0, 0, 100.4, driver="mock", timeline="mock"),
        fe("dma_fence_destroy", 0, 0, 100.5, driver="mock", timeline="mock"),
    ]
    assert run(trace_file, lines) == []


# -- FENCE-USE-AFTER-FREE ----------------------------------------------------------------------
def test_event_after_destroy(trace_file):
    lines = lifecycle(7, 3, 100.0) + [fe("dma_fence_wait_start", 7, 3, 100.5, comm="app", pid=300)]
    (f,) = run(trace_file, lines)
    assert rules([f]) == [("FENCE-USE-AFTER-FREE", "error", ["7:3", "vgem:vgem-0"], L + 6)]
    assert [e.line for e in f.evidence] == [L + 1, L + 2, L + 3, L + 4, L + 5, L + 6]
    assert f.key_objects == ["vgem", "vgem-0"]


def test_event_after_destroy_on_another_cpu_within_clock_skew_is_a_warning(trace_file):
    lines = lifecycle(7, 3, 100.0) + [fe("dma_fence_wait_end", 7, 3, 100.004005, comm="app", pid=300, cpu=3)]
    (f,) = run(trace_file, lines)
    assert (f.rule, f.severity, f.line) == ("FENCE-USE-AFTER-FREE", "warning", L + 6)
    assert "different CPUs 5000 ns apart" in f.detail


def test_reinit_after_destroy_is_a_new_fence(trace_file):
    lines = lifecycle(7, 3, 100.0) + lifecycle(7, 3, 101.0)
    assert run(trace_file, lines) == []


# -- FENCE-UNINIT ------------------------------------------------------------------------------
def test_uninitialised_fence_in_complete_window(trace_file):
    lines = lifecycle(9, 10, 100.0) + [fe("dma_fence_signaled", 9, 11, 101.0)]
    (f,) = run(trace_file, lines)
    assert rules([f]) == [("FENCE-UNINIT", "warning", ["9:11"], L + 6)]
    assert f.incomplete is None
    assert [e.line for e in f.evidence] == [L + 1, L + 6]


def test_uninitialised_fence_across_lost_events_is_downgraded(trace_file):
    lines = lifecycle(9, 10, 100.0) + ["CPU:0 [LOST 12 EVENTS]", fe("dma_fence_signaled", 9, 11, 101.0)]
    (f,) = run(trace_file, lines)
    assert (f.rule, f.severity, f.line) == ("FENCE-UNINIT", "info", L + 7)
    assert "lost" in f.incomplete


def test_fence_older_than_trace_is_not_uninit(trace_file):
    # seqno 9 precedes the first traced init of context 9: created before the trace started
    lines = [fe("dma_fence_signaled", 9, 9, 99.0)] + lifecycle(9, 10, 100.0) + [
        fe("dma_fence_destroy", 9, 8, 101.0)]
    assert run(trace_file, lines) == []


# -- FENCE-PENDING-RELEASE ---------------------------------------------------------------------
def test_released_with_pending_signals(trace_file):
    lines = [
        fe("dma_fence_init", 0x2A, 0x10, 100.0, driver="sw_sync", timeline="tl"),
        fe("dma_fence_enable_signal", 0x2A, 0x10, 100.1, driver="sw_sync", timeline="tl"),
        fe("dma_fence_destroy", 0x2A, 0x10, 100.2, driver="sw_sync", timeline="tl"),
        fe("dma_fence_signaled", 0x2A, 0x10, 100.201, driver="sw_sync", timeline="tl"),
    ]
    (f,) = run(trace_file, lines)
    assert rules([f]) == [("FENCE-PENDING-RELEASE", "error", ["42:16", "sw_sync:tl"], L + 3)]
    assert f.detail.startswith("Fence sw_sync:tl:2a:10 released with pending signals!")


def test_released_while_a_task_waits(trace_file):
    lines = [
        fe("dma_fence_init", 3, 1, 100.0),
        fe("dma_fence_wait_start", 3, 1, 100.1, comm="app", pid=300),
        fe("dma_fence_destroy", 3, 1, 100.2),
    ]
    (f,) = run(trace_file, lines)
    assert rules([f]) == [("FENCE-PENDING-RELEASE", "error", ["3:1", "vgem:vgem-0"], L + 3)]
    assert [e.line for e in f.evidence] == [L + 1, L + 3, L + 2]


def test_enabled_but_no_callback_shown_is_a_warning(trace_file):
    # dma_fence_enable_sw_signaling() then the last put (st-dma-fence-unwrap does this): the
    # kernel warns only when a callback is queued, and no -EDEADLK signal follows here
    lines = [
        fe("dma_fence_init", 3, 1, 100.0, driver="mock", timeline="mock"),
        fe("dma_fence_enable_signal", 3, 1, 100.1, driver="mock", timeline="mock"),
        fe("dma_fence_destroy", 3, 1, 100.2, driver="mock", timeline="mock"),
    ]
    (f,) = run(trace_file, lines)
    assert rules([f]) == [("FENCE-PENDING-RELEASE", "warning", ["3:1", "mock:mock"], L + 3)]
    assert f.extra["proven"] is False


def test_unsignalled_destroy_without_waiters_is_fine(trace_file):
    lines = [fe("dma_fence_init", 3, 1, 100.0), fe("dma_fence_destroy", 3, 1, 100.1)]
    assert run(trace_file, lines) == []


# -- FENCE-SEQNO-ORDER -------------------------------------------------------------------------
def test_seqno_signalled_out_of_order(trace_file):
    lines = [fe("dma_fence_init", 4, 1, 100.0), fe("dma_fence_init", 4, 2, 100.1),
             fe("dma_fence_signaled", 4, 2, 100.2), fe("dma_fence_signaled", 4, 1, 100.3)]
    (f,) = run(trace_file, lines)
    assert rules([f]) == [("FENCE-SEQNO-ORDER", "warning", ["4:1", "4:2"], L + 4)]


def test_seqno_order_is_wrap_safe(trace_file):
    lines = [fe("dma_fence_init", 4, 4294967295, 100.0), fe("dma_fence_init", 4, 0, 100.1),
             fe("dma_fence_signaled", 4, 4294967295, 100.2), fe("dma_fence_signaled", 4, 0, 100.3)]
    assert run(trace_file, lines) == []


# -- FENCE-REINIT-LIVE -------------------------------------------------------------------------
def test_reinit_while_alive(trace_file):
    lines = [fe("dma_fence_init", 8, 2, 100.0), fe("dma_fence_init", 8, 2, 100.1)]
    (f,) = run(trace_file, lines)
    assert rules([f]) == [("FENCE-REINIT-LIVE", "error", ["8:2", "vgem:vgem-0"], L + 2)]
    assert "(unsignalled)" in f.title


# -- FENCE-WAIT-UNFINISHED / FENCE-NEVER-SIGNALLED ---------------------------------------------
def test_wait_unfinished_and_never_signalled(trace_file):
    lines = [
        fe("dma_fence_init", 12, 1, 100.0),
        fe("dma_fence_emit", 12, 1, 100.1),
        fe("dma_fence_wait_start", 12, 1, 100.2, comm="app", pid=300),
    ]
    assert rules(run(trace_file, lines)) == [
        ("FENCE-NEVER-SIGNALLED", "info", ["12:1", "vgem:vgem-0"], L + 2),
        ("FENCE-WAIT-UNFINISHED", "info", ["12:1", "vgem:vgem-0"], L + 3),
    ]


def test_finished_wait_and_signalled_fence(trace_file):
    lines = [
        fe("dma_fence_init", 12, 1, 100.0),
        fe("dma_fence_emit", 12, 1, 100.1),
        fe("dma_fence_wait_start", 12, 1, 100.2, comm="app", pid=300),
        fe("dma_fence_signaled", 12, 1, 100.3),
        fe("dma_fence_wait_end", 12, 1, 100.4, comm="app", pid=300),
    ]
    assert run(trace_file, lines) == []


# -- old names and driver views ----------------------------------------------------------------
def test_pre_4_10_fence_names(trace_file):
    lines = [fe("fence_init", 5, 1, 100.0), fe("fence_signaled", 5, 1, 100.1), fe("fence_signaled", 5, 1, 100.2)]
    assert [f.rule for f in run(trace_file, lines)] == ["FENCE-DOUBLE-SIGNAL"]


def xe(event, ctx, seq, ts):
    return ev("kworker/u8:3", 71, 2, ts,
              f"{event}: dev=0000:00:02.0, ctx=0x{ctx:016x}, fence=00000000c0ffee01, seqno={seq}", "d..1.")


def test_xe_hw_fence_view_is_separate_from_core_events(trace_file):
    lines = [
        xe("xe_hw_fence_create", 0x11, 5, 100.0),
        fe("dma_fence_init", 0x11, 5, 100.001, driver="xe", timeline="rcs0"),
        xe("xe_hw_fence_try_signal", 0x11, 5, 100.1),
        xe("xe_hw_fence_signal", 0x11, 5, 100.2),
        fe("dma_fence_signaled", 0x11, 5, 100.201, driver="xe", timeline="rcs0"),
        fe("dma_fence_destroy", 0x11, 5, 100.3, driver="xe", timeline="rcs0"),
        xe("xe_hw_fence_free", 0x11, 5, 100.4),
    ]
    assert run(trace_file, lines) == []


def test_xe_hw_fence_use_after_free(trace_file):
    lines = [xe("xe_hw_fence_create", 0x11, 5, 100.0), xe("xe_hw_fence_signal", 0x11, 5, 100.1),
             xe("xe_hw_fence_free", 0x11, 5, 100.2), xe("xe_hw_fence_try_signal", 0x11, 5, 100.3)]
    (f,) = run(trace_file, lines)
    assert rules([f]) == [("FENCE-USE-AFTER-FREE", "error", ["17:5", "xe:xe_hw_fence"], L + 4)]


def test_u32_list_matches_u32():
    """The vectorised 32-bit reduction equals u32 for integer and text operands."""
    import polars as pl

    from tracereplay.models.fence import u32, u32_list

    ints = [None, 0, 1, -1, 0xFFFFFFFF, 0x1_0000_0005, -(2**40), 2**62]
    texts = [None, "7", "0x10", "0X1_0", " 12 ", "-3", "ctx", "", "0x1ffffffff"]
    for values, dtype in ((ints, pl.Int64), (ints[:3], pl.Int8), ([0, 2**63 + 5], pl.UInt64),
                          (texts, pl.String), ([True, False, None], pl.Boolean)):
        assert u32_list(pl.Series(values, dtype=dtype)) == [u32(v) for v in values]
