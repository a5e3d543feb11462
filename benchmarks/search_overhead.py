"""Wall time of the default search (``python cli.py search --budget 50``) and the share of it
spent outside training and measurement (harness overhead: sampling, storage, bookkeeping).

    python benchmarks/search_overhead.py [--budget 50] [--space mixed] [--sampler tpe]

Runs into a temporary folder, so it never touches runs/. Aim: a few minutes on a 2-core machine,
overhead under 10%.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    import optuna

    from nasbench.results import pareto_frame, results_frame
    from nasbench.search import SearchConfig, open_study, run_search

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=int, default=50)
    parser.add_argument("--space", default="mixed")
    parser.add_argument("--sampler", default="tpe")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        config = SearchConfig(space=args.space, sampler=args.sampler, budget=args.budget,
                              seed=args.seed, runs_dir=tmp)
        start = time.perf_counter()
        outcome = run_search(config)
        wall = time.perf_counter() - start
        frame = results_frame(open_study(config))
    done = frame[frame["state"] == "COMPLETE"]
    fresh = done[done["reused_from"].isna()]
    train = float(fresh["train_time_s"].sum())
    measure = float(fresh["measure_time_s"].sum())
    overhead = wall - train - measure
    print(f"Search: space {args.space}, sampler {args.sampler}, seed {args.seed}, budget "
          f"{args.budget}, dataset digits, default proxy training; {outcome.complete} complete, "
          f"{outcome.failed} failed, {len(done) - len(fresh)} reused duplicates")
    print(f"wall time              {wall:8.1f} s  ({wall / 60:.1f} min)")
    print(f"training               {train:8.1f} s  ({100 * train / wall:.1f}%)")
    print(f"params/MACs/latency    {measure:8.1f} s  ({100 * measure / wall:.1f}%)")
    print(f"harness overhead       {overhead:8.1f} s  ({100 * overhead / wall:.1f}%)  "
          f"[data loading, sampling, storage, results table]")
    print(f"per trial              {wall / max(1, len(done)):8.2f} s")
    for column, unit in (("val_acc", ""), ("latency_ms", " ms"), ("params", ""), ("macs", "")):
        values = done[column].astype(float)
        print(f"{column:<22} min {values.min():.4g}{unit}, median {statistics.median(values):.4g}{unit}, "
              f"max {values.max():.4g}{unit}")
    front = pareto_frame(frame)
    print(f"Pareto front: {len(front)} trials")
    for row in front.itertuples():
        print(f"  #{row.number:<3} acc {row.val_acc:.4f}  latency {row.latency_ms:.3f} ms  "
              f"params {int(row.params):,}  MACs {int(row.macs):,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
