"""The search: an Optuna multi-objective study (validation accuracy up, measured latency down).

Each trial samples an architecture from the space, counts its params and multiply-adds,
measures its latency, trains it briefly and returns ``(val_accuracy, latency_ms)``. Everything a
trial measured is stored on it (user attributes), so the storage is the single source of truth.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import re
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

import numpy as np
import optuna
import pandas as pd
from optuna.trial import TrialState

from nasbench import __version__
from nasbench.arch import Arch
from nasbench.build import build_model, count_params
from nasbench.data import DATASETS, DataSplits, load_dataset
from nasbench.flops import count_flops
from nasbench.latency import LatencyResult, measure_latency
from nasbench.memory import check_arch
from nasbench.env import check_device
from nasbench.interrupts import SafeInterrupts
from nasbench.pruners import DEFAULT_PRUNER, PRUNERS, ParetoPruner, make_pruner
from nasbench.quiet import QuietSlot, hold_exclusive
from nasbench.record import TrialRecord
from nasbench.rules import check_workers, default_threads, trial_counted, trial_measured
from nasbench.storage import (check_database, count_states, creation_lock, fail_dead_trials,
                              finished, last_finished, use_write_ahead_log)
from nasbench.results import engine_options, pareto_frame, results_frame, write_table
from nasbench.train import (DEFAULT_BN_CALIBRATION, TrainedSettings, epochs_before_calibration,
                            expected_seconds, train_model)

logger = logging.getLogger(__name__)

SAMPLERS: tuple[str, ...] = ("tpe", "nsga2", "random")
OBJECTIVES: tuple[str, ...] = ("val_acc", "latency_ms")
# Settings that must match when a study is resumed: a different value would mix experiments.
_IDENTITY_KEYS = ("space", "dataset", "data_dir", "resolution", "device", "latency_threads",
                  "epochs", "max_train", "max_val", "train_batch", "max_latency_ms", "max_params",
                  "max_macs", "pruner", "bn_calibration")
# Settings that studies made before they existed had, in effect.
_DEFAULTS_BEFORE = {"pruner": "none", "max_val": None, "train_batch": None, "bn_calibration": 0}
STUDY_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,99}")
"""What a study name may be: it names a folder and appears in commands to copy."""
# Names used by earlier versions in the settings recorded on a study, and today's names.
_RENAMED = {"max_flops": "max_macs"}


class SearchError(ValueError):
    """A search cannot start or go on; the message names the problem and the fix."""


@dataclass(frozen=True)
class SearchConfig(TrainedSettings):
    """Everything that defines a search; recorded on the study."""

    space: str = "mixed"
    dataset: str = "digits"
    data_dir: str | None = None
    resolution: int | None = None
    budget: int = 50
    sampler: str = "tpe"
    seed: int = 0
    device: str = "cpu"
    threads: int = dataclasses.field(default_factory=default_threads)
    latency_threads: int = 1
    latency_time_s: float = 0.15
    """Cap of each latency measurement in seconds (sampling stops sooner at ±2 %, see
    ``latency_precision``): ``benchmarks/latency_cap.py`` finds repeats spread as much at
    0.15 s as at 0.3 s on a shared host, whose drift, not the sample count, bounds them."""
    latency_precision: float | None = 0.02
    epochs: int | None = None
    max_train: int | None = None
    max_val: int | None = None
    train_batch: int | None = None
    study: str | None = None
    storage: str | None = None
    runs_dir: str = "runs"
    max_latency_ms: float | None = None
    max_params: int | None = None
    max_macs: int | None = None
    pruner: str | None = None
    """``pareto`` or ``none``; ``None``: the study's own (:data:`DEFAULT_PRUNER` for a new one)."""
    bn_calibration: int | None = None
    """Images that re-estimate BatchNorm statistics before each evaluation; ``None``: the
    study's own (:data:`nasbench.train.DEFAULT_BN_CALIBRATION` for a new one)."""
    latency_model: str | None = None
    """A latency model file (``latency-model fit``): with ``max_latency_ms``, a candidate
    predicted over the limit by more than the model's error is recorded infeasible untrained."""
    heartbeat_s: int = 10
    worker_index: int = 0
    memory_check: bool = True

    @property
    def study_name(self) -> str:
        """The study name: given, or stable from space, dataset, sampler and seed (resumable)."""
        return self.study or f"{self.space}-{self.dataset}-{self.sampler}-seed{self.seed}"

    @property
    def run_dir(self) -> Path:
        """Where this study's files go: ``runs/<study>/``."""
        return Path(self.runs_dir) / self.study_name

    @property
    def storage_url(self) -> str:
        """The storage URL (default ``sqlite:///runs/<study>/study.db``)."""
        return self.storage or f"sqlite:///{self.run_dir / 'study.db'}"

    def load_latency_model(self, shape: Any = None) -> Any:
        """The latency model of ``latency_model`` (``None`` without one), checked against this
        search: its space, the data ``shape`` when given, and the conditions latency is
        measured under here (:class:`SearchError` naming the difference)."""
        if self.latency_model is None:
            return None
        from nasbench.env import allocator_state, current_conditions
        from nasbench.latency_model import LatencyModelError, load_model

        try:
            model = load_model(self.latency_model)
            if model.space != self.space:
                raise LatencyModelError(f"the latency model is of space {model.space}, the search "
                                        f"of {self.space}; fit one with --space {self.space}")
            if shape is not None and tuple(model.shape) != (shape.resolution, shape.channels,
                                                            shape.classes):
                here = (shape.resolution, shape.channels, shape.classes)
                raise LatencyModelError(
                    f"the latency model was fitted for input {tuple(model.shape)} (resolution, "
                    f"channels, classes), the search's data is {here}; fit one with this "
                    f"--dataset and --resolution")
            model.check_conditions(current_conditions(self.device, self.latency_threads, 1,
                                                      "float32", "contiguous",
                                                      allocator_state()).to_dict())
        except LatencyModelError as exc:
            raise SearchError(str(exc)) from None
        return model

    def identity(self) -> dict[str, Any]:
        """The settings a resumed study must share."""
        identity = {key: getattr(self, key) for key in _IDENTITY_KEYS}
        for key in ("max_train", "max_val"):  # 0 and None: the whole split
            identity[key] = identity[key] or None
        return identity

    def settings(self) -> dict[str, Any]:
        """Everything a worker joining the study needs (not where the study lives)."""
        skip = {"study", "storage", "runs_dir", "worker_index", "threads"}
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in skip}

    def validate(self) -> None:
        """Raise :class:`SearchError` on bad settings, before anything is written."""
        from search_spaces import SPACES

        if isinstance(self.budget, bool) or not isinstance(self.budget, int) or not 1 <= self.budget <= 100_000:
            raise SearchError(f"--budget must be a whole number of trials between 1 and 100000, "
                              f"got {self.budget}")
        if self.space not in SPACES:
            raise SearchError(f"unknown space {self.space!r}; choose one of {', '.join(SPACES)} "
                              f"(see: python cli.py spaces)")
        if self.pruner is not None and self.pruner not in PRUNERS:
            raise SearchError(f"unknown pruner {self.pruner!r}; choose one of {', '.join(PRUNERS)}")
        if self.sampler not in SAMPLERS:
            raise SearchError(f"unknown sampler {self.sampler!r}; choose one of {', '.join(SAMPLERS)}")
        if self.dataset not in DATASETS:
            raise SearchError(f"unknown dataset {self.dataset!r}; choose one of {', '.join(DATASETS)}")
        try:
            check_device(self.device)
        except ValueError as exc:
            raise SearchError(str(exc)) from None
        if not 1 <= self.heartbeat_s <= 3600:
            raise SearchError(f"--heartbeat must be between 1 and 3600 seconds, got {self.heartbeat_s}")
        if self.threads < 1 or self.latency_threads < 1:
            raise SearchError("--threads and --latency-threads must be at least 1")
        if self.epochs is not None and not 1 <= self.epochs <= 1000:
            raise SearchError(f"--epochs must be between 1 and 1000, got {self.epochs}")
        if self.train_batch is not None and not 2 <= self.train_batch <= 65536:
            raise SearchError(f"--train-batch must be between 2 and 65536, got {self.train_batch}")
        if self.latency_model is not None:
            if self.max_latency_ms is None:
                raise SearchError("--latency-model needs --max-latency-ms: it skips candidates "
                                  "predicted over that limit; add the limit or drop the model")
            self.load_latency_model()
        if self.bn_calibration is not None and not 0 <= self.bn_calibration <= 1_000_000:
            raise SearchError(f"--bn-calibration must be between 0 and 1000000 images, "
                              f"got {self.bn_calibration}")
        for name in ("max_latency_ms", "max_params", "max_macs"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise SearchError(f"--{name.replace('_', '-')} must be positive, got {value}")
        if self.study is not None and not STUDY_NAME.fullmatch(self.study):
            raise SearchError(f"--study must be a plain name of letters, digits, '.', '_' and '-' "
                              f"(at most 100, not starting with '.' or '-'), got {self.study!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < 2 ** 31:
            raise SearchError(f"--seed must be a whole number from 0 to 2147483647, got {self.seed}")


@dataclass(frozen=True)
class SearchOutcome:
    """Where a finished (or stopped) search left its results."""

    study_name: str
    storage: str
    run_dir: Path
    results_csv: Path | None
    complete: int
    failed: int
    table: pd.DataFrame = dataclasses.field(repr=False, default_factory=pd.DataFrame)
    n_val: int | None = None
    confirm_s: float | None = None
    """Seconds the end-of-search confirmation took (``None``: not confirmed in this call)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary: the study, the counts, the table's path and the front."""
        front = pareto_frame(self.table) if not self.table.empty else self.table
        columns = ["number", "val_acc", "val_acc_ci_low", "val_acc_ci_high", "latency_ms",
                   "latency_ci_low_ms", "latency_ci_high_ms", "confirmed", "params", "macs", "arch"]
        return {"study": self.study_name, "storage": self.storage, "complete": self.complete,
                "failed": self.failed, "results_csv": str(self.results_csv),
                "pareto_front": front[columns].to_dict(orient="records") if not front.empty else [],
                "within_noise": ([int(n) for n in self.table.loc[self.table["pareto_noise"].astype(bool)
                                                                 & ~self.table["pareto"].astype(bool), "number"]]
                                 if not self.table.empty else []),
                "confirm_s": self.confirm_s}


def make_sampler(name: str, seed: int) -> optuna.samplers.BaseSampler:
    """The Optuna sampler for ``name`` (constraints come from ``trial.set_constraint``)."""
    if name == "tpe":
        with warnings.catch_warnings():  # multivariate/group are "experimental" in Optuna
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True,
                                              n_startup_trials=10)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=20)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise SearchError(f"unknown sampler {name!r}; choose one of {', '.join(SAMPLERS)}")


