"""The Pareto-aware early stop, measured by replay on a bench table.

    python benchmarks/early_stop.py [runs/bench-tiny-digits] [--budget 50] [--repeats 20]

Replays the same searches (TPE, seeds 0..repeats-1) with ``--pruner pareto`` and with
``--pruner none``, side by side in one run, and prints at the same number of architectures the
hypervolume fraction of the exact front (median and IQR), the epochs trained and the simulated
seconds. Target: at least 95 % of the no-pruning hypervolume with at most a third of the epochs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    from nasbench.replay import replay_table

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("table", nargs="?", default=str(ROOT / "runs" / "bench-tiny-digits"))
    parser.add_argument("--budget", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--sampler", default="tpe")
    args = parser.parse_args()
    rows = {}
    for pruner in ("none", "pareto"):
        report = replay_table(args.table, (args.sampler,), args.budget, args.repeats, pruner=pruner)
        rows[pruner] = report.summary.set_index("architectures")
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
    print("HV: hypervolume fraction of the table's exact front, median (interquartile range); "
          "epochs and sim s: medians over repeats.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
