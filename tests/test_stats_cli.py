"""`tracereplay stats`: formats, options, output files, plots and errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from test_stats import FENCES, LOCKS, OBJECTS, PNG, write

from tracereplay.stats import compute_stats
from tracereplay.table import load_table

try:
    from tracereplay.cli import main as cli

    ARGS: list[str] = ["stats"]
except ImportError:  # a sibling command module is missing: run ours alone
    from tracereplay.cli.stats_cmd import command as cli

    ARGS = []


def run(*args: str):
    return CliRunner().invoke(cli, ARGS + list(args))


@pytest.fixture
def trace(tmp_path) -> str:
    body = FENCES.split("|     |         |\n", 1)[1] + OBJECTS.split("|     |         |\n", 1)[1]
    return write(tmp_path, "trace.txt", LOCKS + body)


def test_table_default(trace):
    r = run(trace)
    assert r.exit_code == 0, r.output
    out = r.output
    for head in ("== locks (by class; times in ns) ==", "== fences (times in ns) ==", "== events ==",
                 "== tasks ==", "== cpus ==", "== summary ==", "== health ==",
                 "== objects (by class; lifetimes in ns, sizes in bytes) =="):
        assert head in out
    lines = out.splitlines()
    i = lines.index("== locks (by class; times in ns) ==")
    assert lines[i + 1].split()[:4] == ["name", "acquired", "contended", "unmatched"]
    assert lines[i + 3].split()[:4] == ["rcu_read_lock", "6", "0", "0"]
    dev = lines[i + 4].split()
    assert dev[0] == "&dev->lock" and dev[1:4] == ["3", "2", "2"]
    # hold columns: n total mean min max p50 p95 p99
    assert dev[-8:] == ["2", "85000", "42500.0", "10000", "75000", "10000", "75000", "75000"]


def test_csv_single_section_matches_library(trace):
    r = run(trace, "--section", "locks", "--by", "task", "--format", "csv")
    assert r.exit_code == 0, r.output
    got = pl.read_csv(io.StringIO(r.output))
    exp = compute_stats(load_table([trace]), section="locks", by="task")["locks"]
    assert got["task"].to_list() == exp["task"].to_list()
    assert got["hold_total"].to_list() == exp["hold_total"].to_list()
    assert got["wait_total"].to_list() == [0, 0, 50000, 93000]  # bash, <idle>, cat, kworker


def test_csv_all_sections_have_headers(trace):
    r = run(trace, "--format", "csv")
    assert r.exit_code == 0
    heads = [ln for ln in r.output.splitlines() if ln.startswith("# ")]
    assert heads == ["# locks", "# fences", "# events", "# tasks", "# cpus", "# summary",
                     "# health", "# objects"]


def test_json_sort_top(trace):
    r = run(trace, "--format", "json", "--sort", "wait_total", "--top", "2")
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert [x["name"] for x in d["locks"]] == ["contention:MUTEX", "&dev->lock"]
    assert d["locks"][0]["wait_total"] == 100000 and d["locks"][0]["wait_p50"] == 10000
    assert len(d["events"]) == 2  # --top applies; events have no wait_total: default order
    assert [x["driver"] for x in d["fences"]] == ["vgem", "i915"]
    assert d["fences"][0]["latency_total"] == 200000 and d["fences"][0]["unsignaled"] == 1
    assert {x["cache"]: x["live"] for x in d["objects"]} == {"names_cache": 1, "filp": 0}
    assert d["summary"][0]["events"] == 28 + 17 + 13


def test_markdown_and_output_file(trace, tmp_path):
    out = tmp_path / "stats.md"
    r = run(trace, "--section", "fences", "--format", "markdown", "-o", str(out))
    assert r.exit_code == 0, r.output
    text = out.read_text()
    assert text.startswith("## fences (times in ns)\n\n| driver | timeline | contexts | fences |")
    assert "| vgem | vgem-0 | 1 | 3 | 2 | 2 | 1 | 1 | 200000 | 200000.0 |" in text


def test_by_instance_and_cpu(trace):
    r = run(trace, "--section", "locks", "--by", "instance", "--format", "json")
    d = json.loads(r.output)["locks"]
    assert {x["addr"]: x["acquired"] for x in d} == {
        "00000000bbbb0002": 6, "00000000aaaa0001": 3, "00000000eeee0005": 0, "00000000dddd0004": 0}
    r = run(trace, "--section", "objects", "--by", "instance", "--format", "json", "--sort", "live")
    d = json.loads(r.output)["objects"]
    assert d[0]["call_site"] in ("getname_flags+0x47/0x1f0", "kvmalloc_node+0x40/0x100")
    assert d[0]["live"] == 1


def test_parquet(trace, tmp_path):
    r = run(trace, "--format", "parquet")
    assert r.exit_code == 2
    assert "tracereplay: error: --format parquet needs -o FILE" in r.output
    one = tmp_path / "locks.parquet"
    r = run(trace, "--section", "locks", "--format", "parquet", "-o", str(one))
    assert r.exit_code == 0, r.output
    assert pl.read_parquet(one)["name"].to_list()[0] == "rcu_read_lock"
    many = tmp_path / "all.parquet"
    r = run(trace, "--format", "parquet", "-o", str(many))
    assert r.exit_code == 0, r.output
    for name in ("locks", "fences", "events", "tasks", "cpus", "summary", "health", "objects"):
        assert (tmp_path / f"all-{name}.parquet").exists()
    assert pl.read_parquet(tmp_path / "all-fences.parquet").height == 2


def test_plot_dir(trace, tmp_path):
    pytest.importorskip("matplotlib")
    plots = tmp_path / "plots"
    r = run(trace, "--section", "locks", "--plot", str(plots))
    assert r.exit_code == 0, r.output
    names = sorted(p.name for p in plots.iterdir())
    assert names == ["cpu_timeline.png", "fence_latency.png", "lock_hold.png", "lock_wait.png"]
    for p in plots.iterdir():
        assert p.read_bytes()[:8] == PNG and p.stat().st_size > 5000


def test_plot_without_matplotlib(trace, tmp_path, monkeypatch):
    import sys

    for mod in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, mod, None)
    r = run(trace, "--plot", str(tmp_path / "p"))
    assert r.exit_code == 2
    assert r.output == "tracereplay: error: --plot needs matplotlib: pip install 'tracereplay[plot]'\n"
    assert not (tmp_path / "p").exists()


def test_errors(trace, tmp_path):
    r = run(trace, "--sort", "bogus")
    assert r.exit_code == 2 and "unknown sort key 'bogus'" in r.output
    r = run(trace, "--section", "fences", "--sort", "acquired")
    assert r.exit_code == 2
    r = run(str(tmp_path / "missing.txt"))
    assert r.exit_code == 2 and "missing.txt" in r.output
    r = run(trace, "--by", "thread")
    assert r.exit_code == 2
    r = run(trace, "--top", "-1")
    assert r.exit_code == 2


def test_split_files_same_output(tmp_path):
    lines = LOCKS.splitlines(keepends=True)
    whole = write(tmp_path, "w.txt", LOCKS)
    a = write(tmp_path, "a.txt", "".join(lines[:20]))
    b = write(tmp_path, "b.txt", "".join(lines[20:]))
    for section in ("locks", "fences", "objects"):
        x = run(whole, "--section", section, "--format", "csv")
        y = run(a, b, "--section", section, "--format", "csv")
        assert x.exit_code == y.exit_code == 0
        assert x.output == y.output


def test_corpus_cli(tmp_path):
    from test_stats import CORPUS

    path = CORPUS / "lkml-snippets" / "20251106_rostedt_lock_acquire_release_fixed.txt"
    if not path.exists():
        pytest.skip(f"shared corpus file {path} not found (set TRACEREPLAY_SHARED)")
    r = run(str(path), "--section", "locks", "--format", "csv", "--sort", "avg_hold")
    got = pl.read_csv(io.StringIO(r.output))
    assert got.select("name", "hold_n", "hold_mean").rows()[:2] == [
        ("rcu_read_lock_trace", 1, 3000.0), ("&mm->mmap_lock", 3, 1000.0)]
    assert Path(path).exists()
