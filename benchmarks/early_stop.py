"""The Pareto-aware early stop, measured by replay on a bench table.

    python benchmarks/early_stop.py [runs/bench-tiny-digits] [--budget 50] [--repeats 20]

Replays the same searches (TPE, seeds 0..repeats-1) with ``--pruner pareto`` and with
``--pruner none``, side by side in one run, and prints at the same number of architectures the
hypervolume fraction of the exact front (median and IQR), the epochs trained and the simulated
seconds. Target: at least 95 % of the no-pruning hypervolume with at most a third of the epochs.

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


def oracle_epochs(report, keep: float) -> list[int]:
    """Per no-pruning run: the epochs an oracle needs to keep ``keep`` of its hypervolume."""
    import numpy as np

    from nasbench.bench import load_bench
    from nasbench.results import hypervolume, pareto_mask

    table, meta = load_bench(report.table)
    rows, ref = table.set_index("arch"), meta["reference_point"]
    epochs = int(table["epochs"].dropna().iloc[0])
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

    from nasbench.replay import replay_table

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("table", nargs="?", default=str(ROOT / "runs" / "bench-tiny-digits"))
    parser.add_argument("--budget", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--sampler", default="tpe")
    args = parser.parse_args()
    rows, reports = {}, {}
    for pruner in ("none", "pareto"):
        report = replay_table(args.table, (args.sampler,), args.budget, args.repeats, pruner=pruner)
        rows[pruner], reports[pruner] = report.summary.set_index("architectures"), report
    print(f"{args.sampler}, {args.repeats} repeats: pruner pareto against none")
    print(f"{'archs':>6} {'HV none':>16} {'HV pareto':>16} {'ratio':>6} {'epochs none':>12} "
          f"{'epochs pareto':>14} {'ratio':>6} {'sim s none':>11} {'sim s pareto':>13}")
    for mark in rows["none"].index:
        a, b = rows["none"].loc[mark], rows["pareto"].loc[mark]
        print(f"{mark:>6} {a.hv_fraction_median:>7.4f} ({a.hv_fraction_q25:.3f}-{a.hv_fraction_q75:.3f})"
              f"{b.hv_fraction_median:>7.4f} ({b.hv_fraction_q25:.3f}-{b.hv_fraction_q75:.3f})"
              f" {b.hv_fraction_median / a.hv_fraction_median:>6.3f} {a.epochs_median:>12.0f} "
              f"{b.epochs_median:>14.0f} {b.epochs_median / a.epochs_median:>6.3f} "
              f"{a.simulated_s_median:>11.1f} {b.simulated_s_median:>13.1f}")
    print("HV: hypervolume fraction of the table's exact front reached by the architectures "
          "trained fully (stopped ones are never on a front), median (interquartile range); "
          "epochs and sim s: medians over repeats.")
    none_epochs = rows["none"].iloc[-1].epochs_median
    for keep, what in ((1.0, "its whole final front"), (0.95, "95 % of its hypervolume")):
        need = np.array(oracle_epochs(reports["none"], keep))
        print(f"oracle bound, trains fully only what keeps {what}: epochs median "
              f"{np.median(need):.0f} ({need.min()}-{need.max()}), "
              f"{np.median(need) / none_epochs:.3f} of no pruning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
