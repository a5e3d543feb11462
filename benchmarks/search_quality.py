"""Search quality on a bench table: samplers side by side, by replay.

    python benchmarks/search_quality.py [runs/bench-tiny-digits] [--budget 50] [--repeats 20]

Replays TPE, NSGA-II and random search (the real search code, the table's recorded figures)
``--repeats`` times each, in one run, and prints per sampler the hypervolume fraction of the
table's exact front after 10, 25 and 50 architectures (median and interquartile range over the
repeats), the simulated seconds the searches would have cost and the real time per replayed
trial. The goal for the default sampler: a median fraction of at least 0.98 at 50 and clearly
above random.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    from nasbench.workflows.replay import replay_table
    from nasbench.cli.text import replay_summary

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("table", nargs="?", default=str(ROOT / "runs" / "bench-tiny-digits"))
    parser.add_argument("--budget", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--samplers", nargs="+", default=["tpe", "nsga2", "random"])
    args = parser.parse_args()
    start = time.perf_counter()
    report = replay_table(args.table, tuple(args.samplers), args.budget, args.repeats)
    summary, meta = report.summary, report.meta
    print(replay_summary(summary, meta, report.exact_hypervolume))
    at = summary[summary["architectures"] == args.budget].set_index("sampler")
    best = at["hv_fraction_median"].idxmax()
    print(f"\nAt {args.budget} architectures: " + ", ".join(
        f"{s} {at.loc[s, 'hv_fraction_median']:.4f}" for s in at.index)
        + f"; best: {best}. {len(report.runs)} replays in {time.perf_counter() - start:.1f} s.")
    conditions = meta["conditions"]
    print(f"Table: {args.table} ({meta['complete']} architectures, {meta['seeds']} seeds, "
          f"{meta['passes']} passes; {conditions.get('device_name')}, "
          f"{conditions.get('threads')} thread(s), torch {conditions.get('torch_version')})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
