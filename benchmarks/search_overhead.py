"""The default search (``python cli.py search --budget 50``) with this round's defaults against
the old behaviour, side by side in one run: wall time per phase, and the quality of the front.

    python benchmarks/search_overhead.py [--budget 50] [--seeds 0 1 2] [--space mixed]

For each seed, both configurations run one after the other (in alternating order, so drift of
the machine falls on both), each into a temporary folder (runs/ is never touched):

- ``old``: ``--pruner none`` and the old latency settings (a fixed 0.5 s of samples per model);
- ``new``: the defaults (``--pruner pareto``, latency sampled until the median's 95 % interval
  is within ±2 %, capped at 0.5 s).

Printed per run: wall time, and the seconds spent training, counting + timing, and elsewhere
(data loading, sampling, storage, results table); then the ratio new/old per seed, and the
hypervolume of each run's final front against one common reference point (accuracy 0, latency
1.1 × the slowest trial of all runs), so the fronts compare on one scale. Note the front's
latencies come from separate processes minutes apart (this host drifts ~8 %), so compare the
hypervolumes by their spread over seeds, not one by one.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _run(config):  # type: ignore[no-untyped-def]
    from nasbench.results import open_run, results_frame
    from nasbench.search import run_search

    start = time.perf_counter()
    run_search(config)
    wall = time.perf_counter() - start
    frame = results_frame(open_run(config.storage_url, config.study_name))
    fresh = frame[(frame["state"] == "COMPLETE") & frame["reused_from"].isna()]
    train = float(fresh["train_time_s"].sum())
    measure = float(fresh["measure_time_s"].sum())
    return {"wall": wall, "train": train, "measure": measure, "other": wall - train - measure,
            "archs": len(fresh), "stopped": int(fresh["stopped_early"].fillna(False).astype(bool).sum()),
            "epochs": int(fresh["val_acc_per_epoch"].map(len).sum()), "frame": frame}


def main() -> int:
    import optuna

    import torch

    from nasbench.env import cpu_model
    from nasbench.results import eligible, hypervolume, pareto_frame
    from nasbench.search import SearchConfig

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=int, default=50)
    parser.add_argument("--space", default="mixed")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    runs: dict[tuple[str, int], dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, seed in enumerate(args.seeds):
            new = SearchConfig(space=args.space, budget=args.budget, seed=seed, runs_dir=tmp,
                               study=f"new-{seed}")
            old = dataclasses.replace(new, pruner="none", latency_precision=None, study=f"old-{seed}")
            order = (("old", old), ("new", new)) if i % 2 == 0 else (("new", new), ("old", old))
            for name, config in order:
                runs[(name, seed)] = _run(config)
                r = runs[(name, seed)]
                print(f"seed {seed} {name}: {r['wall']:.1f} s", file=sys.stderr, flush=True)
    print(f"Default search, space {args.space}, dataset digits, budget {args.budget}, seeds "
          f"{args.seeds}; {cpu_model()}, torch {torch.__version__}, training on "
          f"all cores, latency on 1 thread at batch 1")
    print(f"{'run':<10} {'wall s':>7} {'train s':>8} {'count+time s':>13} {'other s':>8} "
          f"{'archs':>6} {'stopped':>8} {'epochs':>7} {'front':>6}")
    slowest = max(float(eligible(r["frame"])["latency_ms"].max()) for r in runs.values())
    ref = 1.1 * slowest
    hv: dict[tuple[str, int], float] = {}
    for (name, seed), r in runs.items():
        front = pareto_frame(r["frame"])
        hv[(name, seed)] = hypervolume(front["val_acc"].to_numpy(float),
                                       front["latency_ms"].to_numpy(float), ref)
        print(f"{name}-{seed:<6} {r['wall']:>7.1f} {r['train']:>8.1f} {r['measure']:>13.1f} "
              f"{r['other']:>8.1f} {r['archs']:>6} {r['stopped']:>8} {r['epochs']:>7} {len(front):>6}")

    def spread(values: list[float]) -> str:
        return f"median {statistics.median(values):.3f} (min {min(values):.3f}, max {max(values):.3f})"

    for key in ("wall", "train", "measure", "other"):
        ratios = [runs[("new", s)][key] / runs[("old", s)][key] for s in args.seeds]
        print(f"new/old {key:<8} {spread(ratios)}  over {len(ratios)} seeds")
    print(f"hypervolume (ref: accuracy 0, latency {ref:.3f} ms = 1.1 x slowest of all runs):")
    for name in ("old", "new"):
        print(f"  {name}: {spread([hv[(name, s)] for s in args.seeds])}")
    print(f"  new/old per seed: {spread([hv[('new', s)] / hv[('old', s)] for s in args.seeds])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
