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
from nasbench.arch import decode
from nasbench.build import build_model
from nasbench.data import DataSplits
from nasbench.errors import SearchError
from nasbench.files import atomic_write
from nasbench.interrupts import SafeInterrupts
from nasbench.objective import measure_arch
from nasbench.quiet import QuietSlot
from nasbench.record import TrialRecord
from nasbench.results import COLUMNS, pareto_frame, pareto_mask, results_frame, write_table
from nasbench.rules import reference_point
from nasbench.samplers import make_sampler
from nasbench.settings import MAX_ENUMERATE, BenchConfig, bench_config_of, load_search_data
from nasbench.storage import count_states, fail_dead_trials, join_storage_study, open_storage_study
from nasbench.study_record import BENCH, StudyRecord
from nasbench.train import epochs_before_calibration, evaluate, train_model
from search_spaces import DataShape, UniformDraw, enumerate_space, get_space

logger = logging.getLogger(__name__)

KIND = BENCH
_IDENTITY_BEFORE = {"bn_calibration": 0}
"""What the identity of benches made before a setting existed held, in effect."""
TABLE_FILE = "table.parquet"
CSV_FILE = "table.csv"
META_FILE = "bench.json"


@dataclass(frozen=True)
class BenchRecord(TrialRecord):
    """A bench trial's record: the trial record, plus which pass it is and, in the first pass,
    every seed's accuracies (``val_acc_per_epoch`` is the first seed's)."""

    bench_pass: int | None = None
    seed_val_acc_per_epoch: tuple[tuple[float, ...], ...] = ()
    seed_test_acc: tuple[float, ...] = ()

    @classmethod
    def from_attrs(cls, attrs: dict[str, Any]) -> BenchRecord:
        record = super().from_attrs(attrs)
        assert isinstance(record, BenchRecord)
        return dataclasses.replace(
            record, seed_val_acc_per_epoch=tuple(tuple(map(float, s)) for s in record.seed_val_acc_per_epoch),
            seed_test_acc=tuple(map(float, record.seed_test_acc)))


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
                                     device=self.config.device, threads=self.config.threads,
                                     slot=self.slot)
                tests.append(evaluate(model, self.data.x_test, self.data.y_test,
                                      device=self.config.device, slot=self.slot))
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
    meta = bench_meta(study, table)
    config.run_dir.mkdir(parents=True, exist_ok=True)
    files = {"table": write_table(table, config.run_dir / TABLE_FILE),
             "csv": write_table(table, config.run_dir / CSV_FILE),
             "meta": atomic_write(config.run_dir / META_FILE,
                                  lambda tmp: tmp.write_text(json.dumps(meta, indent=2, default=str)))}
    return BenchOutcome(config.study_name, config.storage_url, config.run_dir, table, files,
                        count_states(study).get("FAIL", 0))


def bench_table(study: optuna.Study) -> pd.DataFrame:
    """One row per architecture of a bench study (see the README for every column)."""
    study_record = StudyRecord.of(study)
    settings = study_record.settings or {}
    seeds, passes = settings["seeds"], settings["passes"]
    by_arch: dict[str, dict[int, BenchRecord]] = {}
    for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        record = BenchRecord.from_trial(trial)
        by_arch.setdefault(record.arch, {})[record.bench_pass] = record
    rows = []
    for arch in study_record.archs or ():
        runs = by_arch.get(arch, {})
        first = runs.get(1)
        row: dict[str, Any] = {"arch": arch, "complete": len(runs) == passes and first is not None}
        row["params"] = first.params if first else None
        row["macs"] = first.macs if first else None
        medians = []
        for p in range(1, passes + 1):
            latency = runs[p].latency if p in runs else None
            row[f"latency_ms_pass{p}"] = latency.stats.median_ms if latency else None
            row[f"latency_iqr_ms_pass{p}"] = latency.stats.iqr_ms if latency else None
            row[f"latency_samples_pass{p}"] = latency.stats.samples if latency else None
            if latency:
                medians.append(latency.stats.median_ms)
        row["latency_ms"] = float(np.median(medians)) if medians else None
        row["latency_pass_spread"] = ((max(medians) - min(medians)) / row["latency_ms"]
                                      if len(medians) > 1 else None)
        curves = first.seed_val_acc_per_epoch if first else ()
        last = [c[-1] for c in curves if c]
        row["val_acc_mean"] = float(np.mean(last)) if last else None
        row["val_acc_std"] = float(np.std(last, ddof=1)) if len(last) > 1 else None
        for k in range(seeds):
            row[f"val_acc_seed{k}"] = last[k] if k < len(last) else None
            row[f"val_acc_per_epoch_seed{k}"] = list(curves[k]) if k < len(curves) else None
        row["val_acc_per_epoch_mean"] = (list(np.mean(np.array(curves), axis=0))
                                         if curves and len({len(c) for c in curves}) == 1 else None)
        tests = first.seed_test_acc if first else ()
        row["test_acc_mean"] = float(np.mean(tests)) if tests else None
        for k in range(seeds):
            row[f"test_acc_seed{k}"] = tests[k] if k < len(tests) else None
        row["train_time_s"] = first.train_time_s if first else None
        times = [r.measure_time_s for r in runs.values() if r.measure_time_s is not None]
        row["measure_time_s"] = float(np.mean(times)) if times else None
        conditions = first.latency.conditions.to_dict() if first and first.latency else {}
        row.update({f"cond_{k}": v for k, v in conditions.items()})
        row.update(epochs=(len(curves[0]) if curves else None), seeds=seeds, passes=passes)
        rows.append(row)
    frame = pd.DataFrame(rows)
    ok = frame["complete"].to_numpy(bool)
    acc = pd.to_numeric(frame["val_acc_mean"]).fillna(-np.inf).to_numpy(float)
    lat = pd.to_numeric(frame["latency_ms"]).fillna(np.inf).to_numpy(float)
    frame.insert(1, "pareto", pareto_mask(acc, lat, ok))
    return frame


