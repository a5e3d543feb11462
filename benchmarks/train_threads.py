"""What the search's small networks gain from a second training thread, quiet and beside busy
loops, with OpenMP's default and passive wait policies: the measurement behind
``nasbench.train.threads``.

    python benchmarks/train_threads.py [--archs 6] [--rounds 3] [--busy 0 2]
                                       [--out benchmarks/results/train_threads.json]

For each number of busy loops beside (``--busy``), ``--rounds`` rounds each train the same
``--archs`` architectures drawn from ``mixed`` (2 epochs of the embedded digits, as a search
trial does, with BatchNorm calibration) in a fresh process per setting: threads 1 or 2,
``OMP_WAIT_POLICY`` unset (the default) or passive (read by OpenMP when the process starts),
in a rotated order. Prints each process's training seconds (the sum over the architectures),
each setting's median and range, and its ratio to one thread with the default policy.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = (("1", "default"), ("2", "default"), ("2", "passive"), ("1", "passive"))
"""Threads and OpenMP wait policy: ``default`` leaves ``OMP_WAIT_POLICY`` unset (GNU OpenMP
then spins a little before it sleeps; an explicit ``active`` spins for good)."""


def child(threads: int, archs: int) -> None:
    """Train ``archs`` architectures with a fixed thread count; print the seconds as JSON."""
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from nasbench.nn.build import build_model
    from nasbench.train.data import load_dataset
    from nasbench.train.proxy import train_model
    from nasbench.train.recipe import default_train_config
    from search_spaces import DataShape, UniformDraw, get_space

    data = load_dataset("digits", cache_dir=None)
    config = default_train_config("digits", 2, None, 256)
    space = get_space("mixed")
    shape = DataShape(data.resolution, data.channels, len(data.classes))
    rng = np.random.default_rng(1)
    seconds = []
    for _ in range(archs):
        model = build_model(space.sample(UniformDraw(rng), shape), seed=0)
        start = time.perf_counter()
        train_model(model, data, config, threads=threads)
        seconds.append(time.perf_counter() - start)
    print(json.dumps(seconds))


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(int(sys.argv[2]), int(sys.argv[3]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archs", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--busy", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--out", type=Path,
                        default=ROOT / "benchmarks" / "results" / "train_threads.json")
    args = parser.parse_args()
    import torch

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}  {cpu}, {os.cpu_count()} cores, load "
          f"{os.getloadavg()[0]:.2f}, torch {torch.__version__}; {args.archs} mixed architectures, "
          f"2 epochs of digits each; {args.rounds} rounds", flush=True)
    results: dict[str, dict[str, object]] = {}
    for busy in args.busy:
        loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
        times: dict[tuple[str, str], list[float]] = {s: [] for s in SETTINGS}
        try:
            for r in range(args.rounds):
                for setting in SETTINGS[r % 4:] + SETTINGS[:r % 4]:
                    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
                    if setting[1] != "default":
                        env["OMP_WAIT_POLICY"] = setting[1].upper()
                    out = subprocess.run([sys.executable, __file__, "--child", setting[0],
                                          str(args.archs)], env=env, capture_output=True,
                                         text=True, check=True, timeout=3600)
                    times[setting].append(sum(json.loads(out.stdout.strip().splitlines()[-1])))
                    print(f"busy {busy} threads {setting[0]} {setting[1]:<7} "
                          f"{times[setting][-1]:7.2f} s", flush=True)
        finally:
            for loop in loops:
                loop.kill()
                loop.wait()
        base = statistics.median(times[("1", "default")])
        for (threads, policy), values in times.items():
            median = statistics.median(values)
            results[f"busy{busy}-threads{threads}-{policy}"] = {
                "busy_loops": busy, "threads": int(threads), "wait_policy": policy,
                "median_s": median, "min_s": min(values), "max_s": max(values), "runs": len(values),
                "ratio_to_one_thread": median / base}
            print(f"busy {busy}: threads {threads} {policy:<7} median {median:7.2f} s (range "
                  f"{min(values):.2f}-{max(values):.2f}, {len(values)} runs)  x{median / base:.2f} "
                  f"of one thread", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "benchmark": "train_threads", "date": time.strftime("%Y-%m-%d"),
        "command": " ".join(["python", "benchmarks/train_threads.py", *sys.argv[1:]]),
        "host": {"cpu_model": cpu, "cores": os.cpu_count(), "torch": torch.__version__,
                 "python": platform.python_version()},
        "results": results}, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
