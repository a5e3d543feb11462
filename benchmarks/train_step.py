"""Training-step time by memory format, side by side in one run.

    python benchmarks/train_step.py [--archs 8] [--rounds 5] [--space mixed]

Draws architectures from the space (seeded), and for each times training steps (forward,
backward, AdamW step) of a batch of 128 digits images on all CPU threads, in PyTorch's default
(contiguous) layout and in channels-last, interleaved round by round so that the host's drift
hits both alike. Prints per architecture the median ms per step of each with its interquartile
range, and the ratio; then the median ratio. ``nasbench.train`` trains in channels-last on a
CPU because of this comparison.
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


def _step_ms(model, optimizer, x, y, steps: int) -> list[float]:
    import torch
    from torch import nn

    times = []
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

    from nasbench.build import build_model
    from nasbench.data import load_dataset
    from nasbench.env import current_conditions
    from nasbench.search import UniformDraw
    from search_spaces import DataShape, get_space

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
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
    layouts = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last}
    x, y = data.x_train[:128], data.y_train[:128]
    print(f"conditions: {current_conditions('cpu', threads, 128, 'float32', 'contiguous', 'default')}")
    print(f"{args.archs} architectures of {args.space}, batch 128 of digits, {threads} threads, "
          f"{args.rounds} rounds x {args.steps} steps, interleaved")
    print(f"{'arch':>4} {'contiguous ms (IQR)':>22} {'channels_last ms (IQR)':>24} {'ratio':>6}")
    ratios = []
    for i, arch in enumerate(archs):
        runs = {}
        for name, layout in layouts.items():
            model = build_model(arch, seed=0).train().to(memory_format=layout)
            optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
            inputs = x.contiguous(memory_format=layout)
            _step_ms(model, optimizer, inputs, y, 2)  # warm up
            runs[name] = (model, optimizer, inputs, [])
        for _ in range(args.rounds):
            for name in layouts:
                model, optimizer, inputs, times = runs[name]
                times.extend(_step_ms(model, optimizer, inputs, y, args.steps))
        cells = []
        for name in layouts:
            q = statistics.quantiles(runs[name][3], n=4)
            cells.append((statistics.median(runs[name][3]), q[0], q[2]))
        ratio = cells[1][0] / cells[0][0]
        ratios.append(ratio)
        print(f"{i:>4} {cells[0][0]:>9.1f} ({cells[0][1]:.1f}-{cells[0][2]:.1f}) "
              f"{cells[1][0]:>11.1f} ({cells[1][1]:.1f}-{cells[1][2]:.1f}) {ratio:>6.2f}")
    print(f"median ratio channels_last / contiguous: {statistics.median(ratios):.2f} "
          f"(range {min(ratios):.2f}-{max(ratios):.2f}, {len(ratios)} architectures)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
