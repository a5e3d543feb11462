"""Does the front survive re-measurement? The single-median front against the confirmed one.

    python benchmarks/front_stability.py [RUN] [--rounds 15]

RUN is a finished search (default ``runs/mixed-digits-tpe-seed0``, what
``python cli.py search --budget 50`` writes). Three measurement sessions, each a fresh process:
two on a quiet machine, one while a bounded busy loop loads one core. In each session:

- *single median*: every eligible trial (complete, feasible, trained fully) is rebuilt and timed
  once, one after the other, with the search's own latency settings, as the search did; the
  front is the point-estimate Pareto front of accuracy against those medians (what we had);
- *confirmed*: the interleaved confirmation (``nasbench.workflows.confirm``, not stored), then the front
  within noise on the confirmed figures (the trials no other dominates beyond both 95 %
  intervals) and, for reference, the point front on the confirmed figures.

Printed: each session's fronts, then the Jaccard overlap |A ∩ B| / |A ∪ B| of each kind of
front between every pair of sessions, side by side. Target: at least 0.9 for the confirmed,
noise-aware front. The study is never changed.
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def session(run: str, rounds: int) -> dict:
    """One session's fronts (trial numbers), measured in this process."""
    import numpy as np

    from nasbench.spec.arch import decode
    from nasbench.workflows.confirm import confirm_study, study_config
    from nasbench.nn.build import build_model
    from nasbench.measure.latency import measure_latency
    from nasbench.study.results import annotate, pareto_mask, results_frame
    from nasbench.study.storage import open_run
    from nasbench.study.rules import eligible_mask

    study = open_run(run)
    config = study_config(study)
    frame = results_frame(study)
    ok = frame[eligible_mask(frame)]
    start = time.perf_counter()
    single = []
    for row in ok.itertuples():
        arch = decode(row.arch)
        model = build_model(arch, seed=config.seed + int(row.number))
        result = measure_latency(model, (arch.in_channels, arch.resolution, arch.resolution),
                                 device=config.device, threads=config.latency_threads,
                                 min_time_s=config.latency_time_s, warmup_s=0.1,
                                 precision=config.latency_precision)
        single.append(result.median_ms)
    front_single = ok["number"][pareto_mask(ok["val_acc_search"].to_numpy(float), np.array(single),
                                            np.ones(len(ok), bool))]
    single_s = time.perf_counter() - start
    base = annotate(frame.copy(), study.user_attrs.get("n_val"))  # the search's own figures
    confirmation = confirm_study(study, base, rounds=rounds, store=False)
    confirmed = annotate(frame.copy(), study.user_attrs.get("n_val"), confirmation)
    return {"single": sorted(int(n) for n in front_single),
            "confirmed_point": sorted(int(n) for n in confirmed.loc[confirmed["pareto"], "number"]),
            "confirmed_noise": sorted(int(n) for n in confirmed.loc[confirmed["pareto_noise"], "number"]),
            "candidates": sorted(confirmation.trials), "single_s": single_s,
            "confirm_s": confirmation.seconds, "eligible": len(ok)}


def jaccard(a: list[int], b: list[int]) -> float:
    """|A ∩ B| / |A ∪ B| (1 for two empty sets)."""
    union = set(a) | set(b)
    return len(set(a) & set(b)) / len(union) if union else 1.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", nargs="?", default=str(ROOT / "runs" / "mixed-digits-tpe-seed0"))
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--session", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.session:
        print(json.dumps(session(args.run, args.rounds)))
        return 0
    if not (Path(args.run) / "study.db").is_file() and "://" not in args.run:
        print(f"no finished search at {args.run}; run python cli.py search --budget 50 first",
              file=sys.stderr)
        return 2
    import torch

    from nasbench.measure.conditions import cpu_model

    results = {}
    for name, busy in (("quiet 1", False), ("quiet 2", False), ("one core busy", True)):
        loop = (subprocess.Popen([sys.executable, "-c", "import time\nend = time.time() + 900\n"
                                  "while time.time() < end: pass"]) if busy else None)
        try:
            proc = subprocess.run([sys.executable, __file__, args.run, "--rounds", str(args.rounds),
                                   "--session"], capture_output=True, text=True, timeout=1800)
        finally:
            if loop is not None:
                loop.kill()
                loop.wait()
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return 1
        results[name] = json.loads(proc.stdout.strip().splitlines()[-1])
    first = next(iter(results.values()))
    print(f"Front stability of {args.run}: {first['eligible']} eligible trials, {len(first['candidates'])} "
          f"confirmation candidates, {args.rounds} rounds; {cpu_model()}, torch {torch.__version__}")
    for name, r in results.items():
        print(f"  {name:<14} single-median front {r['single']}  ({r['single_s']:.1f} s)")
        print(f"  {'':<14} confirmed point front {r['confirmed_point']}; within noise "
              f"{r['confirmed_noise']}  ({r['confirm_s']:.1f} s)")
    print(f"{'sessions':<30} {'single median':>14} {'confirmed point':>16} {'confirmed, noise-aware':>23}")
    for a, b in itertools.combinations(results, 2):
        ra, rb = results[a], results[b]
        print(f"{a + ' vs ' + b:<30} {jaccard(ra['single'], rb['single']):>14.2f} "
              f"{jaccard(ra['confirmed_point'], rb['confirmed_point']):>16.2f} "
              f"{jaccard(ra['confirmed_noise'], rb['confirmed_noise']):>23.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
