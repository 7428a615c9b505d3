"""The refcount model (kref / refcount_t semantics), fed by the built-in xe_sched_job and
refcount_warn mappings and by a user mapping of a driver's get/put events."""

from __future__ import annotations

from conftest import HEADER_LINES, MYDRV_REFCOUNT_MAPPING, ev

from tracereplay.api import check

L = HEADER_LINES

JOB = "00000000a1b2c3d4"

MAPPING = MYDRV_REFCOUNT_MAPPING


def job(event, ts, fence=JOB, comm="kworker/u8:3", pid=71):
    return ev(comm, pid, 2, ts, f"{event}: fence={fence}, seqno=7, lrc_seqno=7, guc_id=2, "
                                f"batch_addr=0x0000001a0000, guc_state=0x0, flags=0x0, error=0", "...1.")


def bo(event, ts, count, ptr="000000005f0ece3a"):
    return ev("app", 300, 1, ts, f"{event}: bo={ptr}, refcount={count}", ".....")


def run(trace_file, lines, mapping=None, tmp_path=None):
    maps = None
    if mapping is not None:
        p = tmp_path / "my.toml"
        p.write_text(mapping)
        maps = [str(p)]
    return [f for f in check([trace_file(lines)], mappings=maps).findings if f.rule.startswith("REF-")]


def rules(findings):
    return [(f.rule, f.severity, f.objects, f.line) for f in findings]


def test_job_lifecycle_is_clean(trace_file):
    lines = [job("xe_sched_job_create", 1.0), job("xe_sched_job_exec", 1.1), job("xe_sched_job_run", 1.2),
             job("xe_sched_job_free", 1.3)]
    assert run(trace_file, lines) == []


def test_job_use_after_free(trace_file):
    lines = [job("xe_sched_job_create", 1.0), job("xe_sched_job_free", 1.1), job("xe_sched_job_timedout", 1.2)]
    (f,) = run(trace_file, lines)
    assert rules([f]) == [("REF-USE-AFTER-FREE", "error", [JOB, "xe_sched_job"], L + 3)]
    assert [e.line for e in f.evidence] == [L + 1, L + 2, L + 3]


def test_job_leak_at_end(trace_file):
    lines = [job("xe_sched_job_create", 1.0), job("xe_sched_job_run", 1.1)]
    (f,) = run(trace_file, lines)
    assert rules([f]) == [("REF-LEAK-AT-END", "info", [JOB, "xe_sched_job"], L + 2)]


def test_add_on_zero_from_counts(trace_file, tmp_path):
    lines = [bo("mydrv_bo_create", 1.0, 1), bo("mydrv_bo_get", 1.1, 2), bo("mydrv_bo_put", 1.2, 1),
             bo("mydrv_bo_put", 1.3, 0), bo("mydrv_bo_get", 1.4, 1)]
    (f,) = run(trace_file, lines, MAPPING, tmp_path)
    assert rules([f]) == [("REF-ADD-ON-ZERO", "error", ["000000005f0ece3a", "mydrv_bo"], L + 5)]
    assert [e.line for e in f.evidence] == [L + 1, L + 2, L + 3, L + 4, L + 5]
    assert f.detail.startswith("refcount_t: addition on 0; use-after-free.")


def test_underflow_from_counts(trace_file, tmp_path):
    lines = [bo("mydrv_bo_create", 1.0, 1), bo("mydrv_bo_put", 1.1, 0), bo("mydrv_bo_put", 1.2, -1)]
    (f,) = run(trace_file, lines, MAPPING, tmp_path)
    assert rules([f]) == [("REF-UNDERFLOW", "error", ["000000005f0ece3a", "mydrv_bo"], L + 3)]
    assert [e.line for e in f.evidence] == [L + 1, L + 2, L + 3]


def test_balanced_gets_and_puts(trace_file, tmp_path):
    lines = [bo("mydrv_bo_create", 1.0, 1), bo("mydrv_bo_get", 1.1, 2), bo("mydrv_bo_put", 1.2, 1),
             bo("mydrv_bo_put", 1.3, 0), bo("mydrv_bo_create", 1.4, 1), bo("mydrv_bo_put", 1.5, 0)]
    assert run(trace_file, lines, MAPPING, tmp_path) == []


def test_object_first_seen_mid_life_is_not_judged(trace_file, tmp_path):
    mapping = MAPPING.replace("ref.get_count", "ref.get").replace("ref.put_count", "ref.put")
    mapping = mapping.replace(', count = "kv:refcount"', "")
    lines = [bo("mydrv_bo_put", 1.0, 3), bo("mydrv_bo_put", 1.1, 2), bo("mydrv_bo_get", 1.2, 3)]
    assert run(trace_file, lines, mapping, tmp_path) == []


def test_refcount_warn_kprobe_underflow(trace_file):
    lines = [
        ev("insmod", 38, 0, 4.034447, "dma_fence_destroy: driver=refcount_underflow timeline=uf_timeline "
                                      "context=1 seqno=1", "...1."),
        ev("insmod", 38, 0, 4.034902, "refcount_warn: (refcount_warn_saturate+0x0/0x7) r=0xffff888000cc1e80 t=3",
           "...1."),
    ]
    (f,) = run(trace_file, lines)
    assert rules([f]) == [("REF-UNDERFLOW", "error", ["0xffff888000cc1e80", "refcount_t"], L + 2)]
    assert f.title == "refcount_t: underflow; use-after-free (0xffff888000cc1e80)"
    assert f.key_objects == ["refcount_t", "underflow; use-after-free"]


def test_refcount_warn_kprobe_add_on_zero(trace_file):
    lines = [ev("insmod", 38, 0, 4.0, "refcount_warn: (refcount_warn_saturate+0x0/0x7) r=0xffff888000cc1e80 t=2",
                "...1.")]
    assert [f.rule for f in run(trace_file, lines)] == ["REF-ADD-ON-ZERO"]
