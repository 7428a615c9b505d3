"""Statistics throughput against parsing, on one generated trace, from one run.

    python benchmarks/stats_bench.py 5000000

Generates a realistic N-line trace (benchmarks/gen_trace.py: lock, dma_fence, kmem and sched
events), then times in this process: loading it into the event table (parse), and
`compute_stats` over the table for every section and for each section alone (stats); and as
commands: `tracereplay parse -o events.parquet` and `tracereplay stats --format csv -o FILE`
(which parses too).  Prints events/s and ratios.  Figures only: machines are shared and noisy,
so compare ratios from one run.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gen_trace import generate  # noqa: E402
from measure import run_child  # noqa: E402

from tracereplay.stats import SECTIONS, compute_stats  # noqa: E402
from tracereplay.table import load_table  # noqa: E402


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as d:
        trace = Path(d) / "trace.txt"
        with trace.open("w") as f:
            generate(n, f)
        print(f"trace: {n} events, {trace.stat().st_size / 1e6:.1f} MB")

        t = time.perf_counter()
        table = load_table([str(trace)])
        t_parse = time.perf_counter() - t
        events = table.events.height
        t = time.perf_counter()
        frames = compute_stats(table)
        t_stats = time.perf_counter() - t
        print(f"{'parse':>16}: {t_parse:8.2f} s  {events / t_parse:12,.0f} events/s")
        print(f"{'stats (all)':>16}: {t_stats:8.2f} s  {events / t_stats:12,.0f} events/s"
              f"  ({t_stats / t_parse:.2f} x parse time)")
        for section in SECTIONS:
            t = time.perf_counter()
            compute_stats(table, section=section)
            dt = time.perf_counter() - t
            print(f"{'stats ' + section:>16}: {dt:8.2f} s  {events / dt:12,.0f} events/s")
        locks = frames["locks"]
        print(f"locks: {locks.height} classes, {int(locks['hold_n'].sum())} hold pairs, "
              f"{int(locks['unmatched'].sum())} unmatched; fences: {int(frames['fences']['fences'].sum())}; "
              f"objects: {int(frames['objects']['allocs'].sum())} allocations")
        del table, frames

        exe = [sys.executable, "-m", "tracereplay"]
        t_pc, peak_p = run_child(exe + ["parse", str(trace), "-o", str(Path(d) / "events.parquet")])
        t_sc, peak_s = run_child(exe + ["stats", str(trace), "--format", "csv", "-o", str(Path(d) / "s.csv")])
        print(f"{'parse command':>16}: {t_pc:8.2f} s  {n / t_pc:12,.0f} lines/s  peak {peak_p / 1024:.0f} MiB")
        print(f"{'stats command':>16}: {t_sc:8.2f} s  {n / t_sc:12,.0f} lines/s  peak {peak_s / 1024:.0f} MiB"
              f"  ({t_sc / t_pc:.2f} x parse command, parsing included)")


if __name__ == "__main__":
    main()
