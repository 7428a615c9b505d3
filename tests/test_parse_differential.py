"""The vectorised path and the lark path produce identical events, line for line."""

from __future__ import annotations

import sys

import polars as pl
import pytest
from conftest import REPO, corpus_files, need_corpus
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracereplay.corpus import sniff
from tracereplay.io import read_text
from tracereplay.parse.ftrace import parse_text
from tracereplay.parse.grammar import event_prefix_pattern, ftrace_parser, terminal


def _same(text: str, name: str) -> None:
    fast = parse_text(text, name)
    slow = parse_text(text, name, vectorised=False)
    assert fast.events.equals(slow.events)
    assert fast.malformed == slow.malformed
    assert fast.non_events == slow.non_events


def _all_files():
    files = corpus_files("ftrace")
    # the bundled traces (real captures, simulated scenarios, reductions), by content
    files += [p for p in (REPO / "sample_traces").rglob("*")
              if p.is_file() and p.suffix not in (".md", ".py") and sniff(str(p))[0] == "trace"]
    return sorted(files)


@pytest.mark.parametrize("path", _all_files(), ids=lambda p: str(p.relative_to(p.parents[1])))
def test_paths_agree_on_real_files(path):
    _same(read_text(str(path)), path.name)


def test_paths_agree_on_generated_trace():
    sys.path.insert(0, str(REPO / "benchmarks"))
    import io

    from gen_trace import generate

    buf = io.StringIO()
    generate(3000, buf, seed=7)
    _same(buf.getvalue(), "gen.txt")


def test_vectorised_pattern_is_the_grammar_prefix():
    """The named pattern accepts exactly what the grammar's EVENT_PREFIX terminal accepts."""
    import re

    lark_prefix = re.compile(terminal("EVENT_PREFIX"))
    ours = re.compile(event_prefix_pattern())
    for line in [
        "  Web Content-2711    [001] d..2.  12.000001: lock_acquire: 0000000012345678 &vm->lock",
        "kworker/u8:1-44 (   44) [002] .... 5.5: x: y",
        "a-b-c-1-2 [000] d.h1 77: x:",
        "<idle>-0 (-------) [003] dNs.. 1.123456789: rcu_utilization: Start",
        "x-1 [000] .... 2.0 no colon",
    ]:
        m = lark_prefix.match(line)
        o = ours.match(line)
        assert (m is None) == (o is None), line
        if m:
            assert o.end("pre") == m.end(), line


