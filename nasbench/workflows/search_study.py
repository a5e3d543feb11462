"""A search's study: created with its settings recorded, or resumed with them checked."""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import optuna

from nasbench import __version__
from nasbench.errors import SearchError
from nasbench.measure.latency import DEFAULT_CLOCK
from nasbench.study.pruners import DEFAULT_PRUNER
from nasbench.study.results import results_frame
from nasbench.study.rules import measured_mask
from nasbench.study.samplers import make_sampler, sampler_seed
from nasbench.workflows.settings import OBJECTIVES, SearchConfig, search_config_of, upgrade_settings
from nasbench.study.storage import check_results_folder, join_storage_study, open_storage_study
from nasbench.study.study_record import SEARCH, StudyRecord
from nasbench.train.recipe import DEFAULT_BN_CALIBRATION, epochs_before_calibration


def open_study(config: SearchConfig) -> optuna.Study:
    """Create or resume the study of ``config``; refuses one made with other settings."""
    check_results_folder(config.storage_url, config.run_dir, config.study_name)
    return open_storage_study(config.storage_url, config.study_name, config.heartbeat_s,
                              directions=["maximize", "minimize"],
                              sampler=make_sampler(config.sampler, sampler_seed(config, 0)),
                              run_dir=None if config.storage else config.run_dir,
                              set_up=lambda study: _set_up_search(study, config))


def _set_up_search(study: optuna.Study, config: SearchConfig) -> None:
    """Record the settings on a new search study, or check them against a resumed one."""
    record = StudyRecord.of(study)
    if record.kind not in (None, SEARCH):
        raise SearchError(f"study {config.study_name!r} is a {record.kind}, not a search; use "
                          f"another --study name")
    recorded = upgrade_settings(record.identity)
    if recorded is None:
        with warnings.catch_warnings():  # set_metric_names is "experimental" in Optuna
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(list(OBJECTIVES))
        own = _study_own(config, {})
        StudyRecord(kind=SEARCH, space=config.space, dataset=config.dataset,
                    objectives=OBJECTIVES, version=__version__,
                    settings={**config.settings(), **own},
                    identity={**config.identity(), **own}).save(study)
        return
    # What the study recorded, as it meant it (never the defaults of this command: a config
    # rebuilt here with epochs=None would take the CPU proxy's epochs again).
    recorded = {**recorded, "epochs": _recorded_epochs(config.dataset, recorded)}
    left = {*_STUDY_OWN, "epochs"}  # None: the study's own
    differing = [k for k, v in config.identity().items()
                 if recorded.get(k) != v and not (k in left and v is None)]
    if differing:
        detail = ", ".join(f"{k}={recorded.get(k)!r} (now {getattr(config, k)!r})" for k in differing)
        raise SearchError(f"study {config.study_name!r} was made with other settings: {detail}; "
                          f"use another --study name or the original settings")
    if (record.settings or {}).get("budget") != config.budget and config.worker_index == 0:
        # A new budget is written to the study: every stored value is read first (a damaged one
        # stops here, DamagedValue, with nothing written), and a budget below what the study
        # has evaluated is refused. Only then: resuming with the same budget reads nothing here.
        frame = results_frame(study)
        done = int(measured_mask(frame).sum()) if not frame.empty else 0
        if config.budget < done:
            raise SearchError(f"--budget {config.budget} is below the {done} architectures study "
                              f"{config.study_name!r} has evaluated; give --budget {done} or more "
                              f"to go on, or read it with python cli.py results")
        StudyRecord(settings={**config.settings(), **_study_own(config, recorded)}).save(study)


_STUDY_OWN = {"pruner": DEFAULT_PRUNER, "bn_calibration": DEFAULT_BN_CALIBRATION,
              "latency_clock": DEFAULT_CLOCK}
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
    elif recorded:
        own["epochs"] = _recorded_epochs(config.dataset, recorded)
    else:
        own["epochs"] = config.train_config().epochs
    return own


def _recorded_epochs(dataset: str, recorded: dict[str, Any]) -> int:
    """The epochs a study recorded (one made before calibration recorded ``None``: the
    dataset's default then)."""
    return recorded.get("epochs") or epochs_before_calibration(dataset)


def settled(config: SearchConfig, study: optuna.Study) -> SearchConfig:
    """``config`` with what it left to the study filled in from it (pruner, BatchNorm
    calibration)."""
    recorded = upgrade_settings(StudyRecord.of(study).identity) or {}
    return dataclasses.replace(config, **_study_own(config, recorded))


def config_from_study(storage: str, study_name: str, runs_dir: str = "runs",
                      threads: int | None = None, worker_index: int = 1) -> SearchConfig:
    """The search settings recorded on an existing study, for a worker that joins it."""
    study = join_storage_study(storage, study_name, 10)
    return search_config_of(StudyRecord.of(study), study_name, storage=storage, runs_dir=runs_dir,
                            worker_index=worker_index, threads=threads)
