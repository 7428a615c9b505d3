"""Every real ftrace file in the shared corpus parses, with every line accounted for."""

from __future__ import annotations

import csv
import re
from collections import Counter

import pytest
from conftest import corpus_files, need_corpus

from tracereplay.io import read_text
from tracereplay.parse.ftrace import parse_text
from tracereplay.table import load_table

# Files whose malformed lines are really malformed, with the reason.
REALLY_MALFORMED = {
    # Kernel log around an ftrace_dump_on_oops: the dmesg lines that are not trace lines.
    "lkml-snippets/20170419_rostedt_ftrace_dump_on_oops_in_dmesg.txt": "dmesg lines (panic, NMI backtrace) around the dump",
    # perf-tools example files are prose documentation with trace excerpts in between.
    "perf-tools/funcgraph_example.txt": "prose around function_graph output",
    "perf-tools/functrace_example.txt": "prose around function tracer output",
    "perf-tools/kprobe_example.txt": "prose around kprobe output",
    "perf-tools/tpoint_example.txt": "prose around tracepoint output",
}


def _files():
    return corpus_files("ftrace")


def _index() -> dict[str, Counter]:
    rows = {}
    with open(need_corpus() / "ftrace" / "INDEX.tsv") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            counts = Counter()
            for part in filter(None, (x.strip() for x in row["events(top15)"].split(","))):
                name, _, n = part.rpartition(":")
                counts[name] = int(n)
            rows[row["file"]] = counts
    return rows


