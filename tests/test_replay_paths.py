"""The per-model replay (Model.run, with the models' fused loops) and the merged replay that
calls one handler per operation (what ``tracereplay history`` observes) give the same findings."""

from __future__ import annotations

import io
import sys

import pytest
from conftest import REPO

from tracereplay.engine import replay
from tracereplay.table import load_table

SAMPLES = sorted((REPO / "sample_traces").glob("*/*.txt")) + sorted((REPO / "sample_traces" / "real").glob("*/trace.txt*"))


def both(table):
    fused = [f.to_dict() for f in replay(table)]
    merged = [f.to_dict() for f in replay(table, observer=lambda i, m: None)]
    return fused, merged


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_sample_traces(path):
    fused, merged = both(load_table([str(path)]))
    assert fused == merged


def test_generated_trace_with_broken_nesting(tmp_path):
    """The benchmark's mix, with lock releases dropped and repeated, so that the slow paths
    (out-of-order and foreign releases, recursion, new dependencies, irq usage) run too."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from gen_trace import generate

    buf = io.StringIO()
    generate(20000, buf, seed=3)
    lines = buf.getvalue().splitlines(keepends=True)
    out = []
    for n, line in enumerate(lines):
        if "lock_release" in line and n % 7 == 0:
            continue  # dropped: the lock stays held, later acquisitions nest and recurse
        out.append(line)
        if "lock_release" in line and n % 11 == 0:
            out.append(line)  # released again
        if "lock_acquire" in line and n % 13 == 0:
            out.append(line.replace(" ...1. ", " d.h1. "))  # the same lock taken in hardirq context
    p = tmp_path / "t.txt"
    p.write_text("".join(out))
    fused, merged = both(load_table([str(p)]))
    assert fused == merged
    assert {f["rule"] for f in fused} >= {"LOCK-RECURSIVE", "LOCK-BAD-UNLOCK", "LOCK-IRQ-STATE"}


def test_generated_fence_lifecycles_with_anomalies(tmp_path):
    """Fence lifecycles where FenceModel.run's inline cases and its handlers both run: fences
    re-initialised while alive, signalled twice, out of seqno order, destroyed unsignalled or
    twice, used after destroy, and events for fences never initialised."""
    lines = ["# tracer: nop\n"]
    ts = 1000.0

    def ev(name, ctx, seq, pid=40):
        nonlocal ts
        ts += 0.000013
        lines.append(f"    kworker/u8:3-{pid:<6} [00{pid % 4}] .....  {ts:.6f}: {name}: driver=drv "
                     f"timeline=tl context={ctx} seqno={seq}\n")

    for n in range(400):
        ctx, seq = 10 + n % 5, n // 5 + 1
        if n % 17 == 3:
            ev("dma_fence_emit", ctx, seq)  # never initialised
        ev("dma_fence_init", ctx, seq)
        if n % 19 == 5:
            ev("dma_fence_init", ctx, seq)  # again while alive
        ev("dma_fence_emit", ctx, seq)
        ev("dma_fence_enable_signal", ctx, seq)
        if n % 13 == 7:
            ev("dma_fence_signaled", ctx, seq + 3)  # out of order, never initialised
        if n % 11 != 4:
            ev("dma_fence_signaled", ctx, seq)
        if n % 23 == 2:
            ev("dma_fence_signaled", ctx, seq, pid=41)  # twice
        ev("dma_fence_destroy", ctx, seq)
        if n % 29 == 6:
            ev("dma_fence_destroy", ctx, seq)  # twice
        if n % 31 == 8:
            ev("dma_fence_emit", ctx, seq)  # after destroy
    p = tmp_path / "f.txt"
    p.write_text("".join(lines))
    fused, merged = both(load_table([str(p)]))
    assert fused == merged
    assert {f["rule"] for f in fused} >= {"FENCE-REINIT-LIVE", "FENCE-DOUBLE-SIGNAL", "FENCE-USE-AFTER-FREE"}
