"""The settings of a study: what a search and a bench share, declared once in
:class:`StudySettings`, and what each adds (:class:`SearchConfig`, :class:`BenchConfig`).

Each is recorded on its study (:class:`nasbench.study.study_record.StudyRecord`); a worker joining a
study, ``confirm`` and the bench's table rebuild theirs from it with :func:`search_config_of`
and :func:`bench_config_of`, the one way to do so.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from nasbench.train.recipe import DATASETS
from nasbench.measure.conditions import check_device, check_threads
from nasbench.errors import SearchError
from nasbench.measure.stats import CLOCKS, DEFAULT_CLOCK
from nasbench.study.rules import STUDY_NAME, check_study_name
from nasbench.study.pruners import PRUNERS
from nasbench.study.samplers import SAMPLERS
from nasbench.study.study_record import StudyRecord
from nasbench.train.threads import ThreadGovernor, governor
from nasbench.train.recipe import DEFAULT_BN_CALIBRATION, TrainedSettings
from search_spaces import SPACES, get_space

__all__ = ["BenchConfig", "MAX_ENUMERATE", "OBJECTIVES", "STUDY_NAME", "SearchConfig",
           "SearchError", "StudySettings", "bench_config_of", "search_config_of",
           "upgrade_settings"]

OBJECTIVES: tuple[str, ...] = ("val_acc", "latency_ms")
MAX_ENUMERATE = 20_000
"""The most architectures a bench evaluates without ``--sample``."""
_WHERE = frozenset({"study", "storage", "runs_dir", "worker_index", "threads", "max_threads"})
"""Settings of one process, not of the study: never recorded on it."""


@dataclass(frozen=True)
class StudySettings(TrainedSettings):
    """What every study (a search's, a bench's) is defined by: the data, the training proxy,
    the device and latency protocol, and where the study lives."""

    space: str = "mixed"
    dataset: str = "digits"
    data_dir: str | None = None
    resolution: int | None = None
    epochs: int | None = None
    max_train: int | None = None
    max_val: int | None = None
    train_batch: int | None = None
    bn_calibration: int | None = None
    """Images that re-estimate BatchNorm statistics before each evaluation; ``None``: the
    study's own (:data:`nasbench.train.recipe.DEFAULT_BN_CALIBRATION` for a new one)."""
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None
    """CPU threads for training, fixed; ``None``: as many as the host's load lets run without
    waiting, up to ``max_threads`` (:mod:`nasbench.train.threads`)."""
    max_threads: int | None = None
    """The most training threads when ``threads`` is ``None`` (default: the usable cores; each
    of ``--workers N`` gets its share)."""
    latency_threads: int = 1
    latency_time_s: float = 0.15
    """Cap of each latency measurement in seconds (sampling stops sooner at ±2 %, see
    ``latency_precision``): ``benchmarks/latency_cap.py`` finds repeats spread as much at
    0.15 s as at 0.3 s on a shared host, whose drift, not the sample count, bounds them."""
    latency_precision: float | None = 0.02
    latency_clock: str | None = None
    """``cpu`` or ``wall`` (:data:`nasbench.measure.latency.CLOCKS`); ``None``: the study's own
    (``cpu`` for a new one, ``wall`` for one made before the clock was a setting)."""
    study: str | None = None
    storage: str | None = None
    runs_dir: str = "runs"
    heartbeat_s: int = 10
    worker_index: int = 0
    memory_check: bool = True

    IDENTITY: ClassVar[tuple[str, ...]] = ()
    """The settings a resumed study must share."""

    @property
    def study_name(self) -> str:
        """The study name: given, or a stable default (resumable)."""
        return self.study or self.default_study_name()

    def default_study_name(self) -> str:
        """The study's name when none is given."""
        raise NotImplementedError

    @property
    def run_dir(self) -> Path:
        """Where this study's files go: ``runs/<study>/``."""
        return Path(self.runs_dir) / self.study_name

    @property
    def storage_url(self) -> str:
        """The storage URL (default ``sqlite:///runs/<study>/study.db``)."""
        return self.storage or f"sqlite:///{self.run_dir / 'study.db'}"

    def training_threads(self) -> ThreadGovernor:
        """This process's governor of training threads for these settings."""
        return governor(self.threads, self.max_threads)

    def settings(self) -> dict[str, Any]:
        """Everything a worker joining the study needs (not where the study lives)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in _WHERE}

    def identity(self) -> dict[str, Any]:
        """The settings a resumed study must share (the subset and split sizes 0 and ``None``
        both mean the whole split)."""
        identity = {key: getattr(self, key) for key in self.IDENTITY}
        for key in ("max_train", "max_val"):
            if key in identity:
                identity[key] = identity[key] or None
        return identity

    def validate(self) -> None:
        """Raise :class:`SearchError` on bad settings, before anything is written."""
        if self.space not in SPACES:
            raise SearchError(f"unknown space {self.space!r}; choose one of {', '.join(SPACES)} "
                              f"(see: python cli.py spaces)")
        if self.dataset not in DATASETS:
            raise SearchError(f"unknown dataset {self.dataset!r}; choose one of {', '.join(DATASETS)}")
        if self.latency_clock is not None and self.latency_clock not in CLOCKS:
            raise SearchError(f"unknown --latency-clock {self.latency_clock!r}; choose one of "
                              f"{', '.join(CLOCKS)}")
        try:
            check_device(self.device)
        except ValueError as exc:
            raise SearchError(str(exc)) from None
        if not 1 <= self.heartbeat_s <= 3600:
            raise SearchError(f"--heartbeat must be between 1 and 3600 seconds, got {self.heartbeat_s}")
        try:
            if self.threads is not None:
                check_threads(self.threads, "--threads")
            if self.max_threads is not None:
                check_threads(self.max_threads, "--max-threads")
            check_threads(self.latency_threads, "--latency-threads")
        except ValueError as exc:
            raise SearchError(str(exc)) from None
        if self.epochs is not None and not 1 <= self.epochs <= 1000:
            raise SearchError(f"--epochs must be between 1 and 1000, got {self.epochs}")
        if self.train_batch is not None and not 2 <= self.train_batch <= 65536:
            raise SearchError(f"--train-batch must be between 2 and 65536, got {self.train_batch}")
        if self.bn_calibration is not None and not 0 <= self.bn_calibration <= 1_000_000:
            raise SearchError(f"--bn-calibration must be between 0 and 1000000 images, "
                              f"got {self.bn_calibration}")
        if self.study is not None:
            try:
                check_study_name(self.study)
            except ValueError as exc:
                raise SearchError(str(exc)) from None
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < 2 ** 31:
            raise SearchError(f"--seed must be a whole number from 0 to 2147483647, got {self.seed}")


@dataclass(frozen=True)
class SearchConfig(StudySettings):
    """Everything that defines a search; recorded on the study."""

    budget: int = 50
    sampler: str = "tpe"
    max_latency_ms: float | None = None
    max_params: int | None = None
    max_macs: int | None = None
    pruner: str | None = None
    """``pareto`` or ``none``; ``None``: the study's own (:data:`nasbench.study.pruners.DEFAULT_PRUNER`
    for a new one)."""
    latency_model: str | None = None
    """A latency model file (``latency-model fit``): with ``max_latency_ms``, a candidate
    predicted over the limit by more than the model's error is recorded infeasible untrained."""
    accuracy_from: str | None = None
    """A bench table (``bench``, ``bench-import``) of the space: each trial's accuracy is one
    seed's, drawn from it, and only latency is measured here; the dataset is the table's."""

    IDENTITY: ClassVar[tuple[str, ...]] = (
        "space", "dataset", "data_dir", "resolution", "device", "latency_threads", "epochs",
        "max_train", "max_val", "train_batch", "max_latency_ms", "max_params", "max_macs",
        "pruner", "bn_calibration", "latency_clock", "accuracy_from")

    def default_study_name(self) -> str:
        """``<space>-<dataset>-<sampler>-seed<seed>``."""
        return f"{self.space}-{self.dataset}-{self.sampler}-seed{self.seed}"

    def constraints(self) -> dict[str, Any]:
        """The limits the search was given (``None`` where unset)."""
        return {"max_latency_ms": self.max_latency_ms, "max_params": self.max_params,
                "max_macs": self.max_macs}

    def validate(self) -> None:
        """Raise :class:`SearchError` on bad settings, before anything is written (the files
        they name, a table and a latency model, are checked as they are read:
        :func:`nasbench.workflows.loading.check_sources`)."""
        if isinstance(self.budget, bool) or not isinstance(self.budget, int) or not 1 <= self.budget <= 100_000:
            raise SearchError(f"--budget must be a whole number of trials between 1 and 100000, "
                              f"got {self.budget}")
        if self.accuracy_from is not None:  # the dataset is the table's (checked when it is read)
            dataclasses.replace(self, dataset="digits", accuracy_from=None).validate()
            return
        super().validate()
        if self.pruner is not None and self.pruner not in PRUNERS:
            raise SearchError(f"unknown pruner {self.pruner!r}; choose one of {', '.join(PRUNERS)}")
        if self.sampler not in SAMPLERS:
            raise SearchError(f"unknown sampler {self.sampler!r}; choose one of {', '.join(SAMPLERS)}")
        if self.latency_model is not None:
            if self.max_latency_ms is None:
                raise SearchError("--latency-model needs --max-latency-ms: it skips candidates "
                                  "predicted over that limit; add the limit or drop the model")
        for name in ("max_latency_ms", "max_params", "max_macs"):
            value = getattr(self, name)
            if value is not None and not (value > 0 and math.isfinite(value)):
                raise SearchError(f"--{name.replace('_', '-')} must be a positive, finite number, "
                                  f"got {value}")
        size = get_space(self.space).size()
        if self.budget > size:
            raise SearchError(f"--budget {self.budget} is more than the {size:,} architectures of "
                              f"space {self.space!r}; give at most {size}")