# -- generated lines ------------------------------------------------------------------------------
_comm_chars = st.characters(codec="ascii", categories=["L", "N"], include_characters=" -/:()._<>[]")
comms = st.one_of(
    st.sampled_from(["<idle>", "<...>", "Web Content", "kworker/u8:1", "Xorg:cs0", "a-b-1", "(sd-pam)", "x [1] y"]),
    st.text(_comm_chars, min_size=1, max_size=15).map(str.strip).filter(bool),
)
flags = st.one_of(
    st.none(),
    st.tuples(st.sampled_from(".dDbX"), st.sampled_from(".NnpBLlb"), st.sampled_from(".ZzHhs"),
              st.sampled_from(".123456789abcdef"), st.sampled_from(".123456789abcdef")).map("".join),
    st.tuples(st.sampled_from(".dX"), st.sampled_from(".Nn"), st.sampled_from(".hs"),
              st.sampled_from(".12345")).map("".join),
)
stamps = st.one_of(
    st.tuples(st.integers(0, 99999), st.integers(0, 999999)).map(lambda t: f"{t[0]:5d}.{t[1]:06d}"),
    st.tuples(st.integers(0, 99999), st.integers(0, 999999999)).map(lambda t: f"{t[0]}.{t[1]:09d}"),
    st.integers(0, 2**48).map(lambda n: f"{n:12d}"),
)
bodies = st.one_of(
    st.tuples(st.sampled_from(["lock_acquire", "lock_release"]), st.sampled_from(["", "try ", "read ", "try read "]),
              st.sampled_from(["&(&obj->lock)->rlock", "(work_completion)(&w->work)", "rcu_read_lock", "&vm->lock"]))
    .map(lambda t: f"{t[0]}: 00000000deadbeef {t[1]}{t[2]}"),
    st.sampled_from([
        "dma_fence_signaled: driver=vgem timeline=vgem-0 context=5 seqno=17",
        "kmalloc: call_site=drm_gem_object_init+0x4d/0xb0 ptr=00000000f00d0001 bytes_req=256 bytes_alloc=256 gfp_flags=GFP_KERNEL|__GFP_ZERO node=-1 accounted=false",
        "gpuvm_bo_obtain: (drm_gpuvm_bo_obtain+0x0/0x1c0 [drm_gpuvm]) gpuvm=0xffff88812a3a2100 obj=0xffff8881d7e11b10",
        "gpuvm_bo_obtain_ret: (panthor_vm_prepare_map_op_ctx+0x1a4/0x3c0 [panthor] <- drm_gpuvm_bo_obtain) vm_bo=0xffff8881fd5e5ee0",
        "drm_gpuvm_bo_obtain <-panthor_vm_prepare_map_op_ctx",
        "do_sys_open+0x6/0xa0 <-SyS_open+0x20/0x50",
        "sys_write -> 0x1",
        "sys_read(fd: 3, buf: 7ffe, count: 10)",
        "<stack trace>",
        "tracing_mark_write: B|123|frame",
        "my_func: hello: world",
        "sched_process_exit: comm=a b pid=3 prio=120",
        "empty:",
    ]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(comm=comms, pid=st.integers(0, 4194304), tgid=st.one_of(st.none(), st.integers(0, 99999), st.just(-1)),
       cpu=st.integers(0, 1023), fl=flags, ts=stamps, body=bodies, lead=st.integers(0, 12))
def test_generated_lines_agree_and_round_trip(comm, pid, tgid, cpu, fl, ts, body, lead):
    tg = "" if tgid is None else ("(-------) " if tgid < 0 else f"({tgid:7d}) ")
    line = " " * lead + f"{comm}-{pid:<7} {tg}[{cpu:03d}] " + (f"{fl} " if fl else "") + f"{ts}: {body}"
    fast = parse_text(line + "\n", "g")
    slow = parse_text(line + "\n", "g", vectorised=False)
    assert fast.events.equals(slow.events), line
    assert len(fast.events) == 1, (line, fast.malformed)
    row = fast.events.row(0, named=True)
    assert row["comm"] == comm and int(row["pid"]) == pid and int(row["cpu"]) == cpu
    assert row["flags"] == fl and row["ts"] == ts.strip()
    assert row["tgid"] == (None if tgid is None else ("-------" if tgid < 0 else str(tgid)))


def test_grammar_parser_builds():
    assert ftrace_parser().parse("# tracer: nop").children[0].data == "comment_line"


@pytest.mark.parametrize("size", [1, 50, 4096])
def test_chunked_parse_is_the_same(size):
    """Large files are parsed in chunks; the cut points change nothing."""
    text = read_text(str(need_corpus() / "ftrace/trappy/trace_surfaceflinger.html"))
    a = parse_text(text, "x")
    b = parse_text(text, "x", chunk_chars=size)
    assert a.events.equals(b.events) and a.non_events == b.non_events and a.lines == b.lines
    crlf = "x-1 [000] .... 1.0: a: b\r\nno trace\r\nx-1 [000] .... 2.0: c: d"
    c = parse_text(crlf, "y", chunk_chars=size)
    assert c.lines == 3 and c.events["line"].to_list() == [1, 3] and c.malformed[0][0] == 2


def test_routes_agree_on_awkward_lines():
    """The ASCII route (a search for the end of the task name) and the full pattern take mixed
    lines in line order, and leave the same lines to lark."""
    lines = [
        "  Web Content-2711    [001] d..2.  12.000001: lock_acquire: 0000000012345678 &vm->lock",
        "  Wéb Contènt-2712    [001] d..2.  12.000002: lock_release: 0000000012345678 &vm->lock",
        "x [000] 1.0: y-2 [001] .... 2.0: z: w",  # a task name that looks like a prefix
        "a-b-c-1-2 [000] d.h1 77: x:",
        "  -5 [000] .... 3.0: a: b",  # no task name before the first match
        "\f-5 [000] .... 3.0: a: b",
        "sh-9 [000] .... 4.0: sys_write -> 0x1",
        "sh-9 [000] .... 4.5: sys_read(fd: 3)",
        "sh-9 [000] .... 5.0: do_sys_open+0x6/0xa0 <-SyS_open+0x20/0x50",
        "sh-9 [000] .... 5.5: <stack trace>",
        "日本-10 [002] .... 6.0: print: 日本語",
        "sh-9 [000] .... 7.0 lock_acquire: no colon after the stamp",
        "sh-9 [000] .... 8.0: no_colon_body",
        "sh-9 [000] .... 9.0:",
    ]
    text = "\n".join(lines) + "\n"
    _same(text, "awkward")
    fast = parse_text(text, "awkward")
    assert fast.events["line"].is_sorted()
    assert fast.events.filter(pl.col("line") == 2)["comm"].item() == "Wéb Contènt"
    assert fast.events.filter(pl.col("line") == 3)["comm"].item() == "x [000] 1.0: y"
    assert [line for line, _ in fast.malformed] == [5, 6, 12, 13, 14]


def test_lines_off_the_usual_layout_agree():
    """Most lines pad the task name to 16 columns; the lines that do not (a longer name, a name
    holding "-digits", a body shaped like a prefix) are searched for and agree with lark."""
    usual = [f"{'task' + str(i % 7):>16}-{100 + i:<7} [00{i % 4}] d..1. {1000 + i}.000001: lock_acquire: "
             f"00000000deadbeef &obj->lock" for i in range(300)]
    odd = [
        "     ab-12-3456 [001] d..1. 2000.000001: lock_release: 00000000deadbeef &obj->lock",  # -digits inside
        "  a-1 [000] 1.0: b-99999   [002] d..1. 2000.000002: x: y",  # an earlier match: malformed
        "this-task-name-is-long-4242 [003] d..1. 2000.000003: sched_process_exit: comm=a pid=1",
        "     kworker/0:1-44      [001] d..1. 2000.000004 no_colon",  # the usual place, no match
        "    x-1      [001] d..1. 2000.000005: y: z",
    ]
    text = "\n".join(usual[:150] + odd + usual[150:]) + "\n"
    _same(text, "layout")
    p = parse_text(text, "layout")
    got = p.events.filter(pl.col("line").is_between(151, 155)).select("line", "comm", "pid").rows()
    assert got == [(151, "ab-12", "3456"), (153, "this-task-name-is-long", "4242"), (155, "x", "1")]
    assert [line for line, _ in p.malformed] == [152, 154]
