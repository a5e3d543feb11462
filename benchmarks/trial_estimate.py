"""How close the training-time estimate a search prints is to the time trials take.

    python benchmarks/trial_estimate.py [--data ../shared/datasets/cifar10] [--space mixed] [--archs 6]

Loads an image folder as a search does (on a CPU: the CPU proxy's subset, epochs and batch),
computes the estimate the search prints before its first trial (``expected_trial_seconds``:
7 architectures of the space, each timed for 0.5 s of training steps) and, beside it, the one
it replaced (3 architectures, 3 steps each; both in the memory layout training uses), then
trains ``--archs`` architectures drawn from the space in full (no early stop) exactly as a
trial does, and times each; the estimate is computed again after every architecture, so its
own spread over the same window is shown. Prints every figure, the median trial against the
median estimate, and the conditions (what else ran is for the person running it to say).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "datasets" / "cifar10")
    parser.add_argument("--space", default="mixed")
    parser.add_argument("--archs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import torch

    from nasbench.measure.conditions import current_conditions
    from nasbench.latency_model.measure import draw_archs
    from nasbench.workflows.objective import LocalEvaluator
    from nasbench.workflows.search import expected_trial_seconds
    from nasbench.workflows.settings import SearchConfig
    from nasbench.workflows.loading import load_search_data
    from nasbench.train.proxy import expected_seconds
    from search_spaces import DataShape, get_space

    c = current_conditions("cpu", 1, 1, "float32", "contiguous", "", "cpu")
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}  {c.cpu_model}, {os.cpu_count()} cores, torch "
          f"{torch.__version__}, load average {os.getloadavg()[0]:.2f}", flush=True)
    config = SearchConfig(space=args.space, dataset="folder", data_dir=str(args.data), seed=args.seed,
                          runs_dir=str(ROOT / "runs"))
    data = load_search_data(config)
    print(f"{data.summary()}; training: {config.train_config()}", flush=True)
    def estimate_short() -> float:  # 3 architectures, 3 timed steps each (as before)
        return expected_trial_seconds(config, data, models=3, seconds_per_model=0.0)

    estimates, shorts = [expected_trial_seconds(config, data)], [estimate_short()]
    print(f"estimate before: {estimates[0]:.1f} s per architecture (3 architectures x 3 steps: "
          f"{shorts[0]:.1f} s)", flush=True)
    archs = draw_archs(get_space(args.space), DataShape(data.resolution, data.channels,
                                                        len(data.classes)), args.archs,
                       seed=args.seed + 1)
    evaluator = LocalEvaluator(config, data)
    actual = []
    for i, arch in enumerate(archs):
        measured = evaluator.measure(arch, config.seed)
        start = time.perf_counter()
        evaluator.train(arch, measured, config.seed, lambda epoch, acc: None)
        actual.append(time.perf_counter() - start)
        estimates.append(expected_trial_seconds(config, data))
        shorts.append(estimate_short())
        own = expected_seconds([measured.model], data, config.train_config(), threads=config.threads)
        print(f"{i + 1:>2} trained in {actual[-1]:.1f} s (its own estimate {own:.1f} s); "
              f"estimate after it {estimates[-1]:.1f} s "
              f"(3 x 3 steps: {shorts[-1]:.1f} s); load {os.getloadavg()[0]:.2f}", flush=True)
    med_a, med_e = statistics.median(actual), statistics.median(estimates)
    print(f"median trial {med_a:.1f} s (range {min(actual):.1f}-{max(actual):.1f}, {len(actual)} "
          f"architectures); median estimate {med_e:.1f} s (range {min(estimates):.1f}-"
          f"{max(estimates):.1f}, {len(estimates)} estimates); trial / estimate {med_a / med_e:.2f}; "
          f"3 architectures x 3 steps: median {statistics.median(shorts):.1f} s (range {min(shorts):.1f}-"
          f"{max(shorts):.1f}), trial / estimate {med_a / statistics.median(shorts):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
