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
import math
import os
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
from nasbench.data import DataSplits
from nasbench.files import atomic_write
from nasbench.interrupts import SafeInterrupts
from nasbench.quiet import QuietSlot
from nasbench.record import TrialRecord
from nasbench.rules import default_threads, reference_point
from nasbench.results import pareto_mask, write_table
from nasbench.storage import count_states, fail_dead_trials
from nasbench.search import (SearchConfig, SearchError, UniformDraw, load_search_data,
                             make_sampler, make_storage, measure_arch, open_storage_study)
from nasbench.train import (DEFAULT_BN_CALIBRATION, TrainedSettings, epochs_before_calibration,
                            evaluate, train_model)

logger = logging.getLogger(__name__)

KIND = "bench"
TABLE_FILE = "table.parquet"
CSV_FILE = "table.csv"
META_FILE = "bench.json"
MAX_ENUMERATE = 20_000
_IDENTITY = ("space", "dataset", "data_dir", "resolution", "epochs", "max_train", "max_val", "train_batch", "seeds", "passes",
             "sample", "seed", "device", "latency_threads", "latency_time_s", "bn_calibration")
_DEFAULTS_BEFORE = {"bn_calibration": 0}
"""What benches made before a setting existed had, in effect."""


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


@dataclass(frozen=True)
class BenchConfig(TrainedSettings):
    """Everything that defines a bench; recorded on its study."""

    space: str = "tiny"
    dataset: str = "digits"
    data_dir: str | None = None
    resolution: int | None = None
    epochs: int | None = None
    max_train: int | None = None
    max_val: int | None = None
    train_batch: int | None = None
    bn_calibration: int | None = DEFAULT_BN_CALIBRATION
    seeds: int = 2
    passes: int = 2
    sample: int | None = None
    seed: int = 0
    device: str = "cpu"
    threads: int = field(default_factory=default_threads)
    latency_threads: int = 1
    latency_time_s: float = 0.5
    latency_precision: float | None = 0.02
    study: str | None = None
    storage: str | None = None
    runs_dir: str = "runs"
    heartbeat_s: int = 10
    worker_index: int = 0
    memory_check: bool = True

    @property
    def study_name(self) -> str:
        """``bench-<space>-<dataset>`` unless named."""
        return self.study or f"bench-{self.space}-{self.dataset}"

    def search_config(self) -> SearchConfig:
        """The search settings a bench shares: data, device, training, latency, storage."""
        return SearchConfig(space=self.space, dataset=self.dataset, data_dir=self.data_dir,
                            resolution=self.resolution, seed=self.seed, device=self.device,
                            threads=self.threads, latency_threads=self.latency_threads,
                            latency_time_s=self.latency_time_s,
                            latency_precision=self.latency_precision, epochs=self.epochs,
                            max_train=self.max_train, max_val=self.max_val,
                            train_batch=self.train_batch, bn_calibration=self.bn_calibration,
                            study=self.study_name, storage=self.storage,
                            runs_dir=self.runs_dir, heartbeat_s=self.heartbeat_s,
                            worker_index=self.worker_index, memory_check=self.memory_check)

    @property
    def run_dir(self) -> Path:
        """``runs/bench-<space>-<dataset>/``."""
        return self.search_config().run_dir

    @property
    def storage_url(self) -> str:
        """The study's storage (default ``sqlite:///runs/bench-…/study.db``)."""
        return self.search_config().storage_url

    def identity(self) -> dict[str, Any]:
        """The settings a resumed bench must share."""
        identity = {key: getattr(self, key) for key in _IDENTITY}
        for key in ("max_train", "max_val"):  # 0 and None: the whole split
            identity[key] = identity[key] or None
        if identity["bn_calibration"] is None:
            identity["bn_calibration"] = DEFAULT_BN_CALIBRATION
        identity["epochs"] = self.train_config().epochs  # recorded as resolved
        return identity

    def validate(self) -> None:
        """Raise :class:`SearchError` on bad settings, before anything is written."""
        self.search_config().validate()
        if isinstance(self.seeds, bool) or not 1 <= self.seeds <= 20:
            raise SearchError(f"--seeds must be between 1 and 20, got {self.seeds}")
        if not 2 <= self.passes <= 10:
            raise SearchError(f"--passes must be between 2 and 10, got {self.passes}")
        if self.sample is not None and not 1 <= self.sample <= 100_000:
            raise SearchError(f"--sample must be between 1 and 100000, got {self.sample}")
        from search_spaces import get_space

        size = get_space(self.space).size()
        if self.sample is None and size > MAX_ENUMERATE:
            raise SearchError(f"space {self.space!r} has {size:,} architectures, too many to "
                              f"evaluate all; add --sample N for a seeded sample of N")
        if self.sample is not None and self.sample > size:
            raise SearchError(f"--sample {self.sample} is larger than space {self.space!r} "
                              f"({size:,} architectures); drop --sample to evaluate them all")


