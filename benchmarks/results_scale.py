"""The results table and the dashboard at 1,000 and 10,000 trials, SQLite and PostgreSQL.

    python benchmarks/results_scale.py [--sizes 1000 10000] [--backends sqlite postgresql]
                                       [--repeats 3] [--renders 3]

Writes each study through the real trial record path: 100 trials of the real search objective
(``nasbench.workflows.search.Objective``: sampler, trial record, constraints; real params, multiply-adds
and latency of each architecture, a synthetic accuracy curve instead of training), then
copies of them with small changes (accuracies and latencies jittered) through
``TrialRecord.to_attrs`` and ``study.add_trials``, as a long study's trials would look. The
PostgreSQL server is private, started as the tests start it (``tests/postgres.py``).

Printed per size and storage, each the median (min-max) of ``--repeats`` measurements:

- ``before``: the table as it was built before issue 14: the study opened, every trial read
  through Optuna's ORM (``study.get_trials``), every row derived;
- ``scratch``: the run opened (``open_run``) and :class:`nasbench.study.results.ResultsTable` built
  from nothing;
- ``refresh+10``: its refresh after 10 new trials were written;
- ``refresh+0``: its refresh when nothing changed;
- dashboard: first render and re-render under Streamlit's ``AppTest`` (the page's own
  refresh path);
- memory: the table's frame (pandas, deep), the peak of Python allocations while one table is
  built from scratch (``tracemalloc``), and the process's peak so far.

Targets at 10,000 trials: table from scratch <= 2 s, refresh after 10 new trials <= 0.3 s,
dashboard re-render <= 2 s.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

SEED_TRIALS = 100


class SyntheticTraining:
    """Real counts and a short real latency measurement of each architecture; a synthetic
    accuracy curve instead of training (the benchmark is about reading, not training)."""

    def __init__(self, shape: tuple[int, int, int], epochs: int) -> None:
        self.shape, self.epochs = shape, epochs

    def measure(self, arch: Any, seed: int) -> Any:
        from nasbench.nn.build import build_model, count_params
        from nasbench.nn.flops import count_flops
        from nasbench.measure.latency import measure_latency
        from nasbench.workflows.objective import Measured

        start = time.perf_counter()
        model = build_model(arch, seed=seed)
        latency = measure_latency(model, self.shape, min_time_s=0.02, warmup_s=0.01, min_samples=5)
        return Measured(model, count_params(model), count_flops(model, (1, *self.shape)).total,
                        latency, time.perf_counter() - start)

    def train(self, arch: Any, measured: Any, seed: int,
              on_epoch: Callable[[int, float], None]) -> Any:
        from nasbench.workflows.objective import Trained

        rng = np.random.default_rng(seed)
        final = float(np.clip(rng.normal(0.95, 0.03), 0.1, 1.0))
        curve = tuple(float(np.clip(final - 0.3 * 0.5 ** e + rng.normal(0, 0.01), 0.0, 1.0))
                      for e in range(self.epochs))
        for epoch, accuracy in enumerate(curve):
            on_epoch(epoch, accuracy)
        return Trained(curve, 0.1 * self.epochs)


def seed_study(url: str, name: str) -> Any:
    """A search study with :data:`SEED_TRIALS` trials of the real objective."""
    from search_spaces import DataShape

    from nasbench.workflows.objective import Objective
    from nasbench.study.samplers import ProcessSampler
    from nasbench.workflows.search import drive
    from nasbench.workflows.search_study import open_study
    from nasbench.workflows.settings import SearchConfig

    config = SearchConfig(storage=url, study=name, space="mixed", dataset="digits",
                          sampler="random", budget=SEED_TRIALS, pruner="none", max_latency_ms=8.0)
    study = open_study(config)
    study.set_user_attr("n_val", 360)
    study.sampler = ProcessSampler(config)
    shape = DataShape(8, 1, 10)
    drive(study, Objective(config, shape, SyntheticTraining((1, 8, 8), 4)), config)
    return study


def add_copies(study: Any, count: int, seed: int) -> None:
    """``count`` more complete trials: copies of the seed trials with jittered accuracies
    and latencies, their attributes written by ``TrialRecord.to_attrs``."""
    import optuna

    from nasbench.study.trial_record import TrialRecord

    rng = np.random.default_rng(seed)
    seeds = [t for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
             if t.number < SEED_TRIALS]
    new = []
    for k in range(count):
        base = seeds[int(rng.integers(len(seeds)))]
        record = TrialRecord.from_trial(base)
        assert record.latency is not None
        curve = tuple(float(np.clip(a + rng.normal(0, 0.005), 0, 1)) for a in record.val_acc_per_epoch)
        scale = float(rng.normal(1.0, 0.03))
        stats = dataclasses.replace(record.latency.stats, **{
            f: getattr(record.latency.stats, f) * scale for f in
            ("median_ms", "p90_ms", "iqr_ms", "mean_ms", "min_ms", "median_ci_low_ms",
             "median_ci_high_ms") if getattr(record.latency.stats, f) is not None})
        record = dataclasses.replace(record, val_acc_per_epoch=curve,
                                     latency=dataclasses.replace(record.latency, stats=stats))
        new.append(optuna.trial.create_trial(
            state=optuna.trial.TrialState.COMPLETE, values=[curve[-1], stats.median_ms],
            params=base.params, distributions=base.distributions, user_attrs=record.to_attrs(),
            system_attrs={"constraints:latency_ms": stats.median_ms - 8.0}))
    study.add_trials(new)


def measure(fn: Callable[[], Any], repeats: int) -> tuple[list[float], Any]:
    """Seconds of ``repeats`` calls of ``fn``, and its last result."""
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return times, out


def fmt(times: list[float]) -> str:
    """Median (min-max) over repeats, in seconds."""
    return f"{statistics.median(times):7.3f} ({min(times):.3f}-{max(times):.3f}) s"


def old_frame(study: Any) -> Any:
    """The table as built before issue 14: every trial through Optuna's ORM."""
    import pandas as pd

    from nasbench.study.study_record import Confirmation
    from nasbench.study.results import COLUMNS, _row, annotate

    attrs = study.user_attrs
    rows = [_row(t, attrs.get("space", ""), attrs.get("dataset", ""))
            for t in study.get_trials(deepcopy=False)]
    return annotate(pd.DataFrame(rows, columns=list(COLUMNS)), attrs.get("n_val"),
                    Confirmation.from_attr(attrs.get("confirmation")))


