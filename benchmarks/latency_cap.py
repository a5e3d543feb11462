"""The search's latency cap: does sampling longer make a measurement repeat better?

    python benchmarks/latency_cap.py [--caps 0.1 0.15 0.3] [--models 4] [--seconds 150]

Draws ``--models`` architectures of ``mixed`` on digits and measures each again and again
for ``--seconds``, as a search does (1 thread, batch 1, 0.05 s of warm-up, sampling until the
median's 95 % interval is within ±2 % or the cap), rotating through the models and the caps
in a fresh random order each round, so that every cap sees the same moments of the host.
Printed per cap: the spread of one model's repeated measurements (interquartile range over
median, the median over models), the half-width of the 95 % interval each measurement
reports for itself (median), and the seconds one measurement takes. When the repeats spread
much more than the intervals say, the host's own drift, not the sample count, bounds how
well a latency is known, and a longer cap buys nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    import numpy as np

    from nasbench.nn.build import build_model
    from nasbench.measure.conditions import current_conditions
    from nasbench.measure.latency import measure_latency
    from search_spaces import UniformDraw
    from search_spaces import DataShape, get_space

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--caps", type=float, nargs="+", default=[0.1, 0.15, 0.3])
    parser.add_argument("--models", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=150.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    shape = DataShape(8, 1, 10)
    rng = np.random.default_rng(args.seed)
    space = get_space("mixed")
    models = [build_model(space.sample(UniformDraw(rng), shape), seed=0) for _ in range(args.models)]
    medians = {(m, c): [] for m in range(args.models) for c in args.caps}
    halves = {c: [] for c in args.caps}
    took = {c: [] for c in args.caps}
    start = time.perf_counter()
    while time.perf_counter() - start < args.seconds:
        for m in rng.permutation(args.models):
            for c in rng.permutation(args.caps):
                began = time.perf_counter()
                r = measure_latency(models[int(m)], (1, 8, 8), threads=1, min_time_s=float(c),
                                    warmup_s=0.05, precision=0.02)
                took[float(c)].append(time.perf_counter() - began)
                medians[(int(m), float(c))].append(r.stats.median_ms)
                halves[float(c)].append((r.stats.median_ci_high_ms - r.stats.median_ci_low_ms)
                                        / 2 / r.stats.median_ms)
    cond = current_conditions("cpu", 1, 1, "float32", "contiguous", "")
    print(f"{args.models} architectures of mixed (digits), {cond.device_name}, 1 thread, batch 1, "
          f"torch {cond.torch_version}; {len(medians[(0, args.caps[0])])} measurements per model "
          f"and cap, interleaved over {args.seconds:.0f} s")
    print(f"{'cap s':>6} {'repeat spread (IQR/median)':>27} {'per model':>30} "
          f"{'own 95% interval ±':>19} {'s per measurement':>18}")
    for c in args.caps:
        spreads = []
        for m in range(args.models):
            q25, q50, q75 = np.percentile(medians[(m, c)], [25, 50, 75])
            spreads.append((q75 - q25) / q50)
        print(f"{c:>6.2f} {np.median(spreads):>27.3f} {' '.join(f'{s:.3f}' for s in spreads):>30} "
              f"{100 * np.median(halves[c]):>18.1f}% {np.median(took[c]):>18.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
