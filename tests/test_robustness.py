"""Whatever the input, no traceback: every line is accounted for, exit status is 0, 1 or 2."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from conftest import ev
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracereplay.cli import main
from tracereplay.parse.ftrace import parse_text

VALID = [
    ev("insmod", 101, 0, 10.000001, "lock_acquire: 00000000aaaa0001 &a_mutex"),
    ev("kworker/0:1", 44, 1, 10.000002, "dma_fence_signaled: driver=vgem timeline=vgem-0 context=5 seqno=1"),
    ev("vm-bind-a", 601, 0, 10.000003,
       "gpuvm_bo_obtain: (drm_gpuvm_bo_obtain+0x0/0x1c0 [drm_gpuvm]) gpuvm=0xffff88812a3a2100 obj=0xffff8881d7e11b10"),
    "CPU:1 [LOST 3 EVENTS]",
    "# entries-in-buffer/entries-written: 5/9   #P:2",
]
noise = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=80)
lines = st.lists(st.one_of(st.sampled_from(VALID), noise,
                           st.sampled_from(VALID).map(lambda s: s[: len(s) // 2])), max_size=25)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines)
def test_parse_accounts_for_every_line(ls):
    text = "\n".join(ls)
    p = parse_text(text, "fuzz")
    assert len(p.events) + sum(p.non_events.values()) + len(p.malformed) == p.lines


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(ls=lines, raw=st.binary(max_size=64))
def test_cli_never_tracebacks(tmp_path, ls, raw):
    p = tmp_path / "in.txt"
    p.write_bytes("\n".join(ls).encode() + raw)
    for cmd in (["check", "-j1"], ["info"], ["stats"], ["dmesg"]):
        r = CliRunner().invoke(main, [*cmd, str(p)])
        assert r.exit_code in (0, 1, 2), (cmd, r.output)
        assert "Traceback" not in r.output and "internal error" not in r.output, (cmd, r.output)


def test_numbers_too_wide_for_their_columns_are_null_not_a_crash(tmp_path):
    """A pid, cpu, stamp or field wider than the kernel could print (garbage in a capture) is
    kept as an event with that column null."""
    p = tmp_path / "wide.txt"
    p.write_text(
        "x-99999999999 [000] .... 1.0: sched_switch: prev_comm=a prev_pid=99999999999 prev_prio=120"
        " prev_state=S ==> next_comm=b next_pid=2 next_prio=120\n"
        "y-5 [99999999999] .... 2.0: contention_end: 0000000012345678 (ret=99999999999)\n"
        "z-5 [000] .... 99999999999999999999.0: a: b\n"
    )
    from tracereplay.table import load_table

    ev_ = load_table([str(p)]).events.sort("line")
    assert ev_["pid"].to_list() == [None, 5, 5]
    assert ev_["prev_pid"].to_list()[0] is None and ev_["next_pid"].to_list()[0] == 2
    assert ev_["cpu"].to_list() == [0, None, 0] and ev_["ret"].to_list()[1] is None
    assert ev_["ts_ns"].to_list() == [1_000_000_000, 2_000_000_000, None]
    for cmd in (["check"], ["info"], ["stats"]):
        r = CliRunner().invoke(main, [*cmd, str(p)])
        assert r.exit_code == 0 and "internal error" not in r.output, (cmd, r.output)


@pytest.mark.parametrize("magic", [b"\x1f\x8b\x08", b"\x28\xb5\x2f\xfd", b"\x78\x9c", b"\x78\x5e"])
def test_a_block_that_starts_like_compressed_data_is_text(tmp_path, magic):
    """The last block of a file can start with anything: bytes that look like gzip, zlib or
    zstd data there are lines of text (malformed here), not something to decompress."""
    p = tmp_path / "t.txt"
    p.write_bytes(VALID[0].encode() + b"\n\n" + magic + b"garbage")
    from tracereplay.io import iter_bytes
    from tracereplay.parse.ftrace import parse_blocks

    got = parse_blocks(iter_bytes(str(p), block=16), "t")
    assert got.lines == 3 and len(got.events) == 1 and [line for line, _ in got.malformed] == [3]
    r = CliRunner().invoke(main, ["check", "-j1", str(p)])
    assert r.exit_code == 0 and "internal error" not in r.output, r.output
