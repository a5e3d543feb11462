"""Which way of measuring a search's latencies comes closest to the truth: raw, anchored or
batched, on the cpu clock and on the wall clock.

A search measures one architecture, trains it for seconds, measures the next: the host drifts
between its measurements. This benchmark replays that: ``--archs`` fixed architectures of
``mixed`` at the digits resolution, each measured as the search measures it
(``measure_latency`` with the search's settings) with ``--gap`` seconds of matrix products
between two measurements (what training does to the machine), in three protocols:

- **raw**: the figure as measured (what the search records);
- **anchored**: the same figures, each divided by the median time of a fixed panel of three
  anchor architectures timed right after it and multiplied by the panel's median over the
  whole pass (a study-wide scale);
- **batched**: the search asks for ``--batch`` trials before telling them, and their
  architectures are measured together, interleaved in rounds (the same time per architecture
  as raw), the gaps coming between batches.

Truth: all architectures measured interleaved in ``--rounds`` rounds in one window
(``nasbench.measure.latency.interleaved``), the median of the rounds; the *ceiling* is one half of
those rounds against the other. Each protocol is compared with the truth: Spearman, the share
within ±10 % and the median absolute difference. Every clock runs the whole sequence.

    python benchmarks/latency_protocols.py [--archs 30] [--gap 1.5] [--neighbours 1]

Prints its conditions (CPU, torch, threads, what ran beside) and every figure with its count.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _busy() -> None:  # pragma: no cover - a neighbour
    while True:
        pass


def _work(seconds: float) -> None:
    """``seconds`` of matrix products in this thread: what training does between measurements."""
    import torch

    a = torch.randn(256, 256)
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        a = torch.tanh(a @ a.T / 256)


def compare(measured: np.ndarray, truth: np.ndarray) -> str:
    """Spearman, share within ±10 % and median |difference| of ``measured`` against ``truth``."""
    from scipy.stats import spearmanr

    rel = np.abs(measured / truth - 1)
    return (f"Spearman {spearmanr(measured, truth).statistic:.3f}, within ±10 % "
            f"{100 * np.mean(rel <= 0.1):.0f} %, median |diff| {100 * np.median(rel):.1f} %")


def run_clock(archs: list, clock: str, args: argparse.Namespace) -> dict[str, np.ndarray]:
    """Every protocol's figures and the truth's, for ``clock``."""
    from nasbench.nn.build import build_model
    from nasbench.measure.latency import Probe, interleaved, measure_latency
    from nasbench.latency_model.measure import draw_archs
    from search_spaces import DataShape, get_space
    from nasbench.workflows.settings import SearchConfig

    config = SearchConfig()
    shape = (archs[0].in_channels, archs[0].resolution, archs[0].resolution)
    models = [build_model(a, seed=0) for a in archs]

    def measure(i: int) -> float:
        return measure_latency(models[i], shape, threads=1, min_time_s=config.latency_time_s,
                               warmup_s=0.05, precision=config.latency_precision,
                               clock=clock).median_ms

    panel = [Probe(build_model(a, seed=0), shape, clock=clock)
             for a in draw_archs(get_space("mixed"), DataShape(8, 1, 10), 3, seed=99)]
    order = np.random.default_rng(args.seed).permutation(len(archs))
    raw, anchor = np.empty(len(archs)), np.empty(len(archs))
    for i in order:
        _work(args.gap)
        raw[i] = measure(int(i))
        anchor[i] = float(np.median([p.burst(min_time_s=0.03, warmup_s=0.01) for p in panel]))
    anchored = raw * np.median(anchor) / anchor

    batched = np.empty(len(archs))
    probes = {int(i): Probe(models[int(i)], shape, clock=clock) for i in order}
    rounds = max(2, round(config.latency_time_s / 0.05))
    for start in range(0, len(order), args.batch):
        _work(args.gap * args.batch)
        group = {int(i): probes[int(i)] for i in order[start:start + args.batch]}
        for i, medians in interleaved(group, rounds, burst_s=0.05, warmup_s=0.02,
                                      seed=start).items():
            batched[i] = float(np.median(medians))

    medians = interleaved(probes, args.rounds, burst_s=0.05, warmup_s=0.02, seed=args.seed)
    table = np.array([medians[i] for i in range(len(archs))])
    return {"raw": raw, "anchored": anchored, "batched": batched,
            "truth": np.median(table, axis=1), "half_a": np.median(table[:, 0::2], axis=1),
            "half_b": np.median(table[:, 1::2], axis=1),
            "anchor_drift": np.array([anchor.max() / anchor.min() - 1])}


def main() -> int:
    import torch

    from nasbench.measure.conditions import current_conditions, tune_allocator
    from nasbench.latency_model.measure import draw_archs
    from search_spaces import DataShape, get_space

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archs", type=int, default=30)
    parser.add_argument("--gap", type=float, default=1.5,
                        help="seconds of matrix products between two measurements (default 1.5)")
    parser.add_argument("--batch", type=int, default=4, help="trials per batch (default 4)")
    parser.add_argument("--rounds", type=int, default=10, help="rounds of the truth (default 10)")
    parser.add_argument("--neighbours", type=int, default=0,
                        help="busy-loop processes running beside (default 0)")
    parser.add_argument("--clocks", nargs="+", default=["cpu", "wall"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    tune_allocator()
    torch.set_num_threads(1)
    archs = draw_archs(get_space("mixed"), DataShape(8, 1, 10), args.archs, seed=7)
    c = current_conditions("cpu", 1, 1, "float32", "contiguous", "", "cpu")
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}  {c.cpu_model}, {os.cpu_count()} cores, torch "
          f"{torch.__version__}, 1 thread, batch 1, float32; {args.archs} mixed architectures at "
          f"8x8; gap {args.gap} s of matrix products between measurements; batches of "
          f"{args.batch}; truth: {args.rounds} interleaved rounds; busy-loops beside: "
          f"{args.neighbours}; load average {os.getloadavg()[0]:.2f}")
    neighbours = [multiprocessing.Process(target=_busy, daemon=True) for _ in range(args.neighbours)]
    for p in neighbours:
        p.start()
    try:
        for clock in args.clocks:
            start = time.perf_counter()
            got = run_clock(archs, clock, args)
            print(f"clock {clock} ({time.perf_counter() - start:.0f} s; anchor panel moved "
                  f"{100 * got['anchor_drift'][0]:.0f} % over the pass):")
            print(f"  ceiling (half of the truth's rounds vs the other): "
                  f"{compare(got['half_a'], got['half_b'])}")
            for name in ("raw", "anchored", "batched"):
                print(f"  {name:<9} vs truth: {compare(got[name], got['truth'])}")
    finally:
        for p in neighbours:
            p.terminate()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