def as_results_frame(table: pd.DataFrame) -> pd.DataFrame:
    """A bench table in the shape of a search's results table (one complete, feasible trial per
    architecture, numbered in table order), so every chart and selection works on it: its
    ``val_acc`` is the mean over seeds, its ``latency_ms`` the median over passes."""
    rows = []
    for number, row in enumerate(table.to_dict(orient="records")):
        out = {c: None for c in COLUMNS}
        out.update({k[5:]: v for k, v in row.items() if k.startswith("cond_")})
        out.update(number=number, state="COMPLETE" if row["complete"] else "RUNNING",
                   arch=row["arch"], val_acc=row["val_acc_mean"], latency_ms=row["latency_ms"],
                   params=row["params"], macs=row["macs"], feasible=bool(row["complete"]),
                   pareto=bool(row["pareto"]), latency_iqr_ms=row.get("latency_iqr_ms_pass1"),
                   val_acc_per_epoch=row.get("val_acc_per_epoch_mean"),
                   train_time_s=row["train_time_s"], measure_time_s=row["measure_time_s"])
        rows.append(out)
    return pd.DataFrame(rows, columns=list(COLUMNS))


def bench_meta(study: optuna.Study, table: pd.DataFrame) -> dict[str, Any]:
    """What a table is: space, data shape, protocol, whether it holds the whole space, and the
    hypervolume reference point every replay of it uses."""
    record = StudyRecord.of(study)
    settings = record.settings or {}
    n_val = record.n_val
    if n_val is None:  # benches begun before it was recorded: the same seeded split again
        n_val = len(load_search_data(bench_config_of(record, study.study_name)).y_val)
    done = table[table["complete"]]
    return {"kind": "nasbench-bench", "version": 1, "study": study.study_name,
            "space": settings["space"], "dataset": settings["dataset"],
            "shape": list(record.shape or ()), "architectures": len(table),
            "complete": int(done.shape[0]), "whole_space": settings["sample"] is None,
            "seeds": settings["seeds"], "passes": settings["passes"], "n_val": n_val,
            "settings": settings,
            "reference_point": reference_point(done["latency_ms"]),
            "conditions": {c[5:]: done.iloc[0][c] for c in done.columns if c.startswith("cond_")}
            if not done.empty else {}}


def load_bench(path: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The table and its description from a bench folder (or its ``table.parquet``).

    Raises ``ValueError`` naming the problem when it is not a bench table.
    """
    folder = Path(path)
    if folder.suffix == ".parquet":
        folder = folder.parent
    meta_path, table_path = folder / META_FILE, folder / TABLE_FILE
    if not folder.exists():
        raise ValueError(f"no bench table at {path}; build one with python cli.py bench --space tiny")
    if not meta_path.is_file() or not table_path.is_file():
        raise ValueError(f"{path} is not a bench table (no {META_FILE} and {TABLE_FILE}); give a "
                         f"folder written by python cli.py bench")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        table = pd.read_parquet(table_path)
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read the bench table at {path} ({exc}); run python cli.py "
                         f"bench again to rewrite it") from None
    if not isinstance(meta, dict) or meta.get("kind") != "nasbench-bench":
        raise ValueError(f"{meta_path} does not describe a bench table; give a folder written by "
                         f"python cli.py bench")
    return table, meta


def table_of(study: optuna.Study) -> tuple[pd.DataFrame, pd.DataFrame, bool]:
    """The table of any nasbench study, its front (cheapest first) and whether it is a bench:
    one code path for the CLI and the dashboard."""
    if StudyRecord.of(study).is_bench:
        table = bench_table(study)
        return table, table[table["pareto"]].sort_values("latency_ms"), True
    frame = results_frame(study)
    return frame, pareto_frame(frame), False




def start_bench(config: BenchConfig) -> tuple[DataSplits, optuna.Study, dict[str, int]]:
    """Everything before a bench's first trial: settings checked, data loaded, the study
    created (every trial queued) or resumed. Returns the data, the study and its counts by
    state. Raises :class:`SearchError` on bad settings, data or storage."""
    config.validate()
    data = load_search_data(config)
    study = open_bench(config, data)
    return data, study, count_states(study)