def sampler_seed(config: SearchConfig, existing: int) -> int:
    """The sampler seed of a process whose first trial is number ``existing`` (the trials the
    study held when it joined; see :class:`ProcessSampler`).

    Each worker (``worker_index``) and each resume (a study that already holds trials) gets
    its own stream, so it continues the exploration instead of drawing the same architectures
    again; a search from scratch (no trials, worker 0) is seeded by ``seed`` alone, as before.
    """
    return (config.seed + 7919 * config.worker_index + 104_729 * existing) % (2 ** 32)


class ProcessSampler(optuna.samplers.BaseSampler):
    """The sampler of one process on a study, seeded when it draws its first trial:
    ``sampler_seed(config, n)`` with ``n`` that trial's number, i.e. the trials the study held.

    So a search from scratch draws as it always has (first trial 0, seed ``--seed``), a resume
    continues the exploration, and two processes that join a study at the same moment still
    draw different architectures (their first trials have different numbers).
    """

    def __init__(self, config: SearchConfig) -> None:
        self.config = config
        self.inner: optuna.samplers.BaseSampler | None = None

    def _sampler(self) -> optuna.samplers.BaseSampler:
        if self.inner is None:  # before_trial was not called (e.g. Optuna internals): seed 0
            self.inner = make_sampler(self.config.sampler, sampler_seed(self.config, 0))
        return self.inner

    def before_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if self.inner is None:
            self.inner = make_sampler(self.config.sampler, sampler_seed(self.config, trial.number))
        self.inner.before_trial(study, trial)

    def infer_relative_search_space(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
        return self._sampler().infer_relative_search_space(study, trial)

    def sample_relative(self, study: optuna.Study, trial: optuna.trial.FrozenTrial,
                        search_space: dict[str, Any]) -> dict[str, Any]:
        return self._sampler().sample_relative(study, trial, search_space)

    def sample_independent(self, study: optuna.Study, trial: optuna.trial.FrozenTrial,
                           param_name: str, param_distribution: Any) -> Any:
        return self._sampler().sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial, state: TrialState,
                    values: Sequence[float] | None) -> None:
        self._sampler().after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self._sampler().reseed_rng()


