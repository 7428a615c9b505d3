"""Parse and check throughput against `wc -l` on the same file, from one run.

    python benchmarks/parse_bench.py 5000000

Generates a realistic N-line trace (benchmarks/gen_trace.py), then times, on that file:
`wc -l`, `tracereplay parse -o events.parquet`, and `tracereplay check`; prints lines/s of
each, the ratios, and the peak memory of each tracereplay run. Figures only: machines are shared
and noisy, so compare ratios from one run.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen_trace import generate  # noqa: E402
from measure import run_child  # noqa: E402


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as d:
        trace = Path(d) / "trace.txt"
        with trace.open("w") as f:
            generate(n, f)
        size = trace.stat().st_size
        lines = n + 12
        print(f"trace: {lines} lines, {size / 1e6:.1f} MB")
        t_wc, _ = run_child(["wc", "-l", str(trace)])
        exe = [sys.executable, "-m", "tracereplay"]
        t_parse, peak_parse = run_child(exe + ["parse", str(trace), "-o", str(Path(d) / "events.parquet")])
        t_check, peak_check = run_child(allow=(0, 1), cmd=exe + ["check", "-q", "--format", "json", str(trace)])
        for what, t in (("wc -l", t_wc), ("parse", t_parse), ("check", t_check)):
            print(f"{what:>8}: {t:8.2f} s  {lines / t:12,.0f} lines/s  ({t / t_wc:6.1f} x wc -l)")
        print(f"check/parse time ratio: {t_check / t_parse:.2f}")
        print(f"peak memory: parse {peak_parse / 1024:.0f} MiB ({peak_parse * 1024 / size:.2f} x file), "
              f"check {peak_check / 1024:.0f} MiB ({peak_check * 1024 / size:.2f} x file)")


if __name__ == "__main__":
    main()
