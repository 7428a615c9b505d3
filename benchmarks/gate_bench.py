"""Corpus throughput of the CI gate with -j1 and -j2, from one run.

    python benchmarks/gate_bench.py [N_CAPTURES] [EVENTS_PER_CAPTURE]

Writes N generated traces (benchmarks/gen_trace.py, one seed each) to a temporary directory,
then times ``tracereplay.gate.check_corpus`` over the directory (expansion, content sniffing,
checking; worker start-up included) with 1 and 2 processes and prints captures/s and the
speed-up. Figures only: machines are shared and noisy.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen_trace import generate  # noqa: E402

from tracereplay import gate  # noqa: E402


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    events = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
    with tempfile.TemporaryDirectory() as d:
        for k in range(n):
            with open(os.path.join(d, f"capture_{k:04d}.txt"), "w") as f:
                generate(events, f, seed=k + 1)
        size = sum(p.stat().st_size for p in Path(d).iterdir())
        print(f"corpus: {n} captures x {events} events, {size / 1e6:.1f} MB; {os.cpu_count()} CPUs")
        rates = {}
        outputs = {}
        for jobs in (1, 2):
            t = time.perf_counter()
            _, results = gate.check_corpus([d], jobs=jobs)
            dt = time.perf_counter() - t
            rates[jobs] = n / dt
            outputs[jobs] = [(r.name, [f.to_dict() for f in r.findings], r.errors) for r in results]
            print(f"  -j{jobs}: {dt:7.2f} s  {rates[jobs]:8.1f} captures/s  "
                  f"{n * events / dt:12,.0f} events/s")
        print(f"speed-up -j2/-j1: {rates[2] / rates[1]:.2f}x; results identical: {outputs[1] == outputs[2]}")


if __name__ == "__main__":
    main()