def complete_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The study's complete trials (not copied)."""
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def evaluated(study: optuna.Study,
              trials: Sequence[optuna.trial.FrozenTrial] | None = None) -> int:
    """Architectures the study has evaluated: complete trials that are not reuses of an
    earlier trial's result. This is what ``--budget`` counts. ``trials``: the study's trials
    when just read (saves a read)."""
    if trials is None:
        trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return sum(1 for t in trials if trial_measured(t))


def make_storage(url: str, heartbeat_s: int) -> optuna.storages.RDBStorage:
    """An RDB storage with heartbeats: a trial whose worker died (no heartbeat for 3 intervals)
    is failed by the next worker and its architecture retried (twice at most)."""
    if not url.startswith(("sqlite:///", "postgresql://", "postgresql+psycopg://",
                          "postgresql+psycopg2://", "mysql")):
        raise SearchError(f"unsupported storage URL {url!r}; use sqlite:///path/study.db or "
                          f"postgresql://user:password@host/database")
    engine_kwargs = engine_options(url)
    with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        storage = optuna.storages.RDBStorage(
            url, engine_kwargs=engine_kwargs, heartbeat_interval=heartbeat_s,
            grace_period=3 * heartbeat_s,
            heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=2))
    if url.startswith("sqlite"):
        use_write_ahead_log(storage.engine)
    return storage