def architectures(config: BenchConfig, shape: Any) -> list[str]:
    """The canonical strings the bench evaluates: the whole space in its stable order, or
    ``config.sample`` distinct ones drawn uniformly per choice with ``config.seed``."""
    from search_spaces import enumerate_space, get_space

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
    from search_spaces import DataShape

    recorded = study.user_attrs.get("config")
    if recorded is None:
        shape = DataShape(data.resolution, data.channels, len(data.classes))
        archs = architectures(config, shape)
        rng = np.random.default_rng(config.seed)
        for p in range(1, config.passes + 1):  # every pass in its own random order
            for index in rng.permutation(len(archs)):
                study.enqueue_trial({"index": int(index), "pass": p})
        study.set_user_attr("archs", archs)
        study.set_user_attr("shape", [shape.resolution, shape.channels, shape.classes])
        study.set_user_attr("n_val", len(data.y_val))
        study.set_user_attr("kind", KIND)
        study.set_user_attr("space", config.space)
        study.set_user_attr("dataset", config.dataset)
        study.set_user_attr("nasbench_version", __version__)
        where = {"study", "storage", "runs_dir", "worker_index", "threads"}
        study.set_user_attr("settings", {k: v for k, v in dataclasses.asdict(config).items()
                                         if k not in where})
        study.set_user_attr("config", config.identity())  # last: marks the study as complete
        return
    if study.user_attrs.get("kind") != KIND:
        raise SearchError(f"study {config.study_name!r} is a search, not a bench; use another "
                          f"--study name")
    recorded = {**_DEFAULTS_BEFORE, **recorded}
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
    passes = study.user_attrs["settings"]["passes"]
    missing = [(i, p) for p in range(1, passes + 1) for i in range(len(study.user_attrs["archs"]))
               if (i, p) not in covered]
    for index, bench_pass in missing:
        study.enqueue_trial({"index": index, "pass": bench_pass})
    return len(missing)


def bench_config_from_study(study: optuna.Study, storage: str, runs_dir: str, threads: int | None,
                            worker_index: int) -> BenchConfig:
    """The settings recorded on a bench study, for a worker that joins it."""
    settings = {**_DEFAULTS_BEFORE, **study.user_attrs["settings"]}
    settings.update(study=study.study_name, storage=storage, runs_dir=runs_dir,
                    worker_index=worker_index, **({"threads": threads} if threads else {}))
    known = {f.name for f in dataclasses.fields(BenchConfig)}
    return BenchConfig(**{k: v for k, v in settings.items() if k in known})


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
        self.measure_config = dataclasses.replace(config.search_config(), latency_precision=precision)
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
        from nasbench.build import build_model

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
        data = load_search_data(config.search_config())
    study = open_bench(config, data)
    with SafeInterrupts().installed() as interrupts:
        objective = BenchObjective(config, data, study.user_attrs["archs"], slot, interrupts,
                                   {"latency_precision": None, **study.user_attrs["settings"]})
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
    study = optuna.load_study(study_name=config.study_name,
                              storage=make_storage(config.storage_url, config.heartbeat_s))
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
    settings = study.user_attrs["settings"]
    seeds, passes = settings["seeds"], settings["passes"]
    by_arch: dict[str, dict[int, BenchRecord]] = {}
    for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        record = BenchRecord.from_trial(trial)
        by_arch.setdefault(record.arch, {})[record.bench_pass] = record
    rows = []
    for arch in study.user_attrs["archs"]:
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
    from nasbench.results import COLUMNS

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
    settings = study.user_attrs["settings"]
    n_val = study.user_attrs.get("n_val")
    if n_val is None:  # benches begun before it was recorded: the same seeded split again
        known = {f.name for f in dataclasses.fields(BenchConfig)}
        config = BenchConfig(**{k: v for k, v in settings.items() if k in known})
        n_val = len(load_search_data(config.search_config()).y_val)
    done = table[table["complete"]]
    return {"kind": "nasbench-bench", "version": 1, "study": study.study_name,
            "space": settings["space"], "dataset": settings["dataset"],
            "shape": study.user_attrs["shape"], "architectures": len(table),
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
    from nasbench.results import pareto_frame, results_frame

    if study.user_attrs.get("kind") == KIND:
        table = bench_table(study)
        return table, table[table["pareto"]].sort_values("latency_ms"), True
    frame = results_frame(study)
    return frame, pareto_frame(frame), False


def join_study(storage: str, study_name: str, runs_dir: str = "runs", threads: int | None = None,
               worker_index: int = 1, slot: QuietSlot | None = None,
               progress: Callable[[int, int], Callable[[optuna.Study, Any], None]] | None = None) -> None:
    """Work on an existing search or bench study until it is done (a worker, from this
    machine or another). ``progress(budget, done)`` makes a search's progress callback."""
    from nasbench.search import config_from_study, run_search

    config = config_from_study(storage, study_name, runs_dir, threads, worker_index)
    study = optuna.load_study(study_name=study_name, storage=make_storage(storage, config.heartbeat_s))
    if study.user_attrs.get("kind") == KIND:
        run_bench(bench_config_from_study(study, storage, runs_dir, threads, worker_index), slot=slot)
    else:
        run_search(config, callbacks=[progress(config.budget, 0)] if progress else [], slot=slot)