def render_times(url: str, renders: int) -> tuple[float, list[float]]:
    """The dashboard on ``url``: first render, then ``renders`` re-renders (AppTest)."""
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=600)
    app.query_params["source"] = url
    start = time.perf_counter()
    app.run()
    first = time.perf_counter() - start
    assert not app.exception, app.exception
    again = []
    for _ in range(renders):
        start = time.perf_counter()
        app.run()
        again.append(time.perf_counter() - start)
    return first, again


def bench_one(url: str, size: int, args: argparse.Namespace) -> None:
    """Write a study of ``size`` trials at ``url`` and print the figures."""
    import optuna

    from nasbench.study.results import ResultsTable
    from nasbench.study.storage import open_run

    name = f"scale-{size}"
    start = time.perf_counter()
    seed_study(url, name)
    study = optuna.load_study(study_name=name, storage=url)
    while len(study.get_trials(deepcopy=False)) < size:
        add_copies(study, min(1000, size - len(study.get_trials(deepcopy=False))), size)
    print(f"  wrote {size} trials in {time.perf_counter() - start:.0f} s", flush=True)
    # Both from a fresh opening of the storage, as a CLI command or a new dashboard does.
    before, frame = measure(lambda: old_frame(optuna.load_study(study_name=name, storage=url)),
                            args.repeats)
    scratch, table = measure(lambda: ResultsTable(open_run(url, name)).refresh(), args.repeats)
    assert len(table) == len(frame) == size
    study = open_run(url, name)
    table = ResultsTable(study)
    table.refresh()
    refresh10 = []
    for r in range(args.repeats):
        add_copies(study, 10, 1000 + r)
        times, fresh = measure(table.refresh, 1)
        refresh10 += times
        assert len(fresh) == size + 10 * (r + 1)
    refresh0, _ = measure(table.refresh, args.repeats)
    first, again = render_times(url, args.renders)
    held = table.refresh().memory_usage(deep=True).sum() / 2**20
    tracemalloc.start()
    ResultsTable(open_run(url, name)).refresh()
    built_peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  table before (ORM, every trial) {fmt(before)}   ratio scratch/before "
          f"{statistics.median(scratch) / statistics.median(before):.2f}")
    print(f"  table from scratch              {fmt(scratch)}   target <= 2 s")
    print(f"  refresh after 10 new trials     {fmt(refresh10)}   target <= 0.3 s")
    print(f"  refresh, nothing new            {fmt(refresh0)}")
    print(f"  dashboard first render          {first:7.3f} s")
    print(f"  dashboard re-render             {fmt(again)}   target <= 2 s")
    print(f"  the table's frame (deep)        {held:7.1f} MiB")
    print(f"  peak allocation of one build    {built_peak:7.1f} MiB (tracemalloc, from scratch)")
    print(f"  peak memory of this process     {peak:7.0f} MiB (so far in this run)", flush=True)


def main() -> int:
    import optuna

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"],
                        choices=["sqlite", "postgresql"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--renders", type=int, default=3)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("streamlit").setLevel(logging.ERROR)  # "no ScriptRunContext" from AppTest
    from nasbench.measure.conditions import allocator_state, current_conditions

    c = current_conditions("cpu", 1, 1, "float32", "contiguous", allocator_state())
    print(f"{c.device_name}, torch {c.torch_version}, optuna {optuna.__version__}, "
          f"{args.repeats} repeats, {args.renders} re-renders")
    for backend in args.backends:
        for size in args.sizes:
            print(f"{backend}, {size} trials:", flush=True)
            if backend == "sqlite":
                with tempfile.TemporaryDirectory() as tmp:
                    bench_one(f"sqlite:///{tmp}/study.db", size, args)
            else:
                from postgres import postgres_server, server_bin

                if server_bin() is None:
                    print("  skipped: needs Debian's postgresql package (bash setup.sh --test)")
                    continue
                with postgres_server() as url:
                    bench_one(url, size, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