def open_storage_study(url: str, name: str, heartbeat_s: int, directions: list[str],
                       sampler: optuna.samplers.BaseSampler, run_dir: Path | None,
                       set_up: Callable[[optuna.Study], None]) -> optuna.Study:
    """Create or load study ``name`` in the storage at ``url`` (making ``run_dir`` first for
    the default SQLite file), then ``set_up(study)`` (record or check its settings), all under
    the study's creation lock so that processes starting one new study at once see it whole.
    Every storage failure becomes a :class:`SearchError`."""
    if run_dir is not None:
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SearchError(f"cannot create {run_dir} ({exc.strerror}); choose a writable "
                              f"--runs-dir") from None
        if not os.access(run_dir, os.W_OK):
            raise SearchError(f"{run_dir} is not writable; choose a writable --runs-dir")
    try:
        with creation_lock(url, name):
            try:
                check_database(url)  # never write into a damaged database
            except ValueError as exc:
                raise SearchError(str(exc)) from None
            for attempt in range(3):  # two studies' first use of one new PostgreSQL database
                try:                  # can collide in Optuna's schema set-up
                    study = optuna.create_study(study_name=name, storage=make_storage(url, heartbeat_s),
                                                directions=directions, sampler=sampler,
                                                load_if_exists=True)
                    break
                except Exception as exc:
                    if attempt == 2 or not any(w in str(exc) for w in ("already exists", "UNIQUE",
                                                                       "duplicate key")):
                        raise
                    time.sleep(0.5)
            set_up(study)
            return study
    except SearchError:
        raise
    except ImportError:
        raise SearchError(f"no database driver for {url.split(':', 1)[0]}; "
                          f"pip install 'psycopg[binary]' (PostgreSQL) or use sqlite:///") from None
    except Exception as exc:  # storage errors come in many types (SQLAlchemy, OS, Optuna)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise SearchError(f"cannot open storage {url}: {type(exc).__name__}: "
                          f"{first[:200]}; check --storage") from None


def open_study(config: SearchConfig) -> optuna.Study:
    """Create or resume the study of ``config``; refuses one made with other settings."""
    return open_storage_study(config.storage_url, config.study_name, config.heartbeat_s,
                              directions=["maximize", "minimize"],
                              sampler=make_sampler(config.sampler, sampler_seed(config, 0)),
                              run_dir=None if config.storage else config.run_dir,
                              set_up=lambda study: _set_up_search(study, config))


def _set_up_search(study: optuna.Study, config: SearchConfig) -> None:
    """Record the settings on a new search study, or check them against a resumed one."""
    if study.user_attrs.get("kind", "search") != "search":
        raise SearchError(f"study {config.study_name!r} is a {study.user_attrs['kind']}, not a "
                          f"search; use another --study name")
    recorded = upgrade_settings(study.user_attrs.get("config"))
    if recorded is None:
        with warnings.catch_warnings():  # set_metric_names is "experimental" in Optuna
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(list(OBJECTIVES))
        study.set_user_attr("kind", "search")
        study.set_user_attr("space", config.space)
        study.set_user_attr("dataset", config.dataset)
        study.set_user_attr("objectives", list(OBJECTIVES))
        study.set_user_attr("nasbench_version", __version__)
        own = _study_own(config, {})
        study.set_user_attr("settings", {**config.settings(), **own})
        study.set_user_attr("config", {**config.identity(), **own})  # last: set up
        return
    recorded = {**recorded, "epochs": _study_own(dataclasses.replace(config, epochs=None),
                                                 recorded)["epochs"]}
    left = {*_STUDY_OWN, "epochs"}  # None: the study's own
    differing = [k for k, v in config.identity().items()
                 if recorded.get(k) != v and not (k in left and v is None)]
    if differing:
        detail = ", ".join(f"{k}={recorded.get(k)!r} (now {getattr(config, k)!r})" for k in differing)
        raise SearchError(f"study {config.study_name!r} was made with other settings: {detail}; "
                          f"use another --study name or the original settings")
    if study.user_attrs.get("settings", {}).get("budget") != config.budget and config.worker_index == 0:
        study.set_user_attr("settings", {**config.settings(), **_study_own(config, recorded)})  # a
        # new budget extends the study


_STUDY_OWN = {"pruner": DEFAULT_PRUNER, "bn_calibration": DEFAULT_BN_CALIBRATION}
"""Settings that ``None`` leaves to the study: a resumed study keeps its own, a new one gets
these defaults (so that the same command resumes a study made before a default changed)."""


def _study_own(config: SearchConfig, recorded: dict[str, Any]) -> dict[str, Any]:
    """The values of :data:`_STUDY_OWN` settings and of ``epochs``: given, else recorded (what
    it meant when recorded), else today's default."""
    own = {}
    for key, default in _STUDY_OWN.items():
        value = getattr(config, key)
        own[key] = value if value is not None else recorded.get(key, default)
    if config.epochs is not None:
        own["epochs"] = config.epochs
    elif recorded:  # a study made before calibration recorded None: the dataset's default then
        own["epochs"] = recorded.get("epochs") or epochs_before_calibration(config.dataset)
    else:
        own["epochs"] = config.train_config().epochs
    return own


def settled(config: SearchConfig, study: optuna.Study) -> SearchConfig:
    """``config`` with what it left to the study filled in from it (pruner, BatchNorm
    calibration)."""
    recorded = upgrade_settings(study.user_attrs.get("config")) or {}
    return dataclasses.replace(config, **_study_own(config, recorded))


def upgrade_settings(recorded: dict[str, Any] | None) -> dict[str, Any] | None:
    """Settings recorded on a study by any nasbench version, under today's names."""
    if recorded is None:
        return None
    known = {f.name for f in dataclasses.fields(SearchConfig)}
    upgraded = {_RENAMED.get(k, k): v for k, v in recorded.items() if _RENAMED.get(k, k) in known}
    return {**_DEFAULTS_BEFORE, **upgraded}