@dataclass(frozen=True)
class BenchConfig(StudySettings):
    """Everything that defines a bench; recorded on its study."""

    space: str = "tiny"
    bn_calibration: int | None = DEFAULT_BN_CALIBRATION
    latency_time_s: float = 0.5
    latency_clock: str | None = DEFAULT_CLOCK
    seeds: int = 2
    passes: int = 2
    sample: int | None = None

    IDENTITY: ClassVar[tuple[str, ...]] = (
        "space", "dataset", "data_dir", "resolution", "epochs", "max_train", "max_val",
        "train_batch", "seeds", "passes", "sample", "seed", "device", "latency_threads",
        "latency_time_s", "bn_calibration", "latency_clock")

    def default_study_name(self) -> str:
        """``bench-<space>-<dataset>``."""
        return f"bench-{self.space}-{self.dataset}"

    def identity(self) -> dict[str, Any]:
        """The settings a resumed bench must share (calibration and epochs as resolved)."""
        identity = super().identity()
        if identity["bn_calibration"] is None:
            identity["bn_calibration"] = DEFAULT_BN_CALIBRATION
        identity["epochs"] = self.train_config().epochs
        return identity

    def validate(self) -> None:
        """Raise :class:`SearchError` on bad settings, before anything is written."""
        super().validate()
        if isinstance(self.seeds, bool) or not 1 <= self.seeds <= 20:
            raise SearchError(f"--seeds must be between 1 and 20, got {self.seeds}")
        if not 2 <= self.passes <= 10:
            raise SearchError(f"--passes must be between 2 and 10, got {self.passes}")
        if self.sample is not None and not 1 <= self.sample <= 100_000:
            raise SearchError(f"--sample must be between 1 and 100000, got {self.sample}")
        size = get_space(self.space).size()
        if self.sample is None and size > MAX_ENUMERATE:
            raise SearchError(f"space {self.space!r} has {size:,} architectures, too many to "
                              f"evaluate all; add --sample N for a seeded sample of N")
        if self.sample is not None and self.sample > size:
            raise SearchError(f"--sample {self.sample} is larger than space {self.space!r} "
                              f"({size:,} architectures); drop --sample to evaluate them all")


