"""A tabular benchmark of a whole space on this machine: every architecture (or a seeded sample)
trained with several seeds and timed in several passes, exactly as a search trial is.

Built on the search's study machinery: the bench is an Optuna study whose trials are queued in
advance, one per (architecture, pass): the first pass counts, times and trains the
architecture with every seed; later passes time it again, in another random order, so each
architecture has a between-pass spread beside its within-measurement spread. So a bench is
resumable (kill -9 loses only the trials in flight), shares workers and storages with
``search``, and its table is derived from the storage like every other table.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import optuna
import pandas as pd
from optuna.trial import TrialState

from nasbench import __version__
from nasbench.spec.arch import decode
from nasbench.nn.build import build_model
from nasbench.train.data import DataSplits
from nasbench.errors import SearchError
from nasbench.files import atomic_write
from nasbench.interrupts import SafeInterrupts
from nasbench.workflows.objective import measure_arch
from nasbench.measure.quiet import QuietSlot
from nasbench.bench.table import (CSV_FILE, META_FILE, TABLE_FILE, BenchRecord, bench_meta,
                                  bench_table)
from nasbench.study.results import write_table
from nasbench.study.samplers import make_sampler
from nasbench.workflows.settings import MAX_ENUMERATE, BenchConfig, bench_config_of
from nasbench.workflows.loading import load_search_data
from nasbench.study.storage import (check_results_folder, count_states, fail_dead_trials,
                              join_storage_study, open_storage_study)
from nasbench.study.study_record import BENCH, StudyRecord
from nasbench.train.proxy import evaluate, train_model
from nasbench.train.recipe import epochs_before_calibration
from search_spaces import DataShape, UniformDraw, enumerate_space, get_space

logger = logging.getLogger(__name__)

KIND = BENCH
_IDENTITY_BEFORE = {"bn_calibration": 0, "latency_clock": "wall"}
"""What the identity of benches made before a setting existed held, in effect."""
def architectures(config: BenchConfig, shape: Any) -> list[str]:
    """The canonical strings the bench evaluates: the whole space in its stable order, or
    ``config.sample`` distinct ones drawn uniformly per choice with ``config.seed``."""
    space = get_space(config.space)
    if config.sample is None:
        strings = [arch.to_string() for _, arch in enumerate_space(space, shape, limit=10 * MAX_ENUMERATE)]
        return list(dict.fromkeys(strings))
    rng = np.random.default_rng(config.seed)
    found: dict[str, None] = {}
    for _ in range(100 * config.sample):
        found.setdefault(space.sample(UniformDraw(rng), shape).to_string())
        if len(found) == config.sample:
            return list(found)
    raise SearchError(f"drew only {len(found)} distinct architectures for --sample "
                      f"{config.sample}; ask for fewer")


def open_bench(config: BenchConfig, data: DataSplits) -> optuna.Study:
    """Create the bench study (recording its settings and queueing every trial) or resume it;
    refuses a study made with other settings or by ``search``."""
    check_results_folder(config.storage_url, config.run_dir, config.study_name)
    study = open_storage_study(config.storage_url, config.study_name, config.heartbeat_s,
                               directions=["minimize"], sampler=make_sampler("random", config.seed),
                               run_dir=None if config.storage else config.run_dir,
                               set_up=lambda study: _set_up_bench(study, config, data))
    if config.worker_index == 0:
        requeue_missing(study)
    return study


def _set_up_bench(study: optuna.Study, config: BenchConfig, data: DataSplits) -> None:
    """Record the settings on a new bench study and queue its trials, or check a resumed one."""
    record = StudyRecord.of(study)
    if not record.is_set_up:
        shape = DataShape(data.resolution, data.channels, len(data.classes))
        archs = architectures(config, shape)
        rng = np.random.default_rng(config.seed)
        for p in range(1, config.passes + 1):  # every pass in its own random order
            for index in rng.permutation(len(archs)):
                study.enqueue_trial({"index": int(index), "pass": p})
        StudyRecord(kind=BENCH, space=config.space, dataset=config.dataset, version=__version__,
                    archs=tuple(archs), shape=(shape.resolution, shape.channels, shape.classes),
                    n_val=len(data.y_val), settings=config.settings(),
                    identity=config.identity()).save(study)  # the identity last: set up
        return
    if not record.is_bench:
        raise SearchError(f"study {config.study_name!r} is a search, not a bench; use another "
                          f"--study name")
    bench_table(study)  # every stored value read before anything is written (DamagedValue)
    recorded = {**_IDENTITY_BEFORE, **(record.identity or {})}
    recorded["epochs"] = recorded["epochs"] or epochs_before_calibration(config.dataset)
    differing = [k for k, v in config.identity().items() if recorded.get(k) != v]
    if differing:
        detail = ", ".join(f"{k}={recorded.get(k)!r} (now {getattr(config, k)!r})" for k in differing)
        raise SearchError(f"bench {config.study_name!r} was made with other settings: {detail}; "
                          f"use another --study name or the original settings")


def requeue_missing(study: optuna.Study) -> int:
    """Queue again every (architecture, pass) that no trial has done, is doing or will do:
    those interrupted by Ctrl-C or failed in an earlier run. Returns how many."""
    covered = set()
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING,
                                                      TrialState.WAITING)):
        params = t.params or t.system_attrs.get("fixed_params", {})  # queued: not drawn yet
        covered.add((params.get("index"), params.get("pass")))
    record = StudyRecord.of(study)
    passes = (record.settings or {})["passes"]
    missing = [(i, p) for p in range(1, passes + 1) for i in range(len(record.archs or ()))
               if (i, p) not in covered]
    for index, bench_pass in missing:
        study.enqueue_trial({"index": index, "pass": bench_pass})
    return len(missing)


class BenchObjective:
    """One bench trial: time the architecture; in the first pass also count it and train it
    with every seed (the search's training and measurement, seed after seed)."""

    def __init__(self, config: BenchConfig, data: DataSplits, archs: list[str],
                 slot: QuietSlot | None = None, interrupts: SafeInterrupts | None = None,
                 recorded: dict[str, Any] | None = None) -> None:
        self.config, self.data, self.archs, self.slot = config, data, archs, slot
        self.interrupts = interrupts or SafeInterrupts()
        # A bench keeps the latency protocol it began with (benches begun before the adaptive
        # stop existed sampled for a fixed time).
        precision = (recorded or {}).get("latency_precision", config.latency_precision)
        self.measure_config = dataclasses.replace(config, latency_precision=precision)
        self.train_config = config.train_config()

    def __call__(self, trial: optuna.Trial) -> float:
        index = trial.suggest_int("index", 0, len(self.archs) - 1)
        bench_pass = trial.suggest_int("pass", 1, self.config.passes)
        arch = decode(self.archs[index])
        BenchRecord(arch=self.archs[index], bench_pass=bench_pass).save(trial)
        try:
            with self.interrupts.allowed():
                measured = measure_arch(arch, self.data, self.measure_config, self.config.seed,
                                        self.slot)
            record = BenchRecord(params=measured.params, macs=measured.macs, latency=measured.latency,
                                 measure_time_s=measured.seconds)
            record.save(trial)
            if bench_pass == 1:
                self._train(trial, arch)
        except KeyboardInterrupt:
            BenchRecord(fail_reason="interrupted by the user (Ctrl-C); not retried").save(trial)
            raise
        except Exception as exc:
            BenchRecord(fail_reason=f"{type(exc).__name__}: {exc}".splitlines()[0][:500]).save(trial)
            raise
        return measured.latency.median_ms

    def _train(self, trial: optuna.Trial, arch: Any) -> None:
        curves: list[tuple[float, ...]] = []
        tests: list[float] = []
        seconds: list[float] = []
        for k in range(self.config.seeds):
            seed = self.config.seed + k
            model = build_model(arch, seed=seed)
            with self.interrupts.allowed():
                result = train_model(model, self.data, self.train_config, seed=seed,
                                     device=self.config.device, threads=self.config.training_threads(),
                                     slot=self.slot)
                tests.append(evaluate(model, self.data.x_test, self.data.y_test,
                                      device=self.config.device, slot=self.slot,
                                      threads=self.config.training_threads()))
            curves.append(result.val_accuracy_per_epoch)
            seconds.append(result.train_time_s)
        BenchRecord(val_acc_per_epoch=curves[0], seed_val_acc_per_epoch=tuple(curves),
                    seed_test_acc=tuple(tests), train_time_s=float(np.mean(seconds))).save(trial)


@dataclass(frozen=True)
class BenchOutcome:
    """Where a finished (or stopped) bench left its table."""

    study_name: str
    storage: str
    run_dir: Path
    table: pd.DataFrame = field(repr=False)
    files: dict[str, Path] = field(default_factory=dict)
    failed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary: the study, the files written and the exact front."""
        return {"study": self.study_name, "storage": self.storage, "failed": self.failed,
                "files": {k: str(v) for k, v in self.files.items()},
                "front": self.table[self.table["pareto"]].to_dict(orient="records")}


def run_bench(config: BenchConfig, callbacks: Sequence[Callable[[optuna.Study, Any], None]] = (),
              data: DataSplits | None = None, slot: QuietSlot | None = None) -> BenchOutcome:
    """Run (or resume) the bench until every queued trial is done, then write its table."""
    config.validate()
    if data is None:
        data = load_search_data(config)
    study = open_bench(config, data)
    record = StudyRecord.of(study)
    with SafeInterrupts().installed() as interrupts:
        objective = BenchObjective(config, data, list(record.archs or ()), slot, interrupts,
                                   {"latency_precision": None, **(record.settings or {})})
        _drive_bench(study, objective, callbacks, interrupts)
    return finish_bench(config)


def _drive_bench(study: optuna.Study, objective: BenchObjective,
                 callbacks: Sequence[Callable[[optuna.Study, Any], None]],
                 interrupts: SafeInterrupts) -> None:
    """Run the queued trials until none is left (here or in other workers)."""
    failures = 0
    while True:
        fail_dead_trials(study)  # dead workers' trials: failed, retried
        counts = count_states(study)
        if counts.get("WAITING", 0) == 0:
            if counts.get("RUNNING", 0) == 0:
                break
            time.sleep(0.5)  # the rest is in flight in other workers
            interrupts.check()
            continue
        before = counts.get("FAIL", 0)
        study.optimize(objective, n_trials=1, catch=(Exception,), callbacks=list(callbacks),
                       gc_after_trial=False)
        interrupts.check()
        failures += count_states(study).get("FAIL", 0) - before
        if failures >= max(5, len(objective.archs) // 10):
            raise SearchError(f"{failures} bench trials failed in this run; fix the cause and run "
                              f"the same command again to resume")


def finish_bench(config: BenchConfig) -> BenchOutcome:
    """Write ``table.parquet``, ``table.csv`` and ``bench.json`` from the bench's study."""
    study = join_storage_study(config.storage_url, config.study_name, config.heartbeat_s)
    table = bench_table(study)
    meta = bench_meta(study, table,  # a bench begun before n_val was recorded: its split again
                      lambda: len(load_search_data(bench_config_of(StudyRecord.of(study),
                                                                   study.study_name)).y_val))
    config.run_dir.mkdir(parents=True, exist_ok=True)
    files = {"table": write_table(table, config.run_dir / TABLE_FILE),
             "csv": write_table(table, config.run_dir / CSV_FILE),
             "meta": atomic_write(config.run_dir / META_FILE,
                                  lambda tmp: tmp.write_text(json.dumps(meta, indent=2, default=str)))}
    return BenchOutcome(config.study_name, config.storage_url, config.run_dir, table, files,
                        count_states(study).get("FAIL", 0))


def start_bench(config: BenchConfig) -> tuple[DataSplits, optuna.Study, dict[str, int]]:
    """Everything before a bench's first trial: settings checked, data loaded, the study
    created (every trial queued) or resumed. Returns the data, the study and its counts by
    state. Raises :class:`SearchError` on bad settings, data or storage."""
    config.validate()
    data = load_search_data(config)
    study = open_bench(config, data)
    return data, study, count_states(study)