def config_from_study(storage: str, study_name: str, runs_dir: str = "runs",
                      threads: int | None = None, worker_index: int = 1) -> SearchConfig:
    """The search settings recorded on an existing study, for a worker that joins it."""
    try:
        names = optuna.get_all_study_names(make_storage(storage, 10))
    except SearchError:
        raise
    except Exception as exc:
        raise SearchError(f"cannot open storage {storage}: {type(exc).__name__}; check --storage") from None
    if study_name not in names:
        raise SearchError(f"no study {study_name!r} in {storage} (it holds: {', '.join(names) or 'none'}); "
                          f"start it with python cli.py search --storage … --study {study_name}")
    summary = optuna.load_study(study_name=study_name, storage=make_storage(storage, 10))
    settings = upgrade_settings(summary.user_attrs.get("settings"))
    if not settings:
        raise SearchError(f"study {study_name!r} was not made by nasbench search; start one with "
                          f"python cli.py search --storage … --study NAME")
    changes = {"study": study_name, "storage": storage, "runs_dir": runs_dir,
               "worker_index": worker_index}
    if threads is not None:
        changes["threads"] = threads
    return SearchConfig(**settings, **changes)


@dataclass(frozen=True)
class Measured:
    """An architecture built, counted and timed as a search trial does it."""

    model: Any
    params: int
    macs: int
    latency: LatencyResult
    seconds: float


def measure_arch(arch: Arch, data: DataSplits, config: SearchConfig, seed: int,
                 slot: QuietSlot | None = None) -> Measured:
    """Build ``arch`` (weights from ``seed``), count its params and multiply-adds, and time it
    with ``config``'s latency settings, holding the quiet ``slot`` alone while timing."""
    start = time.perf_counter()
    if config.memory_check:  # the trial fails with the reason instead of exhausting the machine
        check_arch(arch, config.train_config().batch_size,
                   training=True, device=config.device)
    model = build_model(arch, seed=seed)
    shape = (data.channels, data.resolution, data.resolution)
    params = count_params(model)
    macs = count_flops(model, (1, *shape), module_depth=0).total
    with hold_exclusive(slot):  # no training on this machine while we time
        latency = measure_latency(model, shape, device=config.device,
                                  threads=config.latency_threads, min_time_s=config.latency_time_s,
                                  warmup_s=0.05, precision=config.latency_precision)
    return Measured(model, params, macs, latency, time.perf_counter() - start)


@dataclass(frozen=True)
class Trained:
    """What training gave: validation accuracy after each epoch, and the seconds it took."""

    val_acc_per_epoch: tuple[float, ...]
    train_time_s: float


class StopEarly(Exception):
    """Raised from a trial's epoch report when the pruner stops it; ``seconds`` is the training
    time spent so far (set by the evaluator)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.seconds = 0.0


class Evaluator(Protocol):
    """How a trial gets its figures: :class:`LocalEvaluator` trains and times for real;
    :class:`nasbench.replay.TableEvaluator` looks them up in a bench table."""

    def measure(self, arch: Arch, seed: int) -> Measured:
        """Build, count and time ``arch``."""
        ...

    def train(self, arch: Arch, measured: Measured, seed: int,
              on_epoch: Callable[[int, float], None]) -> Trained:
        """Train it, reporting validation accuracy after each epoch (``on_epoch`` may raise)."""
        ...


class LocalEvaluator:
    """Trains and times on this machine, holding the quiet ``slot`` as it goes."""

    def __init__(self, config: SearchConfig, data: DataSplits, slot: QuietSlot | None = None,
                 interrupts: SafeInterrupts | None = None) -> None:
        self.config, self.data, self.slot = config, data, slot
        self.interrupts = interrupts or SafeInterrupts()
        self.train_config = config.train_config()

    def measure(self, arch: Arch, seed: int) -> Measured:
        """See :func:`measure_arch` (Ctrl-C stops it at once)."""
        with self.interrupts.allowed():
            return measure_arch(arch, self.data, self.config, seed, self.slot)

    def train(self, arch: Arch, measured: Measured, seed: int,
              on_epoch: Callable[[int, float], None]) -> Trained:
        """Proxy training of the measured model (see :func:`nasbench.train.train_model`);
        Ctrl-C stops it at once, but not in the middle of ``on_epoch``'s storage write."""
        start = time.perf_counter()
        try:
            with self.interrupts.allowed():
                result = train_model(measured.model, self.data, self.train_config, seed=seed,
                                     device=self.config.device, threads=self.config.threads,
                                     on_epoch=self.interrupts.held(on_epoch), slot=self.slot)
        except StopEarly as stop:
            stop.seconds = time.perf_counter() - start
            raise
        return Trained(result.val_accuracy_per_epoch, result.train_time_s)


RECALIBRATE_S = 30.0
"""Seconds between two timings of the latency model's reference architecture in a search."""


