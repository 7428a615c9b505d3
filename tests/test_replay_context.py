"""Replay's per-row context: the contexts of a subset of rows, a single row's context and a
single value read for a report agree with the full per-row lists the handlers index."""

from __future__ import annotations

import polars as pl
import pytest
from conftest import REPO

from tracereplay.engine import SCALAR_READS, Replay, shared_list
from tracereplay.table import load_table

SAMPLES = sorted((REPO / "sample_traces" / "real").glob("*/trace.txt*"))[:4] + \
    sorted((REPO / "sample_traces" / "gpuvm").glob("*.txt"))[:2]


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_contexts_of_rows_and_one_row(path):
    table = load_table([str(path)])
    n = len(table.events)
    ix = pl.Series("_i", list(range(0, n, 3)), dtype=pl.UInt32)
    part = Replay(table).contexts_at(ix)
    one = Replay(table)
    single = [one.context(i) for i in range(0, min(n, SCALAR_READS // 8), 3)]
    full = Replay(table)
    assert part == [full.contexts[i] for i in ix.to_list()]
    assert single == full.contexts[0:min(n, SCALAR_READS // 8):3]
    assert full.contexts_at(ix) == part  # from the materialised list
    for name in ("pid", "cpu", "irqs_off"):
        assert [one._at(name, i) for i in range(0, n, max(1, n // 50))] == getattr(full, name)[::max(1, n // 50)]


def test_context_kinds():
    ev = pl.DataFrame({
        "nmi": [True, None, False, False, False, False],
        "hardirq": [True, True, None, False, False, False],
        "softirq": [False, True, True, None, False, False],
        "pid": [5, 6, 7, 0, None, 9],
        "cpu": [1, 2, 3, 4, 5, 6],
    }, schema_overrides={"pid": pl.Int32, "cpu": pl.Int32})
    from tracereplay.engine import contexts_of

    assert contexts_of(ev) == [("nmi", 1), ("hardirq", 2), ("softirq", 3), ("idle", 4), ("idle", 5), ("task", 9)]


@pytest.mark.parametrize("values", [["a", "b", None, "a", ""], [None, None], [], ["x"] * 5])
def test_shared_list(values):
    for dtype in (pl.String, pl.Categorical):
        s = pl.Series(values, dtype=dtype)
        out = shared_list(s)
        assert out == s.to_list()
        firsts = {}
        for v in out:
            if v is not None:
                assert firsts.setdefault(v, v) is v
