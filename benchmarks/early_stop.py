"""The Pareto-aware early stop, measured by replay on a bench table.

    python benchmarks/early_stop.py [runs/bench-tiny-digits] [--budget 50] [--repeats 20]
                                    [--z 2 1 0 -1] [--epochs 3]

Replays the same searches (TPE, seeds 0..repeats-1) with ``--pruner pareto`` (at each noise
margin ``--z``, default the pruner's own) and with ``--pruner none``, side by side in one run,
and prints at the same number of architectures the hypervolume fraction of the exact front
(median and IQR), the epochs trained, the simulated seconds, and the accuracy regret at three
latency limits (what a user asks: the best accuracy for my latency budget). Target: at least
95 % of the no-pruning hypervolume with at most a third of the epochs. With ``--epochs E`` the
searches train E epochs (each curve cut there, ``nasbench.workflows.replay.cut_to_epochs``) and are still
scored at the table's full-training figures, so a shorter proxy is judged by what it finds.

It also prints two bounds no causal early stop can beat, from the no-pruning runs: the epochs of
an oracle that trains fully only the architectures on each run's final front (at the table's
true figures) and stops every other one after its first epoch, and the epochs of one that trains
fully only the fewest of them that keep 95 % of the run's hypervolume (greedy choice).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def oracle_epochs(report, keep: float, epochs: int | None = None) -> list[int]:
    """Per no-pruning run: the epochs an oracle needs to keep ``keep`` of its hypervolume."""
    import numpy as np

    from nasbench.bench.table import load_bench
    from nasbench.workflows.replay import table_epochs
    from nasbench.study.results import hypervolume, pareto_mask

    table, meta = load_bench(report.table)
    rows, ref = table.set_index("arch"), meta["reference_point"]
    epochs = epochs or table_epochs(table)
    out = []
    for run in report.runs:
        seen = rows.loc[run.numbers]
        acc, lat = seen["val_acc_mean"].to_numpy(float), seen["latency_ms"].to_numpy(float)
        front = list(np.flatnonzero(pareto_mask(acc, lat, np.ones(len(acc), bool))))

        def hv(ids: list[int]) -> float:
            return hypervolume(acc[ids], lat[ids], ref["latency_ms"], ref["val_acc"]) if ids else 0.0

        whole, chosen = hv(front), []
        while hv(chosen) < keep * whole - 1e-12:
            chosen.append(max((i for i in front if i not in chosen), key=lambda i: hv(chosen + [i])))
        out.append(len(run.numbers) + (epochs - 1) * len(chosen))
    return out


def main() -> int:
    import numpy as np

    from nasbench.study.pruners import ParetoPruner
    from nasbench.workflows.replay import LIMIT_QUANTILES, replay_table

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("table", nargs="?", default=str(ROOT / "runs" / "bench-tiny-digits"))
    parser.add_argument("--budget", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--sampler", default="tpe")
    parser.add_argument("--z", type=float, nargs="+", default=[ParetoPruner.z],
                        help="noise margins of the pareto pruner to compare, in standard "
                             "deviations (default: its own)")
    parser.add_argument("--epochs", type=int, help="searches train this many epochs (default: "
                                                   "the table's), scored at the table's figures")
    args = parser.parse_args()
    rows, reports = {}, {}
    variants = [("none", None)] + [("pareto", z) for z in args.z]
    for pruner, z in variants:
        name = "none" if pruner == "none" else f"pareto z={z:g}"
        report = replay_table(args.table, (args.sampler,), args.budget, args.repeats,
                              pruner=pruner, margin_z=z, epochs=args.epochs)
        rows[name], reports[name] = report.summary.set_index("architectures"), report
    limits = "/".join(f"p{round(100 * q)}" for q in LIMIT_QUANTILES)
    print(f"{args.sampler}, {args.repeats} repeats, {args.table}"
          + (f", searches of {args.epochs} epochs scored at the table's figures" if args.epochs else ""))
    print(f"{'pruner':<16} {'archs':>5} {'HV median (IQR)':>22} {'HV ratio':>8} {'epochs':>7} "
          f"{'ratio':>6} {'sim s':>6}  regret {limits} (mean)")
    base = rows["none"]
    for name, frame in rows.items():
        for mark in frame.index:
            r, b = frame.loc[mark], base.loc[mark]
            regret = " / ".join(f"{r[f'regret_q{round(100 * q)}_mean']:.4f}" for q in LIMIT_QUANTILES)
            print(f"{name:<16} {mark:>5} {r.hv_fraction_median:>8.4f} ({r.hv_fraction_q25:.3f}-"
                  f"{r.hv_fraction_q75:.3f}) {r.hv_fraction_median / b.hv_fraction_median:>8.3f} "
                  f"{r.epochs_median:>7.0f} {r.epochs_median / b.epochs_median:>6.3f} "
                  f"{r.simulated_s_median:>6.1f}  {regret}")
    print("HV: hypervolume fraction of the table's exact front reached by the architectures "
          "trained fully (stopped ones are never on a front), median (interquartile range); "
          "epochs and sim s: medians over repeats; regret pN: the best validation accuracy in "
          "the table within the Nth percentile of its latencies minus the best the search "
          "trained fully within it (1 validation image = 1/n_val), mean over repeats. The "
          "hypervolume's reference accuracy is 0, so a point of accuracy lost costs about 1 % "
          "of it; the regret counts it as a point.")
    none_epochs = base.iloc[-1].epochs_median
    for keep, what in ((1.0, "its whole final front"), (0.95, "95 % of its hypervolume")):
        need = np.array(oracle_epochs(reports["none"], keep, args.epochs))
        print(f"oracle bound, trains fully only what keeps {what}: epochs median "
              f"{np.median(need):.0f} ({need.min()}-{need.max()}), "
              f"{np.median(need) / none_epochs:.3f} of no pruning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