class Objective:
    """The trial function: sample, count, measure, train; stores a :class:`TrialRecord` on
    the trial. The figures come from ``evaluator`` (real, or a bench table in a replay)."""

    def __init__(self, config: SearchConfig, shape: Any, evaluator: Evaluator,
                 pruner: ParetoPruner | None = None) -> None:
        from search_spaces import get_space

        self.config = config
        self.shape = shape
        self.evaluator = evaluator
        self.pruner = pruner
        self.space = get_space(config.space)
        self.epochs = config.train_config().epochs
        self.latency_model = config.load_latency_model(shape)
        self._calibrated_at = -math.inf

    def _predict(self, arch: Arch) -> float | None:
        """The latency model's prediction for ``arch`` (``None`` without a model, or for an
        architecture with a part the model never measured: it is then measured as usual)."""
        if self.latency_model is None:
            return None
        from nasbench.latency_model import LatencyModelError

        if time.perf_counter() - self._calibrated_at > RECALIBRATE_S:  # follow the host's speed
            scale = self.latency_model.calibrate(self.latency_model.settings(),  # checked at load
                                                 getattr(self.evaluator, "slot", None))
            self._calibrated_at = time.perf_counter()
            logger.info("latency model: host speed now x%.3f of the fit's", scale)
        try:
            return self.latency_model.predict(arch)
        except LatencyModelError as exc:
            logger.info("no prediction: %s", exc)
            return None

    def _constraints(self, params: int, macs: int, latency_ms: float) -> dict[str, float]:
        c = self.config
        limits = {"latency_ms": (latency_ms, c.max_latency_ms), "params": (params, c.max_params),
                  "macs": (macs, c.max_macs)}
        return {k: float(v - limit) for k, (v, limit) in limits.items() if limit is not None}

    def _reuse(self, trial: optuna.Trial, arch: str,
               others: Sequence[optuna.trial.FrozenTrial]) -> tuple[float, float] | None:
        for other in others:
            if (other.state == TrialState.COMPLETE and other.user_attrs.get("arch") == arch
                    and other.number != trial.number):
                earlier = TrialRecord.from_trial(other)
                copy = dataclasses.replace(earlier.measured(), measure_time_s=0.0,
                                           reused_from=earlier.reused_from if earlier.reused_from
                                           is not None else other.number)
                copy.save(trial)
                for key, value in other.constraints.items():
                    trial.set_constraint(key, value)
                logger.info("trial %d: %s already evaluated in trial %d, reused", trial.number,
                            arch, other.number)
                assert other.values is not None
                return other.values[0], other.values[1]
        return None

    def __call__(self, trial: optuna.Trial) -> tuple[float, float]:
        try:
            others = trial.study.get_trials(deepcopy=False,  # one read for both questions
                                            states=(TrialState.COMPLETE, TrialState.RUNNING))
            self._check_budget(trial, others)
            return self._run(trial, others)
        except optuna.TrialPruned:
            raise
        except KeyboardInterrupt:
            TrialRecord(fail_reason="interrupted by the user (Ctrl-C); not retried").save(trial)
            raise
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
            TrialRecord(fail_reason=reason).save(trial)
            logger.warning("trial %d failed: %s", trial.number, reason)
            raise

    def _check_budget(self, trial: optuna.Trial, others: Sequence[optuna.trial.FrozenTrial]) -> None:
        """With several workers, two can start the last trial at once: the later one stops.
        ``others``: the study's complete and running trials."""
        ahead = sum(t.number < trial.number and trial_counted(t) for t in others)
        if ahead >= self.config.budget:
            TrialRecord(note="not run: other workers reached the budget").save(trial)
            raise optuna.TrialPruned("budget reached by other workers")

    def _run(self, trial: optuna.Trial,
             others: Sequence[optuna.trial.FrozenTrial]) -> tuple[float, float]:
        arch = self.space.sample(trial, self.shape)
        key = arch.to_string()
        TrialRecord(arch=key).save(trial)
        reused = self._reuse(trial, key, others)
        if reused is not None:
            return reused
        predicted = self._predict(arch)
        if predicted is not None:
            TrialRecord(latency_predicted_ms=predicted).save(trial)
            limit = self.config.max_latency_ms
            assert limit is not None
            if predicted > limit * (1 + self.latency_model.error):
                TrialRecord(predicted_only=True).save(trial)
                for name, value in self._constraints(0, 0, predicted).items():
                    trial.set_constraint(name, value if name == "latency_ms" else 0.0)
                logger.info("trial %d: predicted %.3f ms, over %.3f ms by more than the model's "
                            "error: not trained", trial.number, predicted, limit)
                return 0.0, predicted  # infeasible: never on a front, not in the budget
        seed = self.config.seed + trial.number
        measured = self.evaluator.measure(arch, seed)
        latency = measured.latency
        if predicted is not None:  # what is measured now sets the level of later predictions
            assert self.latency_model is not None
            level = self.latency_model.observe(arch, latency.median_ms)
            logger.info("latency model: predicted %.3f ms, measured %.3f ms; level now x%.3f",
                        predicted, latency.median_ms, level)
        TrialRecord(params=measured.params, macs=measured.macs, latency=latency,
                    measure_time_s=measured.seconds).save(trial)
        for name, value in self._constraints(measured.params, measured.macs, latency.median_ms).items():
            trial.set_constraint(name, value)
        epochs: list[float] = []

        def on_epoch(epoch: int, accuracy: float) -> None:
            epochs.append(accuracy)
            TrialRecord(val_acc_per_epoch=tuple(epochs)).save(trial)
            if self.pruner is not None and epoch + 1 < self.epochs:
                reason = self.pruner.check(trial.study, trial)
                if reason is not None:
                    raise StopEarly(reason)

        try:
            trained = self.evaluator.train(arch, measured, seed, on_epoch)
        except StopEarly as stop:  # a complete trial, its accuracy that of its last epoch
            TrialRecord(train_time_s=stop.seconds, stopped_early=True,
                        stop_reason=stop.reason).save(trial)
            return epochs[-1], latency.median_ms
        TrialRecord(train_time_s=trained.train_time_s, stopped_early=False).save(trial)
        return trained.val_acc_per_epoch[-1], latency.median_ms


