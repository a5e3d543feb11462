"""How far two measurements of the same architectures agree, by clock and host load.

30 fixed architectures of ``mixed`` at the digits resolution are measured with
``python cli.py profile --from FILE --json`` in two separate processes, one after the other,
on the cpu clock and on the wall clock, each pair once on the host as it is and once with a
busy-loop process running beside it. For each pair: Spearman's rank correlation, the share of
architectures whose two figures agree within ±10 %, and the median absolute difference.

A second part (``--search``) runs the default search (``--no-confirm``) on each clock and
re-measures every complete trial's architecture with ``profile --from runs/<study>``: the
rank correlation of the search's recorded latency with that re-measurement.

    python benchmarks/latency_truth.py                 # the two-process comparison
    python benchmarks/latency_truth.py --search        # and the search against re-measurement
    python benchmarks/latency_truth.py --neighbours 2  # more runnable threads than cores

Prints its conditions (CPU, torch, threads, what ran beside) and every figure with its count.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _archs(count: int, seed: int) -> list[str]:
    from nasbench.latency_model.measure import draw_archs
    from search_spaces import DataShape, get_space

    return [a.to_string() for a in draw_archs(get_space("mixed"), DataShape(8, 1, 10), count, seed)]


def _busy() -> None:  # pragma: no cover - a neighbour
    while True:
        pass


def _profile(path: Path, clock: str, rounds: int) -> dict[str, float]:
    proc = subprocess.run([sys.executable, "cli.py", "profile", "--from", str(path), "--rounds",
                           str(rounds), "--clock", clock, "--json"], cwd=ROOT, capture_output=True,
                          text=True, timeout=3600, check=True)
    return {row["arch"]: row["latency_ms"] for row in json.loads(proc.stdout)}


def agreement(first: dict[str, float], second: dict[str, float]) -> dict[str, float]:
    """Spearman, share within ±10 % and median absolute difference of two measurements."""
    keys = sorted(first)
    a = np.array([first[k] for k in keys])
    b = np.array([second[k] for k in keys])
    rel = np.abs(a / b - 1)
    return {"spearman": float(spearmanr(a, b).statistic), "within_10": float(np.mean(rel <= 0.10)),
            "median_abs_diff": float(np.median(rel)), "n": len(keys)}


def _line(label: str, figures: dict[str, float]) -> str:
    return (f"{label:<28} Spearman {figures['spearman']:.3f}   within ±10 % "
            f"{100 * figures['within_10']:5.1f} %   median |diff| {100 * figures['median_abs_diff']:5.2f} %"
            f"   (n={figures['n']})")


def two_processes(count: int, rounds: int, seed: int, neighbours: tuple[int, ...]) -> None:
    """The same architectures in two processes, per clock, with each number of busy-loop
    processes beside them (0: the host as it is)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "archs.txt"
        path.write_text("\n".join(_archs(count, seed)) + "\n")
        for n in neighbours:
            load = "as it is" if n == 0 else f"{n} busy-loop(s) beside"
            busy = [multiprocessing.Process(target=_busy, daemon=True) for _ in range(n)]
            for process in busy:
                process.start()
            try:
                for clock in ("cpu", "wall"):
                    start = time.perf_counter()
                    first, second = _profile(path, clock, rounds), _profile(path, clock, rounds)
                    print(_line(f"{clock} clock, host {load}", agreement(first, second))
                          + f"   {time.perf_counter() - start:.0f} s, load {os.getloadavg()[0]:.1f}",
                          flush=True)
            finally:
                for process in busy:
                    process.terminate()
                    process.join()


def search_against_truth(budget: int, rounds: int, neighbours: int = 0) -> None:
    """The default search's recorded latency against an interleaved re-measurement of the same
    architectures, with ``neighbours`` busy-loop processes beside the search (not beside the
    re-measurement)."""
    with tempfile.TemporaryDirectory() as tmp:
        for clock in ("cpu", "wall"):
            runs = Path(tmp) / clock
            busy = [multiprocessing.Process(target=_busy, daemon=True) for _ in range(neighbours)]
            for process in busy:
                process.start()
            start = time.perf_counter()
            try:
                subprocess.run([sys.executable, "cli.py", "search", "--budget", str(budget),
                                "--latency-clock", clock, "--no-confirm", "--runs-dir", str(runs),
                                "--json"], cwd=ROOT, capture_output=True, text=True, timeout=7200,
                               check=True)
            finally:
                took = time.perf_counter() - start
                for process in busy:
                    process.terminate()
                    process.join()
            run = next(runs.iterdir())
            frame = __import__("pandas").read_csv(run / "results.csv")
            done = frame[(frame["state"] == "COMPLETE") & frame["reused_from"].isna()
                         & frame["latency_ms"].notna()]
            recorded = dict(zip(done["arch"], done["latency_ms"]))
            truth = _profile(run, clock, rounds)
            print(_line(f"search ({clock}, {neighbours} busy) vs re-measured",
                        agreement({k: recorded[k] for k in truth}, truth))
                  + f"   search {took:.0f} s", flush=True)


def main() -> None:
    import torch

    from nasbench.measure.conditions import cpu_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--search", action="store_true", help="also the search part")
    parser.add_argument("--budget", type=int, default=50)
    parser.add_argument("--neighbours", type=int, nargs="*", default=[0, 1],
                        help="busy-loop processes beside each pair (default: 0, then 1)")
    parser.add_argument("--search-neighbours", type=int, default=0,
                        help="busy-loop processes beside the searches (default 0)")
    args = parser.parse_args()
    print(f"{cpu_model()}, {os.cpu_count()} cores, torch {torch.__version__}; 1 thread, batch 1, "
          f"float32, contiguous; {args.archs} mixed architectures at 8x8x1, {args.rounds} rounds "
          f"per process; load before: {os.getloadavg()[0]:.1f}", flush=True)
    if args.neighbours:
        two_processes(args.archs, args.rounds, args.seed, tuple(args.neighbours))
    if args.search:
        search_against_truth(args.budget, args.rounds, args.search_neighbours)


if __name__ == "__main__":
    main()
