"""The search loop: an Optuna multi-objective study (validation accuracy up, measured latency down).

Each trial samples an architecture from the space, counts its params and multiply-adds,
measures its latency, trains it briefly and returns ``(val_accuracy, latency_ms)``. Everything a
trial measured is stored on it (user attributes), so the storage is the single source of truth.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import optuna
import pandas as pd
from optuna.trial import TrialState

from nasbench.nn.build import build_model
from nasbench.train.data import DataSplits
from nasbench.errors import DamagedValue, SearchError
from nasbench.interrupts import SafeInterrupts
from nasbench.workflows.objective import Objective, evaluator_for
from nasbench.study.pruners import make_pruner
from nasbench.measure.quiet import QuietSlot
from nasbench.study.results import pareto_frame, results_frame, write_table
from nasbench.study.rules import trial_measured
from nasbench.study.samplers import ProcessSampler
from nasbench.workflows.search_study import open_study, settled
from nasbench.workflows.settings import SearchConfig
from nasbench.workflows.loading import check_sources, load_search_data, with_table_dataset
from nasbench.study.storage import count_states, fail_dead_trials
from nasbench.study.study_record import StudyRecord
from nasbench.train.proxy import expected_seconds
from search_spaces import DataShape, UniformDraw, get_space

logger = logging.getLogger(__name__)


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


def complete_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The study's complete trials (not copied)."""
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def evaluated(study: optuna.Study,
              trials: Sequence[optuna.trial.FrozenTrial] | None = None) -> int:
    """Architectures the study has evaluated: complete trials that are not reuses of an
    earlier trial's result. This is what ``--budget`` counts. ``trials``: the study's trials
    when just read (saves a read)."""
    if trials is None:
        try:
            trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        except json.JSONDecodeError as exc:  # Optuna's own read of a damaged value
            raise DamagedValue(f"a stored attribute is not JSON: {exc}") from None
    return sum(1 for t in trials if trial_measured(t))


ESTIMATE_MODELS = 7
"""Architectures drawn to estimate a trial's training time: the training times of a space's
architectures spread over 3x and more, so the median of 3 (as before) missed the space's
median by up to 1.7x on CIFAR-10."""


def expected_trial_seconds(config: SearchConfig, data: DataSplits, models: int = ESTIMATE_MODELS,
                           seconds_per_model: float | None = None) -> float:
    """The expected seconds of one fully trained trial of ``config`` on ``data``: timed training
    steps of each of ``models`` architectures drawn from the space, ``seconds_per_model`` each
    (see :func:`nasbench.train.proxy.expected_seconds`). Printed before a search on a real dataset
    starts."""
    space = get_space(config.space)
    shape = DataShape(data.resolution, data.channels, len(data.classes))
    rng = np.random.default_rng(config.seed)
    built = [build_model(space.sample(UniformDraw(rng), shape), seed=config.seed) for _ in range(models)]
    return expected_seconds(built, data, config.train_config(), threads=config.training_threads(),
                            seconds_per_model=seconds_per_model)


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
    check_sources(config)
    if data is None:
        data = load_search_data(config)
    study = open_study(config)
    config = settled(config, study)
    if StudyRecord.of(study).n_val is None:  # the accuracy intervals' sample size
        StudyRecord(n_val=len(data.y_val)).save(study)
    study.sampler = ProcessSampler(config)
    shape = DataShape(data.resolution, data.channels, len(data.classes))
    pruner = make_pruner(config.pruner, len(data.y_val))
    with SafeInterrupts().installed() as interrupts:
        drive(study, Objective(config, shape, evaluator_for(config, data, slot, interrupts), pruner),
              config, callbacks, max_failures, interrupts)
    return finish_search(config)


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
                         n_val=StudyRecord.of(study).n_val)


def start_search(config: SearchConfig, on_progress: Callable[[str, int, int], None] | None = None
                 ) -> tuple[SearchConfig, DataSplits, optuna.Study, int]:
    """Everything before a search's first trial: its data loaded, its study created or
    resumed (settings recorded or checked), the settings left to the study filled in from
    it. Returns the settled config, the data, the study and the architectures it has
    evaluated. Raises :class:`SearchError` on bad settings, data or storage."""
    config = with_table_dataset(config)
    data = load_search_data(config, on_progress)
    study = open_study(config)
    return settled(config, study), data, study, evaluated(study)
