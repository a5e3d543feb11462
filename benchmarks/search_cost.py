"""The default search's wall time, this tree against another checkout of nasbench, interleaved.

    python benchmarks/search_cost.py --other /path/to/old/checkout [--runs 3] [--budget 50]

Runs ``python cli.py search --budget B --seed S`` as a whole process in each tree, alternating
(this, other, other, this, ...: drift of the host falls on both), each into a temporary
folder (runs/ is never touched), ``--runs`` times each with seeds 0, 1, ...; the same seed
in both trees. Prints each run's wall time, each tree's median and range, and the ratio of
the medians with the range of the per-seed ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(tree: Path, budget: int, seed: int, extra: list[str]) -> float:
    """Seconds one search takes in ``tree``, as a whole process."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run([sys.executable, "cli.py", "search", "--budget", str(budget), "--seed",
                        str(seed), "--runs-dir", tmp, *extra], cwd=tree, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=3600)
        return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--other", type=Path, required=True, help="another checkout of nasbench")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--budget", type=int, default=50)
    parser.add_argument("extra", nargs="*", help="more search options, after --")
    args = parser.parse_args()
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True).stdout.strip()
    other = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=args.other,
                           capture_output=True, text=True).stdout.strip()
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}  {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.2f}; this tree {head} vs {args.other} ({other}); search --budget "
          f"{args.budget} {' '.join(args.extra)}; {args.runs} runs each, alternating", flush=True)
    times: dict[str, list[float]] = {"this": [], "other": []}
    for seed in range(args.runs):
        order = ("this", "other") if seed % 2 == 0 else ("other", "this")
        for name in order:
            tree = ROOT if name == "this" else args.other
            times[name].append(run(tree, args.budget, seed, args.extra))
            print(f"seed {seed} {name:<5} {times[name][-1]:7.1f} s", flush=True)
    for name, values in times.items():
        print(f"{name:<5} median {statistics.median(values):.1f} s (range {min(values):.1f}-"
              f"{max(values):.1f}, {len(values)} runs)")
    ratios = [a / b for a, b in zip(times["this"], times["other"])]
    print(f"this / other: {statistics.median(times['this']) / statistics.median(times['other']):.3f} "
          f"(per seed {min(ratios):.3f}-{max(ratios):.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