# ---------------------------------------------------------------- settings of a study

_SEARCH_DEFAULTS_BEFORE = {"pruner": "none", "max_val": None, "train_batch": None, "bn_calibration": 0,
                           "latency_clock": "wall"}
"""Search settings that studies made before they existed had, in effect."""
_BENCH_DEFAULTS_BEFORE = {"bn_calibration": 0, "latency_clock": "wall"}
"""Bench settings that benches made before they existed had, in effect."""
_RENAMED = {"max_flops": "max_macs"}
"""Names used by earlier versions in the recorded settings, and today's names."""


def upgrade_settings(recorded: dict[str, Any] | None) -> dict[str, Any] | None:
    """Search settings recorded on a study by any nasbench version, under today's names."""
    if recorded is None:
        return None
    known = {f.name for f in dataclasses.fields(SearchConfig)}
    upgraded = {_RENAMED.get(k, k): v for k, v in recorded.items() if _RENAMED.get(k, k) in known}
    return {**_SEARCH_DEFAULTS_BEFORE, **upgraded}


def upgrade_bench_settings(recorded: dict[str, Any]) -> dict[str, Any]:
    """Bench settings recorded by any nasbench version, with what older ones left out."""
    known = {f.name for f in dataclasses.fields(BenchConfig)}
    return {k: v for k, v in {**_BENCH_DEFAULTS_BEFORE, **recorded}.items() if k in known}


def constraints_of(record: StudyRecord) -> dict[str, Any]:
    """A search's constraints as recorded on its study (``None`` where unset)."""
    settings = upgrade_settings(record.settings) or {}
    return {k: settings.get(k) for k in ("max_latency_ms", "max_params", "max_macs")}


def search_config_of(record: StudyRecord, name: str, **where: Any) -> SearchConfig:
    """The search settings recorded on study ``name`` (``where``: this process's ``storage``,
    ``runs_dir``, ``threads``, ``worker_index``). Raises :class:`SearchError` for a study that
    is not a search's."""
    if record.is_bench:
        raise SearchError(f"study {name!r} is a bench, not a search; give a search's study")
    settings = upgrade_settings(record.settings)
    if not settings:
        raise SearchError(f"study {name!r} was not made by nasbench search; start one with "
                          f"python cli.py search")
    return SearchConfig(**settings, study=name, **{k: v for k, v in where.items() if v is not None})


def bench_config_of(record: StudyRecord, name: str, **where: Any) -> BenchConfig:
    """The bench settings recorded on study ``name`` (``where`` as in :func:`search_config_of`).
    Raises :class:`SearchError` for a study that is not a bench's."""
    if not record.is_bench or not record.settings:
        raise SearchError(f"study {name!r} is not a bench; give a bench's study")
    return BenchConfig(**upgrade_bench_settings(record.settings), study=name,
                       **{k: v for k, v in where.items() if v is not None})
