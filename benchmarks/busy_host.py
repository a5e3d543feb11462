"""The default search on a busy machine: alone, beside two busy loops, beside a second search,
and with ``--workers 2``, in one run.

    python benchmarks/busy_host.py [--budget 50] [--repeats 2] [--fixed-threads N]
                                   [--out benchmarks/results/busy_host.json] [-- search options]

Each repeat runs every condition once, in a rotated order (drift of the host falls on all),
each ``python cli.py search --budget B --seed R`` a whole process into a temporary folder:

- ``alone``: the search by itself;
- ``busy2``: beside two busy loops (``while True: pass``: with the search's own thread, more
  runnable threads than this machine's cores when it has two);
- ``pair``: two searches started together in different folders (each is reported);
- ``workers2``: one search with ``--workers 2``.

``--fixed-threads N`` adds ``alone`` and ``busy2`` with ``--threads N`` (fixed training
threads: what every search did before the governor when N is the core count). Prints each
run's wall time, each condition's median and range, and its ratio to ``alone``'s median;
writes the figures with their conditions to ``--out`` (JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUSY = "while True: pass"


def search(budget: int, seed: int, runs_dir: str, extra: list[str]) -> subprocess.Popen[bytes]:
    """Start one search process (output discarded)."""
    return subprocess.Popen([sys.executable, "cli.py", "search", "--budget", str(budget), "--seed",
                             str(seed), "--runs-dir", runs_dir, *extra], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def timed(procs: list[subprocess.Popen[bytes]], start: float) -> list[float]:
    """Wall seconds from ``start`` until each process ends (raises if one failed)."""
    ends: list[float | None] = [None] * len(procs)
    while any(e is None for e in ends):
        for i, p in enumerate(procs):
            if ends[i] is None and p.poll() is not None:
                if p.returncode != 0:
                    raise RuntimeError(f"a search exited with {p.returncode}")
                ends[i] = time.perf_counter() - start
        time.sleep(0.05)
    return [float(e) for e in ends if e is not None]


def run_condition(name: str, budget: int, seed: int, extra: list[str]) -> list[float]:
    """The wall times of one condition's search(es)."""
    loops: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        try:
            if name.startswith("busy2"):
                loops = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(2)]
                time.sleep(0.5)
            start = time.perf_counter()
            procs = [search(budget, seed, a, extra)]
            if name == "pair":
                procs.append(search(budget, seed, b, extra))
            elif name == "workers2":
                procs = [search(budget, seed, a, [*extra, "--workers", "2"])]
            return timed(procs, start)
        finally:
            for loop in loops:
                loop.kill()
                loop.wait()


def host() -> dict[str, object]:
    """The machine the figures were taken on."""
    model = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            model = next((l.split(":", 1)[1].strip() for l in handle if l.startswith("model name")),
                         model)
    except OSError:
        pass
    import torch

    return {"cpu_model": model, "cores": os.cpu_count(), "load_1m_at_start": os.getloadavg()[0],
            "python": platform.python_version(), "torch": torch.__version__}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--fixed-threads", type=int,
                        help="also alone and busy2 with --threads N (fixed threads)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "busy_host.json")
    parser.add_argument("extra", nargs="*", help="more search options, after --")
    args = parser.parse_args()
    conditions = ["alone", "busy2", "pair", "workers2"]
    if args.fixed_threads:
        conditions += ["alone-fixed", "busy2-fixed"]
    machine = host()
    command = " ".join(["python", "benchmarks/busy_host.py", *sys.argv[1:]])
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}  {machine['cpu_model']}, {machine['cores']} cores, "
          f"load {machine['load_1m_at_start']:.2f}, torch {machine['torch']}; search --budget "
          f"{args.budget} {' '.join(args.extra)}; {args.repeats} repeat(s), nothing else of ours "
          f"running", flush=True)
    times: dict[str, list[float]] = {c: [] for c in conditions}
    for r in range(args.repeats):
        order = conditions[r % len(conditions):] + conditions[:r % len(conditions)]
        for name in order:
            extra = list(args.extra)
            if name.endswith("-fixed"):
                extra += ["--threads", str(args.fixed_threads)]
            walls = run_condition(name.removesuffix("-fixed"), args.budget, r, extra)
            times[name] += walls
            print(f"repeat {r} {name:<12} " + ", ".join(f"{w:6.1f} s" for w in walls), flush=True)
    base = statistics.median(times["alone"])
    summary = {}
    for name, values in times.items():
        median = statistics.median(values)
        summary[name] = {"median_s": median, "min_s": min(values), "max_s": max(values),
                         "runs": len(values), "ratio_to_alone": median / base,
                         "ratio_range": [min(values) / base, max(values) / base], "walls_s": values}
        print(f"{name:<12} median {median:6.1f} s (range {min(values):.1f}-{max(values):.1f}, "
              f"{len(values)} runs)  x{median / base:.2f} of alone")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "benchmark": "busy_host", "date": time.strftime("%Y-%m-%d"), "command": command,
        "host": machine, "budget": args.budget, "repeats": args.repeats, "search_options": args.extra,
        "conditions": {"alone": "the search by itself", "busy2": "beside two busy loops",
                       "pair": "two searches started together (each reported)",
                       "workers2": "one search with --workers 2",
                       "alone-fixed": f"alone with --threads {args.fixed_threads}",
                       "busy2-fixed": f"beside two busy loops with --threads {args.fixed_threads}"},
        "results": summary}, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