class UniformDraw:
    """A stand-in for an Optuna trial that draws each choice uniformly from a seeded generator:
    how ``bench --sample`` draws from a space, and how the duration estimate picks models."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        """One of ``choices``, uniformly."""
        return choices[int(self.rng.integers(len(choices)))]


def expected_trial_seconds(config: SearchConfig, data: DataSplits, models: int = 3) -> float:
    """The expected seconds of one fully trained trial of ``config`` on ``data``: a few timed
    training steps of ``models`` architectures drawn from the space (see
    :func:`nasbench.train.expected_seconds`). Printed before a search on a real dataset starts."""
    from search_spaces import DataShape, get_space

    space = get_space(config.space)
    shape = DataShape(data.resolution, data.channels, len(data.classes))
    rng = np.random.default_rng(config.seed)
    built = [build_model(space.sample(UniformDraw(rng), shape), seed=config.seed) for _ in range(models)]
    return expected_seconds(built, data, config.train_config(),
                            threads=config.threads)


def load_search_data(config: SearchConfig) -> DataSplits:
    """The dataset of ``config`` (:class:`SearchError` on bad data or device; writes nothing
    but the decoded-image cache)."""
    config.validate()
    try:
        data = load_dataset(config.dataset, config.data_dir, config.resolution, seed=config.seed,
                            cache_dir=Path(config.runs_dir) / ".cache", max_train=config.max_train,
                            max_val=config.max_val,
                            memory_check=config.memory_check)
    except ValueError as exc:
        raise SearchError(str(exc)) from None
    if config.latency_model is not None:  # before any study is written
        from search_spaces import DataShape

        config.load_latency_model(DataShape(data.resolution, data.channels, len(data.classes)))
    return data


Callback = Callable[[optuna.Study, optuna.trial.FrozenTrial], None]


REPEATS_BEFORE_EXHAUSTED = 200
"""Draws in a row of architectures the study already has (or, with a latency model, predicted
over the limit) after which a search stops with an error: at least this, or 10 × the budget."""


def drive(study: optuna.Study, objective: Objective, config: SearchConfig,
          callbacks: Sequence[Callback] = (), max_failures: int | None = None,
          interrupts: SafeInterrupts | None = None) -> None:
    """Run trials of ``objective`` on ``study`` until ``config.budget`` architectures are
    evaluated (by every process working on it), the space is exhausted, or too many fail.

    Trials of dead workers are failed and retried; a draw of an architecture the study already
    has is reused and not counted. Raises :class:`SearchError` after ``max_failures`` failures
    in this call (default: the budget, at least 5) or when the sampler only draws known
    architectures (:data:`REPEATS_BEFORE_EXHAUSTED` or 10 × budget in a row, the larger).
    """
    max_failures = max_failures if max_failures is not None else max(5, config.budget)
    space_size = objective.space.size()
    max_repeats = max(REPEATS_BEFORE_EXHAUSTED, 10 * config.budget)
    failures = repeats = rejected = 0
    while True:
        fail_dead_trials(study)  # dead workers' trials: failed, retried
        done, running = evaluated(study), count_states(study).get("RUNNING", 0)
        if done >= config.budget or done >= space_size:
            return
        if done + running >= config.budget:  # the rest is in flight in other workers
            time.sleep(0.5)
            if interrupts is not None:
                interrupts.check()
            continue
        before = count_states(study).get("FAIL", 0)
        study.optimize(objective, n_trials=1, catch=(Exception,), callbacks=list(callbacks),
                       gc_after_trial=False)
        if interrupts is not None:
            interrupts.check()  # a Ctrl-C held during the trial's last writes: stop here
        failures += count_states(study).get("FAIL", 0) - before
        if failures >= max_failures:
            last = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.FAIL][-1]
            raise SearchError(f"{failures} trials failed in this run (last: "
                              f"{last.user_attrs.get('fail_reason', 'unknown')}); fix the cause "
                              f"and run the same command again to resume")
        trials = study.get_trials(deepcopy=False)
        if (objective.latency_model is not None and trials
                and trials[-1].user_attrs.get("predicted_only")):
            rejected += 1
            if rejected >= max_repeats:
                raise SearchError(f"the latency model predicted {rejected} draws in a row over "
                                  f"--max-latency-ms {config.max_latency_ms}: few architectures "
                                  f"of the space can meet it; raise the limit")
            continue
        rejected = 0
        repeats = repeats + 1 if evaluated(study, trials) == done else 0
        if repeats >= max_repeats:
            raise SearchError(f"the sampler drew {repeats} architectures in a row that the study "
                              f"had already evaluated ({done} distinct so far): the space is "
                              f"nearly exhausted; lower --budget or choose a larger --space")


def run_search(config: SearchConfig, callbacks: Sequence[Callback] = (),
               data: DataSplits | None = None, max_failures: int | None = None,
               slot: QuietSlot | None = None) -> SearchOutcome:
    """Run (or resume) the search until ``config.budget`` trials are complete.

    ``slot``: the machine's quiet slot (``QuietSlot()``), so that latency measurements and
    training in other nasbench processes on this machine do not overlap; ``None`` coordinates
    with no one.

    Failed trials are recorded with their reason and the search goes on; it stops with a
    :class:`SearchError` after ``max_failures`` failures in this call (default: the budget,
    at least 5). Ctrl-C leaves the study intact: run again to resume.
    """
    config.validate()
    if data is None:
        data = load_search_data(config)
    study = open_study(config)
    config = settled(config, study)
    if "n_val" not in study.user_attrs:  # the accuracy intervals' sample size
        study.set_user_attr("n_val", len(data.y_val))
    study.sampler = ProcessSampler(config)
    from search_spaces import DataShape

    shape = DataShape(data.resolution, data.channels, len(data.classes))
    pruner = make_pruner(config.pruner, len(data.y_val))
    with SafeInterrupts().installed() as interrupts:
        drive(study, Objective(config, shape, LocalEvaluator(config, data, slot, interrupts), pruner),
              config, callbacks, max_failures, interrupts)
    return finish_search(config)


def run_workers(config: Any, workers: int, study: optuna.Study, finish: Callable[[], Any],
                on_progress: Callback | None = None, poll_s: float = 1.0) -> Any:
    """Work on ``study`` (a search's or a bench's) with ``workers`` processes on this machine.

    Each worker is ``python -m nasbench worker`` (so this works from an installed package),
    with ``config.threads // workers`` training threads. ``on_progress(study, trial)`` is
    called when a trial finishes; ``finish()`` gives the result once all workers are done.
    Ctrl-C is passed on to the workers, which leave the study intact, and raised again here.
    Raises :class:`SearchError` when a worker fails.
    """
    import signal
    import subprocess
    import sys

    try:
        check_workers(workers)
    except ValueError as exc:
        raise SearchError(str(exc)) from None
    storage = config.storage_url
    if storage.startswith("sqlite:///") and not storage.startswith("sqlite:////"):
        storage = "sqlite:///" + str(Path(storage[len("sqlite:///"):]).resolve())
    threads = max(1, config.threads // workers)
    procs = [subprocess.Popen([sys.executable, "-m", "nasbench", "worker", "--storage", storage,
                               "--study", config.study_name, "--runs-dir", config.runs_dir,
                               "--threads", str(threads), "--worker-index", str(i + 1), "--quiet"])
             for i in range(workers)]
    seen = -1
    try:
        while any(p.poll() is None for p in procs):
            done = finished(count_states(study))  # one SQL count, not every trial
            if on_progress is not None and done and done != seen:
                seen = done
                last = last_finished(study)
                if last is not None:
                    on_progress(study, last)
            time.sleep(poll_s)
    except KeyboardInterrupt:
        for p in procs:
            p.send_signal(signal.SIGINT)
        for p in procs:
            p.wait()
        raise
    bad = [p.returncode for p in procs if p.returncode != 0]
    if bad:
        raise SearchError(f"{len(bad)} worker(s) exited with an error (codes {bad}); run the same "
                          f"command again to resume")
    return finish()


def finish_search(config: SearchConfig) -> SearchOutcome:
    """Write ``results.csv`` of the study and say where everything is."""
    return outcome_of(open_study(config), config.storage_url, config.run_dir)


def outcome_of(study: optuna.Study, storage: str, run_dir: Path) -> SearchOutcome:
    """The results table of the search ``study``, written to ``run_dir/results.csv`` (a
    warning, not an error, when the folder cannot be written)."""
    counts = count_states(study)
    table = results_frame(study)
    results_csv = None
    try:
        results_csv = write_table(table, run_dir / "results.csv")
    except OSError as exc:
        logger.warning("could not write results.csv: %s", exc)
    return SearchOutcome(study.study_name, storage, run_dir, results_csv,
                         counts.get("COMPLETE", 0), counts.get("FAIL", 0), table,
                         n_val=study.user_attrs.get("n_val"))
