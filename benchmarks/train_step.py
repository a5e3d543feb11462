"""Training-step time of two ways to train, side by side in one run.

    python benchmarks/train_step.py [--compare grads|layout] [--archs 8] [--rounds 5] [--space mixed]

Draws architectures from the space (seeded), and for each times training steps (forward,
backward, AdamW step) of a batch of 128 digits images on all CPU threads, both ways,
interleaved round by round so that the host's drift hits both alike. Prints per architecture
the median ms per step of each with its interquartile range, and the ratio; then the median
ratio and the ratio of the total.

- ``--compare grads`` (default): channels-last with PyTorch's own convolution weight gradients
  against the small-map weight gradients of ``nasbench.nn.conv_grads``, which ``nasbench.train.proxy``
  uses on a CPU because of this comparison.
- ``--compare layout``: PyTorch's default (contiguous) layout against channels-last;
  ``nasbench.train.proxy`` trains in channels-last on a CPU because of this comparison.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _step_ms(model, optimizer, x, y, steps: int, small_map_grads: bool) -> list[float]:
    from torch import nn

    from nasbench.nn.conv_grads import installed

    times = []
    with installed(model, small_map_grads):
        for _ in range(steps):
            start = time.perf_counter()
            loss = nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            times.append((time.perf_counter() - start) * 1e3)
    return times


def main() -> int:
    import numpy as np
    import torch

    from nasbench.nn.build import build_model
    from nasbench.train.data import load_dataset
    from nasbench.measure.conditions import current_conditions
    from search_spaces import UniformDraw
    from nasbench.train.proxy import make_optimizer
    from nasbench.train.recipe import default_train_config
    from search_spaces import DataShape, get_space

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compare", choices=("grads", "layout"), default="grads")
    parser.add_argument("--archs", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per round")
    parser.add_argument("--space", default="mixed")
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    data = load_dataset("digits")
    shape = DataShape(data.resolution, data.channels, len(data.classes))
    rng = np.random.default_rng(args.seed)
    archs = [get_space(args.space).sample(UniformDraw(rng), shape) for _ in range(args.archs)]
    threads = torch.get_num_threads()
    if args.compare == "layout":
        ways = {"contiguous": (torch.contiguous_format, False),
                "channels_last": (torch.channels_last, False)}
    else:
        ways = {"torch grads": (torch.channels_last, False),
                "small-map grads": (torch.channels_last, True)}
    names = list(ways)
    x, y = data.x_train[:128], data.y_train[:128]
    print(f"conditions: {current_conditions('cpu', threads, 128, 'float32', 'channels_last', 'default')}")
    print(f"{args.archs} architectures of {args.space}, batch 128 of digits, {threads} threads, "
          f"{args.rounds} rounds x {args.steps} steps, interleaved")
    print(f"{'arch':>4} {names[0] + ' ms (IQR)':>24} {names[1] + ' ms (IQR)':>28} {'ratio':>6}")
    ratios, totals = [], [0.0, 0.0]
    for i, arch in enumerate(archs):
        runs = {}
        for name, (layout, small_map_grads) in ways.items():
            model = build_model(arch, seed=0).train().to(memory_format=layout)
            optimizer = make_optimizer(model, default_train_config("digits"))  # as training
            inputs = x.contiguous(memory_format=layout)
            _step_ms(model, optimizer, inputs, y, 2, small_map_grads)  # warm up
            runs[name] = (model, optimizer, inputs, small_map_grads, [])
        for _ in range(args.rounds):
            for name in names:
                model, optimizer, inputs, small_map_grads, times = runs[name]
                times.extend(_step_ms(model, optimizer, inputs, y, args.steps, small_map_grads))
        cells = []
        for k, name in enumerate(names):
            q = statistics.quantiles(runs[name][4], n=4)
            cells.append((statistics.median(runs[name][4]), q[0], q[2]))
            totals[k] += cells[-1][0]
        ratio = cells[1][0] / cells[0][0]
        ratios.append(ratio)
        print(f"{i:>4} {cells[0][0]:>11.1f} ({cells[0][1]:.1f}-{cells[0][2]:.1f}) "
              f"{cells[1][0]:>15.1f} ({cells[1][1]:.1f}-{cells[1][2]:.1f}) {ratio:>6.2f}")
    print(f"median ratio {names[1]} / {names[0]}: {statistics.median(ratios):.2f} "
          f"(range {min(ratios):.2f}-{max(ratios):.2f}, {len(ratios)} architectures); "
          f"ratio of the summed medians: {totals[1] / totals[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
