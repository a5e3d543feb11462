"""The default search (``python cli.py search --budget 50``) with today's defaults against the
old behaviour, side by side in one run: wall time per phase, and the quality of the front.

    python benchmarks/search_overhead.py [--budget 50] [--seeds 0 1 2] [--space mixed]
                                         [--also-epochs 3] [--also-latency-cap 0.3]

For each seed the configurations run one after the other (in a rotating order, so drift of the
machine falls on all), each into a temporary folder (runs/ is never touched), in this process
(the interpreter's start and imports, about 2.5 s, are the same for all and not counted):

- ``old``: the behaviour before issue 11: ``--pruner none``, 6 epochs with the BatchNorm running
  averages as trained (``--bn-calibration 0``), latency sampled for a fixed 0.5 s per model;
- ``new``: the defaults (early stop ``pareto``, 4 epochs with BatchNorm calibration,
  channels-last training, latency sampled until the median's 95 % interval is within ±2 %,
  capped at ``SearchConfig.latency_time_s``), then the confirmation the command runs at its end (counted in its wall);
- ``new-eN`` (with ``--also-epochs N``): the defaults with ``--epochs N``;
- ``new-capC`` (with ``--also-latency-cap C``): the defaults with a latency cap of C seconds.

Printed per run: wall time and the seconds spent training, counting + timing, confirming and
elsewhere (data, sampling, storage, results table); then ratios to ``old`` per seed. Front
quality: every run's front architectures are timed again *together*, interleaved in one
session at the end (15 rounds), so that all fronts share one latency scale; each run's
hypervolume is computed from its own accuracies and these latencies, against one reference
point (accuracy 0, latency 1.1 x the slowest of them).
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


def _run(config, confirm: bool):  # type: ignore[no-untyped-def]
    from nasbench.confirm import confirm_study
    from nasbench.results import open_run, results_frame
    from nasbench.search import open_study, run_search

    start = time.perf_counter()
    run_search(config)
    confirm_s = 0.0
    if confirm:
        began = time.perf_counter()
        study = open_study(config)
        confirm_study(study, results_frame(open_run(config.storage_url, config.study_name)))
        confirm_s = time.perf_counter() - began
    wall = time.perf_counter() - start
    frame = results_frame(open_run(config.storage_url, config.study_name))
    fresh = frame[(frame["state"] == "COMPLETE") & frame["reused_from"].isna()]
    train = float(fresh["train_time_s"].sum())
    measure = float(fresh["measure_time_s"].sum())
    return {"wall": wall, "train": train, "measure": measure, "confirm": confirm_s,
            "other": wall - train - measure - confirm_s, "archs": len(fresh),
            "full": int((~fresh["stopped_early"].fillna(False).astype(bool)).sum()),
            "epochs": int(fresh["val_acc_per_epoch"].map(len).sum()), "frame": frame}


def _retime(runs: dict, rounds: int) -> dict[str, float]:  # type: ignore[type-arg]
    """Every front architecture of every run, timed interleaved in this one session."""
    from nasbench.arch import decode
    from nasbench.build import build_model
    from nasbench.confirm import interleaved
    from nasbench.results import pareto_frame
    from nasbench.search import SearchConfig

    archs = sorted({a for r in runs.values() for a in pareto_frame(r["frame"])["arch"]})
    models = {i: build_model(decode(a), seed=0) for i, a in enumerate(archs)}
    first = decode(archs[0])
    medians = interleaved(models, (first.in_channels, first.resolution, first.resolution),
                          SearchConfig(), rounds)
    return {archs[i]: statistics.median(values) for i, values in medians.items()}


def main() -> int:
    import numpy as np
    import optuna
    import torch

    from nasbench.env import cpu_model
    from nasbench.results import hypervolume, pareto_frame, pareto_mask
    from nasbench.search import SearchConfig

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=int, default=50)
    parser.add_argument("--space", default="mixed")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--also-epochs", type=int, nargs="*", default=[],
                        help="also run the defaults with these --epochs")
    parser.add_argument("--also-latency-cap", type=float, nargs="*", default=[],
                        help="also run the defaults with these latency caps (seconds)")
    parser.add_argument("--rounds", type=int, default=15, help="rounds of the common re-timing")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    runs: dict[tuple[str, int], dict] = {}  # type: ignore[type-arg]
    with tempfile.TemporaryDirectory() as tmp:
        for i, seed in enumerate(args.seeds):
            new = SearchConfig(space=args.space, budget=args.budget, seed=seed, runs_dir=tmp,
                               study=f"new-{seed}")
            variants = [("old", dataclasses.replace(new, pruner="none", bn_calibration=0, epochs=6,
                                                    latency_precision=None, latency_time_s=0.5,
                                                    study=f"old-{seed}"), False),
                        ("new", new, True)]
            variants += [(f"new-e{e}", dataclasses.replace(new, epochs=e, study=f"new-e{e}-{seed}"),
                          True) for e in args.also_epochs]
            variants += [(f"new-cap{c:g}", dataclasses.replace(new, latency_time_s=c,
                                                              study=f"new-cap{c:g}-{seed}"), True)
                         for c in args.also_latency_cap]
            order = variants[i % len(variants):] + variants[:i % len(variants)]
            for name, config, confirm in order:
                runs[(name, seed)] = _run(config, confirm)
                print(f"seed {seed} {name}: {runs[(name, seed)]['wall']:.1f} s", file=sys.stderr,
                      flush=True)
    names = (["old", "new"] + [f"new-e{e}" for e in args.also_epochs]
             + [f"new-cap{c:g}" for c in args.also_latency_cap])
    latency = _retime(runs, args.rounds)
    ref = 1.1 * max(latency.values())
    hv: dict[tuple[str, int], float] = {}
    print(f"Default search, space {args.space}, dataset digits, budget {args.budget}, seeds "
          f"{args.seeds}; {cpu_model()}, torch {torch.__version__}, training on all "
          f"{torch.get_num_threads()} threads, latency on 1 thread at batch 1, float32")
    print(f"{'run':<10} {'wall s':>7} {'train s':>8} {'count+time s':>13} {'confirm s':>10} "
          f"{'other s':>8} {'archs':>6} {'trained fully':>14} {'epochs':>7} {'front':>6} "
          f"{'HV':>7} {'best acc':>9}")
    for (name, seed), r in sorted(runs.items(), key=lambda kv: (names.index(kv[0][0]), kv[0][1])):
        front = pareto_frame(r["frame"])
        acc = front["val_acc"].to_numpy(float)
        lat = np.array([latency[a] for a in front["arch"]])
        keep = pareto_mask(acc, lat, np.ones(len(acc), bool))
        hv[(name, seed)] = hypervolume(acc[keep], lat[keep], ref)
        print(f"{name + '-' + str(seed):<10} {r['wall']:>7.1f} {r['train']:>8.1f} "
              f"{r['measure']:>13.1f} {r['confirm']:>10.1f} {r['other']:>8.1f} {r['archs']:>6} "
              f"{r['full']:>14} {r['epochs']:>7} {int(keep.sum()):>6} {hv[(name, seed)]:>7.3f} "
              f"{acc.max():>9.4f}")

    def spread(values: list[float]) -> str:
        return f"median {statistics.median(values):.3f} (min {min(values):.3f}, max {max(values):.3f})"

    for name in names[1:]:
        for key in ("wall", "train", "measure", "epochs"):
            ratios = [runs[(name, s)][key] / runs[("old", s)][key] for s in args.seeds]
            print(f"{name}/old {key:<8} {spread(ratios)}  over {len(ratios)} seeds")
    print(f"hypervolume (accuracy x ms; ref: accuracy 0, latency {ref:.3f} ms = 1.1 x the slowest "
          f"front model, all fronts re-timed together, {args.rounds} interleaved rounds):")
    for name in names:
        print(f"  {name}: {spread([hv[(name, s)] for s in args.seeds])}")
    for name in names[1:]:
        print(f"  {name}/old per seed: {spread([hv[(name, s)] / hv[('old', s)] for s in args.seeds])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
