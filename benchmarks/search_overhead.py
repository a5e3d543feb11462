"""The default search (``python cli.py search --budget 50``) with today's defaults against the
old behaviour, side by side in one run: wall time per phase, and the quality of the front.

    python benchmarks/search_overhead.py [--budget 50] [--seeds 0 1 2] [--space mixed]
                                         [--also-epochs 4] [--also-latency-cap 0.3]
                                         [--truth-seeds 2] [--skip-old]

For each seed the configurations run one after the other (in a rotating order, so drift of the
machine falls on all), each into a temporary folder (runs/ is never touched), in this process
(the interpreter's start and imports, about 2.5 s, are the same for all and not counted):

- ``old``: the behaviour before issue 11: ``--pruner none``, 6 epochs with the BatchNorm running
  averages as trained (``--bn-calibration 0``), latency sampled for a fixed 0.5 s per model;
- ``new``: the defaults (early stop ``pareto``, 2 epochs with BatchNorm calibration,
  channels-last training, latency sampled until the median's 95 % interval is within ±2 %,
  capped at ``SearchConfig.latency_time_s``), then the confirmation the command runs at its end (counted in its wall);
- ``new-eN`` (with ``--also-epochs N``): the defaults with ``--epochs N``;
- ``new-capC`` (with ``--also-latency-cap C``): the defaults with a latency cap of C seconds.

Printed per run: wall time and the seconds spent training, counting + timing, confirming and
elsewhere (data, sampling, storage, results table); then ratios to ``old`` per seed. Front
quality: every run's front architectures are timed again *together*, interleaved in one
session at the end (15 rounds), so that all fronts share one latency scale; each run's
hypervolume is computed from its own accuracies and these latencies, against one reference
point (accuracy 0, latency 1.1 x the slowest of them). Runs that train different epochs report
accuracies that are not comparable (a shorter training shows less), so every front
architecture is also trained again, the same way for all, on ``--truth-seeds`` seeds no search
used for :data:`TRUTH_EPOCHS` epochs, and each front's hypervolume is computed again at these
accuracies ("HV truth": what the architectures a search chose are worth). ``--skip-old``
leaves the old behaviour out (ratios are then to ``new``).
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
    from nasbench.workflows.confirm import confirm_study
    from nasbench.study.results import results_frame
    from nasbench.study.storage import open_run
    from nasbench.workflows.search import run_search
    from nasbench.workflows.search_study import open_study

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
    from nasbench.spec.arch import decode
    from nasbench.nn.build import build_model
    from nasbench.workflows.confirm import remeasure
    from nasbench.study.results import pareto_frame
    from nasbench.workflows.settings import SearchConfig

    archs = sorted({a for r in runs.values() for a in pareto_frame(r["frame"])["arch"]})
    models = {i: build_model(decode(a), seed=0) for i, a in enumerate(archs)}
    first = decode(archs[0])
    medians = remeasure(models, (first.in_channels, first.resolution, first.resolution),
                          SearchConfig(), rounds)
    return {archs[i]: statistics.median(values) for i, values in medians.items()}


TRUTH_EPOCHS = 6
"""Epochs of the common truth: every front architecture of every run trained again, longer than
any proxy compared, on seeds no search used, so that fronts found with different proxies are
scored by one measure (their own proxy accuracies are not comparable)."""
TRUTH_SEED = 1_000_000


def _truth(runs: dict, seeds: int) -> dict[str, float]:  # type: ignore[type-arg]
    """Every front architecture of every run: mean validation accuracy over ``seeds`` training
    runs of :data:`TRUTH_EPOCHS` epochs (digits, BatchNorm calibration, seeds apart from any
    search's)."""
    from nasbench.spec.arch import decode
    from nasbench.nn.build import build_model
    from nasbench.train.data import load_dataset
    from nasbench.study.results import pareto_frame
    from nasbench.train.proxy import train_model
    from nasbench.train.recipe import DEFAULT_BN_CALIBRATION, default_train_config

    data = load_dataset("digits", cache_dir=None)
    config = default_train_config("digits", TRUTH_EPOCHS, bn_calibration=DEFAULT_BN_CALIBRATION)
    archs = sorted({a for r in runs.values() for a in pareto_frame(r["frame"])["arch"]})
    out = {}
    for arch in archs:
        accs = [train_model(build_model(decode(arch), seed=TRUTH_SEED + k), data, config,
                            seed=TRUTH_SEED + k).val_accuracy for k in range(seeds)]
        out[arch] = float(statistics.mean(accs))
    return out


def main() -> int:
    import numpy as np
    import optuna
    import torch

    from nasbench.measure.conditions import cpu_model
    from nasbench.study.results import hypervolume, pareto_frame, pareto_mask
    from nasbench.workflows.settings import SearchConfig

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=int, default=50)
    parser.add_argument("--space", default="mixed")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--also-epochs", type=int, nargs="*", default=[],
                        help="also run the defaults with these --epochs")
    parser.add_argument("--also-latency-cap", type=float, nargs="*", default=[],
                        help="also run the defaults with these latency caps (seconds)")
    parser.add_argument("--rounds", type=int, default=15, help="rounds of the common re-timing")
    parser.add_argument("--truth-seeds", type=int, default=2,
                        help=f"seeds of the common truth ({TRUTH_EPOCHS} epochs), 0 for none")
    parser.add_argument("--skip-old", action="store_true",
                        help="leave out the old behaviour (ratios are then to new)")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    runs: dict[tuple[str, int], dict] = {}  # type: ignore[type-arg]
    with tempfile.TemporaryDirectory() as tmp:
        for i, seed in enumerate(args.seeds):
            new = SearchConfig(space=args.space, budget=args.budget, seed=seed, runs_dir=tmp,
                               study=f"new-{seed}")
            variants = [] if args.skip_old else [
                ("old", dataclasses.replace(new, pruner="none", bn_calibration=0, epochs=6,
                                            latency_precision=None, latency_time_s=0.5,
                                            study=f"old-{seed}"), False)]
            variants += [("new", new, True)]
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
    names = ([] if args.skip_old else ["old"]) + (["new"] + [f"new-e{e}" for e in args.also_epochs]
                                                  + [f"new-cap{c:g}" for c in args.also_latency_cap])
    base = names[0]
    latency = _retime(runs, args.rounds)
    truth = _truth(runs, args.truth_seeds) if args.truth_seeds > 0 else {}
    from nasbench.study.rules import reference_point

    ref = reference_point(latency.values())["latency_ms"]
    hv: dict[tuple[str, int], float] = {}
    hv_true: dict[tuple[str, int], float] = {}
    print(f"Default search, space {args.space}, dataset digits, budget {args.budget}, seeds "
          f"{args.seeds}; {cpu_model()}, torch {torch.__version__}, training on all "
          f"{torch.get_num_threads()} threads, latency on 1 thread at batch 1, float32")
    print(f"{'run':<10} {'wall s':>7} {'train s':>8} {'count+time s':>13} {'confirm s':>10} "
          f"{'other s':>8} {'archs':>6} {'trained fully':>14} {'epochs':>7} {'front':>6} "
          f"{'HV':>7} {'best acc':>9} {'HV truth':>9} {'best truth':>10}")
    for (name, seed), r in sorted(runs.items(), key=lambda kv: (names.index(kv[0][0]), kv[0][1])):
        front = pareto_frame(r["frame"])
        acc = front["val_acc"].to_numpy(float)
        lat = np.array([latency[a] for a in front["arch"]])
        keep = pareto_mask(acc, lat, np.ones(len(acc), bool))
        hv[(name, seed)] = hypervolume(acc[keep], lat[keep], ref)
        true = np.array([truth.get(a, np.nan) for a in front["arch"]])
        tkeep = pareto_mask(true, lat, np.ones(len(true), bool)) if truth else keep
        hv_true[(name, seed)] = hypervolume(true[tkeep], lat[tkeep], ref) if truth else np.nan
        print(f"{name + '-' + str(seed):<10} {r['wall']:>7.1f} {r['train']:>8.1f} "
              f"{r['measure']:>13.1f} {r['confirm']:>10.1f} {r['other']:>8.1f} {r['archs']:>6} "
              f"{r['full']:>14} {r['epochs']:>7} {int(keep.sum()):>6} {hv[(name, seed)]:>7.3f} "
              f"{acc.max():>9.4f} {hv_true[(name, seed)]:>9.3f} {np.nanmax(true) if truth else np.nan:>10.4f}")

    def spread(values: list[float]) -> str:
        return f"median {statistics.median(values):.3f} (min {min(values):.3f}, max {max(values):.3f})"

    for name in names[1:]:
        for key in ("wall", "train", "measure", "epochs"):
            ratios = [runs[(name, s)][key] / runs[(base, s)][key] for s in args.seeds]
            print(f"{name}/{base} {key:<8} {spread(ratios)}  over {len(ratios)} seeds")
    print(f"hypervolume (accuracy x ms; ref: accuracy 0, latency {ref:.3f} ms = 1.1 x the slowest "
          f"front model, all fronts re-timed together, {args.rounds} interleaved rounds):")
    for name in names:
        print(f"  {name}: {spread([hv[(name, s)] for s in args.seeds])}")
    for name in names[1:]:
        print(f"  {name}/{base} per seed: {spread([hv[(name, s)] / hv[(base, s)] for s in args.seeds])}")
    if truth:
        print(f"hypervolume at the common truth (each front's architectures at their mean "
              f"validation accuracy over {args.truth_seeds} fresh trainings of {TRUTH_EPOCHS} "
              f"epochs, the same latencies and reference):")
        for name in names:
            print(f"  {name}: {spread([hv_true[(name, s)] for s in args.seeds])}")
        for name in names[1:]:
            print(f"  {name}/{base} per seed: "
                  f"{spread([hv_true[(name, s)] / hv_true[(base, s)] for s in args.seeds])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
