"""How stable are nasbench's latency medians across fresh processes?

Measures several models of different size, each once per pass in a fresh Python process, with
glibc's allocator thresholds raised (nasbench's default) and, side by side in the same run,
left at glibc's defaults. Prints each model's medians, the coefficient of variation (CV) of the
medians across passes, the rank agreement between passes, and a machine noise floor: the CV of
a fixed matmul (compute) and a fixed 16 MB copy (memory) workload timed in the same
processes. Aim: CV of the median ≤ 3% for models of
1 ms and more.

    python benchmarks/latency_stability.py --passes 5
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = (("mobilenet_v3_small", 96), ("mobilenet_v2", 128), ("mobilenet_v3_small", 224),
          ("mobilenet_v2", 224))


def worker(name: str, resolution: int, tune: bool, min_time: float) -> dict[str, object]:
    """Run in a fresh process: measure one model, then a fixed matmul workload."""
    import dataclasses

    import torch

    from nasbench.nn.build import build_model
    from nasbench.measure.conditions import tune_allocator
    from nasbench.measure.latency import measure_latency
    from nasbench.spec.references import reference

    arch = dataclasses.replace(reference(name), resolution=resolution)
    if tune:  # process-wide, so applied at this fresh process's start, as the CLI does
        tune_allocator()
    result = measure_latency(build_model(arch), (3, resolution, resolution), threads=1,
                             min_time_s=min_time)
    torch.set_num_threads(1)
    a = torch.randn(256, 256)
    probe = []
    end = time.perf_counter() + 0.5
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        for _ in range(10):
            a @ a
        probe.append((time.perf_counter() - t0) * 1e3)
    src, dst = torch.randn(4 * 1024 * 1024), torch.empty(4 * 1024 * 1024)  # 16 MB each
    memory = []
    end = time.perf_counter() + 0.5
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        dst.copy_(src)
        memory.append((time.perf_counter() - t0) * 1e3)
    return {"median_ms": result.stats.median_ms, "cv_within": result.stats.cv,
            "samples": result.stats.samples, "probe_ms": statistics.median(probe),
            "memory_probe_ms": statistics.median(memory),
            "conditions": result.conditions.summary()}


def kendall_tau(a: list[float], b: list[float]) -> float:
    """Kendall's tau between two equally long lists (no ties expected)."""
    pairs = list(itertools.combinations(range(len(a)), 2))
    score = sum((a[i] - a[j]) * (b[i] - b[j]) > 0 for i, j in pairs)
    return (2 * score - len(pairs)) / len(pairs)


def cv(values: list[float]) -> float:
    """Coefficient of variation (sample standard deviation over mean)."""
    return statistics.stdev(values) / statistics.mean(values) if len(values) > 1 else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--min-time", type=float, default=1.5, help="timing seconds per model")
    parser.add_argument("--worker", nargs=4, metavar=("NAME", "RES", "TUNE", "MIN_TIME"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        name, res, tune, min_time = args.worker
        print(json.dumps(worker(name, int(res), tune == "1", float(min_time))))
        return 0

    results: dict[tuple[str, int, bool], list[dict]] = {}
    started = time.time()
    for p in range(args.passes):
        order = MODELS[p % len(MODELS):] + MODELS[:p % len(MODELS)]  # rotate to spread drift
        for tune in (True, False):
            for name, res in order:
                out = subprocess.run([sys.executable, __file__, "--worker", name, str(res),
                                      "1" if tune else "0", str(args.min_time)],
                                     cwd=ROOT, capture_output=True, text=True, check=True)
                results.setdefault((name, res, tune), []).append(json.loads(out.stdout))
        print(f"pass {p + 1}/{args.passes} done ({time.time() - started:.0f} s)", file=sys.stderr)

    any_result = next(iter(results.values()))[0]
    print(f"Latency stability: {args.passes} passes, each model in a fresh process per pass, "
          f"batch 1, {args.min_time:g} s of timing per model")
    print(f"Conditions: {any_result['conditions'].rsplit(', allocator', 1)[0]}\n")
    header = (f"{'model':<24}{'allocator':<12}{'median ms (per pass)':<44}"
              f"{'CV medians':>11}{'matmul CV':>10}{'memcpy CV':>10}")
    print(header)
    print("-" * len(header))
    for name, res in MODELS:
        for tune in (True, False):
            runs = results[(name, res, tune)]
            medians = [r["median_ms"] for r in runs]
            probes = [r["probe_ms"] for r in runs]
            memory = [r["memory_probe_ms"] for r in runs]
            label = f"{name}@{res}"
            print(f"{label:<24}{'tuned' if tune else 'default':<12}"
                  f"{' '.join(f'{m:6.2f}' for m in medians):<44}"
                  f"{100 * cv(medians):10.1f}%{100 * cv(probes):9.1f}%{100 * cv(memory):9.1f}%")
    print()
    for tune in (True, False):
        per_pass = [[results[(n, r, tune)][p]["median_ms"] for n, r in MODELS]
                    for p in range(args.passes)]
        consensus = [statistics.median(col) for col in zip(*per_pass)]
        taus = [kendall_tau(row, consensus) for row in per_pass]
        same = sum(sorted(range(len(row)), key=row.__getitem__)
                   == sorted(range(len(consensus)), key=consensus.__getitem__) for row in per_pass)
        print(f"rank agreement ({'tuned' if tune else 'default'} allocator): Kendall tau vs "
              f"consensus mean {statistics.mean(taus):.3f}, identical order in {same}/{args.passes} passes")
    ratios = [statistics.median([r["median_ms"] for r in results[(n, r_, False)]])
              / statistics.median([r["median_ms"] for r in results[(n, r_, True)]])
              for n, r_ in MODELS]
    print("default / tuned allocator median latency: "
          + ", ".join(f"{n}@{r} {x:.2f}x" for (n, r), x in zip(MODELS, ratios)))
    all_probe = [r["probe_ms"] for runs in results.values() for r in runs]
    all_memory = [r["memory_probe_ms"] for runs in results.values() for r in runs]
    print(f"machine noise floor across all {len(all_probe)} processes: fixed compute workload "
          f"(256x256 matmul) CV {100 * cv(all_probe):.1f}%, fixed memory workload "
          f"(16 MB copy) CV {100 * cv(all_memory):.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