@pytest.mark.parametrize("path", _files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_line_accounted(path):
    rel = f"{path.parent.name}/{path.name}"
    p = parse_text(read_text(str(path)), rel)
    assert len(p.events) + sum(p.non_events.values()) + len(p.malformed) == p.lines
    if rel not in REALLY_MALFORMED:
        assert p.malformed == [], p.malformed[:3]


@pytest.mark.parametrize("path", _files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_event_counts_match_independent_count(path):
    """Counts per event type equal the corpus INDEX (made by other people's tooling) and an
    independent regex count of `NAME:` after the timestamp in the raw text."""
    rel = f"{path.parent.name}/{path.name}"
    expected = _index().get(rel)
    if not expected:
        pytest.skip("no event lines listed in INDEX.tsv")
    p = parse_text(read_text(str(path)), rel)
    ours = Counter(p.events["event"].to_list())
    for name, n in expected.items():
        assert ours[name] == n, (name, ours[name], n)
    raw = read_text(str(path))
    independent = Counter(m[1] for m in re.finditer(r"\d+(?:\.\d+)?(?:us)?\s?: ([A-Za-z_][\w.]*):", raw))
    for name in expected:
        assert independent[name] == ours[name], name


def test_real_trace_columns_lisa():
    """trace-cmd report output: no flags column, pid width 5, padded event names."""
    t = load_table([str(need_corpus() / "ftrace/lisa/trace.txt")])
    first = t.events.filter(t.events["line"] == 3).row(0, named=True)
    assert (first["comm"], first["pid"], first["cpu"], first["ts_ns"]) == ("<...>", 1701, 1, 76_211_513_000)
    assert first["event"] == "sched_switch" and first["irqs_off"] is None
    assert first["prev_comm"] == "trace-cmd" and first["next_comm"] == "swapper/1" and first["next_pid"] == 0
    assert t.files[0].cpus_header == 6 and t.files[0].non_events == {"preamble": 2}


def test_real_trace_tgid_column_and_4char_flags():
    t = load_table([str(need_corpus() / "ftrace/tracecompass-incubator/atrace-test")])
    e = t.events
    row = e.filter(e["line"] == 12).row(0, named=True)
    assert row["comm"] == "com.google.android.youtube" and row["pid"] == 23071 and row["tgid"] == 23071
    assert row["cpu"] == 2 and row["irqs_off"] is True and row["preempt_depth"] == 5
    assert row["migrate_disable"] is None  # 4-char flags (before 5.13)
    idle = e.filter(e["line"] == 13).row(0, named=True)
    assert idle["comm"] == "<idle>" and idle["pid"] == 0 and idle["tgid"] is None  # "(-----)"
    assert t.files[0].entries == (109218, 109218)


def test_real_lock_events_typed():
    t = load_table([str(need_corpus() / "ftrace/lkml-snippets/20251106_rostedt_lock_acquire_release_fixed.txt")])
    e = t.events
    row = e.filter(e["line"] == 4).row(0, named=True)
    assert (row["event"], row["addr"], row["name"], row["read"], row["trylock"]) == (
        "lock_acquire", "0000000084e3738a", "&mm->mmap_lock", True, False)
    assert row["comm"] == "bash" and row["pid"] == 1040 and row["migrate_disable"] == 0


def test_real_kmem_and_fence_fields():
    t = load_table([str(need_corpus() / "ftrace/lkml-snippets/20190929_changbin_kmem_call_site_symbolic.txt")])
    row = t.events.filter(t.events["line"] == 5).row(0, named=True)
    assert row["comm"] is None and row["cpu"] == 2  # per-CPU buffer lines without a task column
    assert (row["call_site"], row["ptr"], row["bytes_req"], row["bytes_alloc"], row["gfp_flags"]) == (
        "security_prepare_creds+0x77/0xa0", "0000000062400820", 8, 336, "GFP_KERNEL|__GFP_ZERO")
    t = load_table([str(need_corpus() / "ftrace/lkml-snippets/20240216_pelloux-prayer_dma_fence_used_as_dependency_vblank.txt")])
    row = t.events.filter(t.events["event"] == "dma_fence_used_as_dependency").row(0, named=True)
    assert (row["driver"], row["timeline"], row["context"], row["seqno"]) == ("drm_sched", "gfx_0.0.0", 270, 73240)


def test_unsorted_trace_sorted_and_counted():
    t = load_table([str(need_corpus() / "ftrace/trappy/trace_idle_unsorted.txt")])
    ts = t.events["ts_ns"].to_list()
    assert ts == sorted(ts)
    assert t.files[0].out_of_order == 1
    assert t.health.filter(t.health["kind"] == "time_backwards").height == 1


def test_systrace_html_wrapper():
    p = parse_text(read_text(str(need_corpus() / "ftrace/trappy/trace_surfaceflinger.html")), "sf.html")
    assert len(p.events) == 2506 and p.malformed == []
    assert p.non_events["html"] > 0


def test_print_fields_kmem_values():
    """options/print-fields prints `bytes_req=0x10 (16)`: the hex value is the field."""
    t = load_table([str(need_corpus() / "ftrace/lkml-snippets/20241218_rostedt_kmem_tp_printk_vs_print_fields.txt")])
    row = t.events.filter(t.events["line"] == 6).row(0, named=True)
    assert (row["ptr"], row["bytes_req"], row["bytes_alloc"], row["gfp_flags"]) == ("0xffff9e0e8571e000", 4096, 4096, "0xcc0")


KMEM_BODIES = [
    # 6.x kmalloc / kmem_cache_alloc, kfree, kmem_cache_free (name=), pre-6.0 without node/accounted
    "call_site=drm_gem_object_init+0x4d/0xb0 ptr=00000000f00d0001 bytes_req=256 bytes_alloc=256 "
    "gfp_flags=GFP_KERNEL|__GFP_ZERO node=-1 accounted=false",
    "call_site=alloc_pipe_info+0x6a/0x130 ptr=ffff8881a0b0c000 bytes_req=64 bytes_alloc=64 gfp_flags=GFP_KERNEL_ACCOUNT",
    "call_site=drm_gem_object_release+0x2a/0x60 ptr=00000000f00d0001",
    "call_site=dma_fence_release+0x1a/0x40 ptr=00000000f00d0002 name=dma_fence",
    "call_site=kmalloc_node_trace+0x20/0x60 ptr=0000000012345678 bytes_req=8 bytes_alloc=8 gfp_flags=GFP_ATOMIC node=0",
    # other layouts: a module after the call site, print_fields' hex, a comma, no call site
    "call_site=vgem_gem_create+0x30/0x90 [vgem] ptr=00000000f00d0003 bytes_req=16 bytes_alloc=32 gfp_flags=GFP_KERNEL",
    "call_site=0xffffffffb1e2c3d4 ptr=0xffff9e0e8571e000 bytes_req=0x1000 (4096) bytes_alloc=0x1000 (4096) gfp_flags=0xcc0",
    "call_site=f+0x1/0x2 ptr=00000000aa,bb bytes_req=1 bytes_alloc=1 gfp_flags=GFP_KERNEL",
    "ptr=00000000f00d0004 call_site=g+0x1/0x2",
    "call_site=h+0x1/0x2 ptr=00000000f00d0005 bytes_req=12 bytes_alloc=16 gfp_flags=GFP_KERNEL something=else",
]


def test_kmem_layout_route_agrees_with_key_value_route():
    """The fast route for kmem.h's own layout gives exactly what the general key=value
    extraction gives, and hands every other layout to it."""
    import polars as pl

    from tracereplay.parse.fields import _extract, _kmem, _kmem_layout, _typed

    rows = pl.DataFrame({"_row": pl.Series(range(len(KMEM_BODIES)), dtype=pl.UInt32),
                         "event": ["kmalloc"] * len(KMEM_BODIES), "body": KMEM_BODIES})
    taken, left = _kmem_layout(rows)
    assert sorted(taken["_row"].to_list()) == [0, 1, 2, 3, 4]
    assert sorted(left["_row"].to_list()) == [5, 6, 7, 8, 9]
    general = _typed(_extract(rows, _kmem()))
    got = pl.concat([taken, _extract(left, _kmem())], how="diagonal_relaxed").sort("_row")
    assert got.select(general.columns).equals(general)
