"""Reading input: compression by magic bytes, stdin, and one clear line + exit 2 for bad input."""

from __future__ import annotations

import bz2
import gzip
import lzma
import subprocess
import sys

import pytest
import zstandard
from click.testing import CliRunner
from conftest import ev

from tracereplay.cli import main
from tracereplay.table import load_table

LINES = [
    ev("insmod", 101, 0, 10.000001, "lock_acquire: 00000000aaaa0001 &a_mutex"),
    ev("insmod", 101, 0, 10.000002, "lock_release: 00000000aaaa0001 &a_mutex"),
]
TEXT = "\n".join(LINES) + "\n"


@pytest.mark.parametrize("ext,pack", [
    (".gz", gzip.compress), (".xz", lzma.compress), (".bz2", bz2.compress),
    (".zst", lambda b: zstandard.ZstdCompressor().compress(b)), ("", lambda b: b),
])
def test_compressed_by_magic_bytes(tmp_path, ext, pack):
    p = tmp_path / f"trace.bin{ext}"  # the name says nothing: magic bytes decide
    p.write_bytes(pack(TEXT.encode()))
    t = load_table([str(p)])
    assert t.events["event"].to_list() == ["lock_acquire", "lock_release"]
    assert t.events["line"].to_list() == [1, 2]


def test_stdin():
    r = subprocess.run([sys.executable, "-m", "tracereplay", "info", "--format", "json", "-"],
                       input=TEXT.encode(), capture_output=True)
    assert r.returncode == 0, r.stderr
    assert b'"events": 2' in r.stdout


def test_non_utf8_task_name(tmp_path):
    p = tmp_path / "t.txt"
    p.write_bytes(b"  caf\xe9\xff-12     [000] ..... 1.000000: lock_acquire: 0000000000000001 &x\n")
    t = load_table([str(p)])
    assert t.events["comm"].to_list() == ["caf\ufffd\ufffd"]


def _put(d, name, data):
    (d / name).write_bytes(data)
    return str(d / name)


@pytest.mark.parametrize("setup,expect", [
    (lambda d: str(d / "missing.txt"), "missing.txt: no such file"),
    (lambda d: str(d), "is a directory"),
    (lambda d: _put(d, "bin", b"\x7fELF\x00\x01\x02"), "bin:1: binary file"),
    (lambda d: _put(d, "prose.txt", b"hello\nworld\n"), "prose.txt:1: no trace event in 2 lines"),
    (lambda d: _put(d, "empty.txt", b""), "empty.txt: no trace event in 0 lines"),
])
@pytest.mark.parametrize("cmd", ["check", "info", "parse"])
def test_bad_input_one_line_exit_2(tmp_path, setup, expect, cmd):
    if cmd == "check" and expect == "is a directory":
        expect = "no trace file or kernel log found"  # check walks directories (a corpus)
    path = setup(tmp_path)
    r = CliRunner().invoke(main, [cmd, path])
    assert r.exit_code == 2
    err = r.stderr if hasattr(r, "stderr") else r.output
    lines = [x for x in err.splitlines() if x]
    assert len(lines) == 1 and lines[0].startswith("tracereplay: error: ") and expect in lines[0], err
    assert "Traceback" not in r.output


def test_malformed_lines_reported_not_lost(trace_file):
    path = trace_file(LINES[:1] + ["this is not a trace line"] + LINES[1:])
    t = load_table([path])
    f = t.files[0]
    assert f.events == 2 and f.malformed == [(14, "not an ftrace line: 'this is not a trace line'")]
    assert f.events + sum(f.non_events.values()) + len(f.malformed) == f.lines
    r = CliRunner().invoke(main, ["info", path])
    assert r.exit_code == 0
    assert f"{path}:14: malformed: not an ftrace line" in (r.stderr if hasattr(r, "stderr") else r.output)


@pytest.mark.parametrize("pack", [lambda b: b, gzip.compress, lzma.compress, bz2.compress,
                                  lambda b: zstandard.ZstdCompressor().compress(b)])
def test_streamed_blocks_parse_like_the_whole(tmp_path, pack):
    """Large files are read block by block: the cuts change nothing, whatever the compression."""
    from tracereplay.io import iter_bytes
    from tracereplay.parse.ftrace import parse_blocks, parse_text

    text = "# tracer: nop\n" + TEXT + "not a trace line\n" + TEXT.rstrip("\n")  # no final newline
    p = tmp_path / "t"
    p.write_bytes(pack(text.encode()))
    whole = parse_text(text, "t")
    for block in (1, 7, 64, 1 << 20):
        got = parse_blocks(iter_bytes(str(p), block=block), "t")
        assert got.events.equals(whole.events) and got.malformed == whole.malformed
        assert got.lines == whole.lines == 6


def test_truncated_compressed_file_is_an_input_error(tmp_path):
    p = tmp_path / "t.xz"
    p.write_bytes(lzma.compress(TEXT.encode() * 50)[:40])
    r = CliRunner().invoke(main, ["info", str(p)])
    assert r.exit_code == 2 and "cannot decompress xz data" in (r.stderr if hasattr(r, "stderr") else r.output)


@pytest.mark.parametrize("tail", [b"", bytes([0x1F, 0x1E, 0x1D, 0x1C, 1, 2, 3, 4, 5, 6])])
def test_a_byte_order_mark_is_not_part_of_the_first_line(tail):
    """Editors on other systems save a BOM: the header line after it is still a header, whichever
    way the chunk is split (the CSV reader, or Python when every separator byte occurs)."""
    from tracereplay.parse.ftrace import parse_blocks

    p = parse_blocks([b"\xef\xbb\xbf# tracer: nop\n" + TEXT.encode() + tail], "t")
    assert p.non_events.get("comment") == 1 and not [m for m in p.malformed if m[0] == 1]


def test_stamps_to_nanoseconds_whatever_their_decimals():
    """One scaling when every stamp has the same decimals; mixed decimals, raw counters and more
    than 9 decimals (cut to nanoseconds) each keep their meaning."""
    import polars as pl

    from tracereplay.table import ts_ns

    def ns(*stamps):
        return ts_ns(pl.Series(list(stamps), dtype=pl.String)).to_list()

    assert ns("12.000001", "13.500000") == [12_000_001_000, 13_500_000_000]
    assert ns("1.5", "2.000001", "3.000000001") == [1_500_000_000, 2_000_001_000, 3_000_000_001]
    assert ns("123456789", "123456790") == [123456789, 123456790]
    assert ns("1.0000000019") == [1_000_000_001]
    assert ns("7", "8.25") == [7, 8_250_000_000]
