"""The latency model of this machine: how long it takes to fit, how well it predicts beside the
measurement's own repeatability, and what it saves a constrained search.

    python benchmarks/latency_model.py [--space mixed] [--archs 200] [--budget 30] [--seeds 0 1]

1. ``latency-model fit`` of the space on digits (every part timed alone, 80 whole architectures
   for the correction): its wall time and held-out error.
2. ``latency-model eval``: ``--archs`` fresh architectures (another seed), predicted, then
   measured interleaved in ``--rounds`` rounds: the share within ±5 % and ±10 %, the median
   error and Spearman's rank correlation against the even rounds, beside the odd rounds
   against the even (the ceiling no predictor can beat) and the prediction against all
   rounds; the prediction as a search makes it (scaled by the reference architecture's time
   in the same rounds, and by the level of the architectures before it), without the level,
   and at the fit's speed. Goals: within ±10 % no more than 5 points below the ceiling,
   Spearman 0.9 against all rounds.
3. A constrained search (``--max-latency-ms`` at the 30th percentile of the measured latencies
   of step 2) with and without ``--latency-model``, same seeds, one after the other in
   alternating order: wall time, feasible architectures found, and candidates skipped.
Runs go to a temporary folder; runs/ is not touched.
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
    import numpy as np
    import optuna

    from nasbench import latency_model as lm
    from nasbench.measure.conditions import tune_allocator
    from nasbench.study.rules import eligible_mask
    from nasbench.workflows.search import run_search
    from nasbench.workflows.settings import SearchConfig
    from search_spaces import DataShape

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--space", default="mixed")
    parser.add_argument("--archs", type=int, default=200)
    parser.add_argument("--fit-archs", type=int, default=80)
    parser.add_argument("--rounds", type=int, default=8, help="the eval's interleaved rounds")
    parser.add_argument("--budget", type=int, default=30)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--model", type=Path, default=None,
                        help="a model already fitted (latency-model fit): skip step 1")
    args = parser.parse_args()
    tune_allocator()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    shape = DataShape(8, 1, 10)
    settings = lm.MeasureSettings()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        if args.model is None:
            model = lm.fit_model(args.space, shape, settings, archs=args.fit_archs)
            path = model.save(Path(tmp) / "model.json")
        else:
            model, path = lm.load_model(args.model), args.model
            args.space = model.space
        fit_s = time.perf_counter() - start if args.model is None else model.fit["seconds"]
        f = model.fit
        print(f"fit{' (given)' if args.model else ''}: space {args.space}, digits 8x8: {f['parts']} "
              f"parts timed in {f['parts_s']:.0f} s, {f['archs']} architectures; {fit_s:.0f} s in "
              f"all ({fit_s / 60:.1f} min); correction {f.get('correction', 'linear')}")
        print(f"  held-out error (5 folds): median {100 * f['cv_abs_rel_error_median']:.1f} %, p95 "
              f"{100 * f['cv_abs_rel_error_p95']:.1f} %, within ±10 % {100 * f['cv_within_10pct']:.0f} %; "
              f"plain sum of parts: median error {100 * f['sum_only_abs_rel_error_median']:.0f} %")
        print(f"  the same fit on the unscaled times: median {100 * f['unscaled_cv_abs_rel_error_median']:.1f} %, "
              f"within ±10 % {100 * f['unscaled_cv_within_10pct']:.0f} %; host speed moved "
              f"{100 * f['host_drift']:.0f} % during the fit (reference: slowest over fastest timing)")
        print(f"  conditions: {model.conditions}")
        result = lm.evaluate_model(model, settings, archs=args.archs, rounds=args.rounds)
        print(f"eval: {result.archs} architectures (seed {result.seed}), measured interleaved in "
              f"{result.rounds} rounds, {result.seconds:.0f} s")
        print(f"  prediction vs measured (even rounds): within ±5 % {100 * result.within_5:.1f} %, within ±10 % "
              f"{100 * result.within_10:.1f} %, median |error| {100 * result.median_abs_error:.1f} %, "
              f"Spearman {result.spearman:.3f}")
        print(f"  the same prediction without the level of the architectures measured before it: "
              f"within ±10 % {100 * result.unleveled_within_10:.1f} %, median |error| "
              f"{100 * result.unleveled_median_abs_error:.1f} %, Spearman {result.unleveled_spearman:.3f}")
        print(f"  the same prediction at the fit's host speed (no reference scaling, no level): within ±10 % "
              f"{100 * result.fixed_within_10:.1f} %, median |error| "
              f"{100 * result.fixed_median_abs_error:.1f} %, Spearman {result.fixed_spearman:.3f}")
        print(f"  host speed moved {100 * result.host_drift:.0f} % during the eval")
        print(f"  odd rounds vs even (ceiling): within ±10 % {100 * result.repeat_within_10:.1f} %, "
              f"median |difference| {100 * result.repeat_median_abs_diff:.1f} %, Spearman "
              f"{result.repeat_spearman:.3f}")
        print(f"  prediction vs all rounds: within ±10 % {100 * result.truth_within_10:.1f} %, "
              f"median |error| {100 * result.truth_median_abs_error:.1f} %, "
              f"Spearman {result.truth_spearman:.3f}")
        measured = [r["measured_ms"] for r in result.rows]
        limit = float(np.quantile(measured, 0.3))
        print(f"constrained search: --max-latency-ms {limit:.3f} (30th percentile of the {len(measured)} "
              f"measured), budget {args.budget}, TPE, seeds {args.seeds}")
        rows = {}
        for i, seed in enumerate(args.seeds):
            plain = SearchConfig(space=args.space, budget=args.budget, seed=seed, runs_dir=tmp,
                                 max_latency_ms=limit, study=f"plain-{seed}")
            guided = SearchConfig(space=args.space, budget=args.budget, seed=seed, runs_dir=tmp,
                                  max_latency_ms=limit, latency_model=str(path), study=f"model-{seed}")
            order = [("without", plain), ("with", guided)]
            for name, config in (order if i % 2 == 0 else order[::-1]):
                began = time.perf_counter()
                outcome = run_search(config)
                wall = time.perf_counter() - began
                frame = outcome.table
                feasible = int(eligible_mask(frame).sum())
                skipped = int((frame.get("predicted_only") == True).sum())  # noqa: E712
                rows[(name, seed)] = (wall, feasible, skipped)
                error = _prediction_error(frame) if name == "with" else ""
                print(f"  seed {seed} {name:<7} model: {wall:6.1f} s, {feasible:>3} feasible "
                      f"architectures trained fully, {skipped:>3} skipped by prediction{error}",
                      flush=True)
        for name in ("without", "with"):
            walls = [rows[(name, s)][0] for s in args.seeds]
            feas = [rows[(name, s)][1] for s in args.seeds]
            print(f"  {name} model: wall median {statistics.median(walls):.1f} s "
                  f"(min {min(walls):.1f}, max {max(walls):.1f}); feasible median "
                  f"{statistics.median(feas)} (min {min(feas)}, max {max(feas)})")
    return 0


def _prediction_error(frame) -> str:  # noqa: ANN001
    """How close the search's predictions came to what it then measured (trained trials)."""
    rows = frame[frame["reused_from"].isna() & frame["latency_predicted_ms"].notna()
                 & frame["latency_ms"].notna()]
    if rows.empty:
        return ""
    error = (rows["latency_predicted_ms"] / rows["latency_ms"] - 1).abs()
    return (f"; predicted within ±10 % of measured for {int((error <= 0.1).sum())} of {len(rows)}, "
            f"median |error| {100 * float(error.median()):.1f} %")


if __name__ == "__main__":
    sys.exit(main())
