"""Confirmation: re-measure what a search's front depends on, fairly.

Each trial of a search is timed once, at its own moment; the machine drifts between moments
by more than one measurement's spread, so which trials form the front depends partly on luck.
The confirmation takes the front and every trial on the front *within noise* (see
:mod:`nasbench.study.noise`), rebuilds them, and times them again *interleaved*: round robin over the
candidates, in a fresh random order each round, for several rounds in one session, so all of
them see the same states of the machine. A candidate's confirmed latency is the median of its
round medians, with the order-statistics 95 % interval of that median. With ``seeds`` > 1 the
candidates are also retrained with ``seeds - 1`` more seeds and their accuracy becomes the
mean over seeds. The result is stored on the study (user attribute ``confirmation``: finished
trials cannot be changed), and the results table uses the confirmed figures where they exist.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any, Callable

import numpy as np
import optuna
import pandas as pd

from nasbench.spec.arch import decode
from nasbench.nn.build import build_model
from nasbench.measure.conditions import allocator_state, current_conditions
from nasbench.errors import SearchError
from nasbench.measure.latency import Probe, median_interval
from nasbench.measure.latency import interleaved as interleave
from nasbench.measure.quiet import QuietSlot
from nasbench.study.results import results_frame
from nasbench.workflows.search import SearchOutcome, evaluated, outcome_of
from nasbench.workflows.settings import SearchConfig, search_config_of
from nasbench.workflows.loading import load_search_data
from nasbench.study.storage import check_study_writable, open_run, run_location
from nasbench.study.study_record import Confirmation, StudyRecord
from nasbench.train.proxy import train_model

logger = logging.getLogger(__name__)

DEFAULT_ROUNDS = 15
BURST_S = 0.05
"""Seconds of timing per candidate per round, at most."""
WARMUP_S = 0.02
"""Seconds of warm-up runs before each burst, at most (the model stays prepared between rounds)."""
BUDGET_S = 4.0
"""Timing seconds of a confirmation, roughly: with many candidates each burst shrinks (down
to 2 blocks of about 5 ms after 3 runs of warm-up) so that the rounds fit in this."""


def burst_times(candidates: int, rounds: int) -> tuple[float, float]:
    """``(burst_s, warmup_s)`` of each burst for ``candidates`` models timed over ``rounds``
    rounds: :data:`BURST_S` and :data:`WARMUP_S`, scaled down to fit :data:`BUDGET_S`."""
    share = min(1.0, BUDGET_S / (max(1, candidates) * max(1, rounds) * (BURST_S + WARMUP_S)))
    return max(0.01, BURST_S * share), max(0.004, WARMUP_S * share)


def check_options(rounds: int, seeds: int, accuracy_from: str | None = None) -> None:
    """Raise ``ValueError`` on a number of rounds or seeds that cannot give a confirmation
    (more seeds retrain: not for a search whose accuracies come from a table)."""
    if accuracy_from is not None and seeds != 1:
        raise ValueError("--confirm-seeds retrains the front, but with --accuracy-from the "
                         "accuracies come from the table: leave --confirm-seeds at 1")
    if isinstance(rounds, bool) or not isinstance(rounds, int) or not 5 <= rounds <= 1000:
        raise ValueError(f"--confirm-rounds must be between 5 and 1000, got {rounds}")
    if isinstance(seeds, bool) or not isinstance(seeds, int) or not 1 <= seeds <= 20:
        raise ValueError(f"--confirm-seeds must be between 1 (no retraining) and 20, got {seeds}")


def candidates(frame: pd.DataFrame) -> pd.DataFrame:
    """The trials a confirmation re-measures: the front and those on it within noise.
    Raises ``ValueError`` when there are none (nothing complete, or nothing eligible)."""
    if frame.empty or not (frame["state"] == "COMPLETE").any():
        raise ValueError("the run has no complete trial; run or resume the search first")
    chosen = frame[frame["pareto"].astype(bool) | frame["pareto_noise"].astype(bool)]
    if chosen.empty:
        raise ValueError("the run has no feasible trial trained fully: nothing on its front to confirm")
    return chosen


def study_config(study: optuna.Study) -> SearchConfig:
    """The search settings recorded on ``study`` (``ValueError`` if it is not a search)."""
    return search_config_of(StudyRecord.of(study), study.study_name)


def remeasure(models: dict[int, Any], shape: tuple[int, int, int], config: SearchConfig,
                rounds: int, seed: int = 0, slot: QuietSlot | None = None,
                on_round: Callable[[int, int], None] | None = None) -> dict[int, list[float]]:
    """Round medians per model, under the search's latency settings: the interleaved protocol
    (:func:`nasbench.measure.latency.interleaved`) with bursts that fit :data:`BUDGET_S`
    (:func:`burst_times`)."""
    burst_s, warmup_s = burst_times(len(models), rounds)
    probes = {k: Probe(m, shape, device=config.device, threads=config.latency_threads,
                       clock=config.latency_clock or "wall") for k, m in models.items()}
    return interleave(probes, rounds, burst_s, warmup_s, seed, slot, on_round)


def confirm_study(study: optuna.Study, frame: pd.DataFrame, rounds: int = DEFAULT_ROUNDS,
                  seeds: int = 1, data: Any = None, slot: QuietSlot | None = None,
                  store: bool = True, on_round: Callable[[int, int], None] | None = None) -> Confirmation:
    """Confirm the candidates (:func:`candidates`) of ``frame``, the results table of the
    search ``study``; stores the result on the study unless ``store`` is false.

    ``data`` (the search's dataset) is needed only for ``seeds`` > 1 and loaded when missing.
    Raises ``ValueError`` when there is nothing to confirm or the options are out of range.
    """
    check_options(rounds, seeds)
    config = study_config(study)
    chosen = candidates(frame)
    start = time.perf_counter()
    archs = {int(row.number): decode(row.arch) for row in chosen.itertuples()}
    first = next(iter(archs.values()))
    shape = (first.in_channels, first.resolution, first.resolution)
    models = {n: build_model(a, seed=config.seed + n) for n, a in archs.items()}  # the trials' seeds
    medians = remeasure(models, shape, config, rounds, seed=config.seed, slot=slot,
                          on_round=on_round)
    trials: dict[int, dict[str, Any]] = {}
    for number, values in medians.items():
        ordered = sorted(values)
        low, high = median_interval(ordered)
        trials[number] = {"latency_ms": float(np.median(ordered)), "ci_low_ms": float(low),
                          "ci_high_ms": float(high), "round_ms": [float(v) for v in values]}
    if seeds > 1:
        _retrain(chosen, archs, config, seeds, data, trials)
    conditions = current_conditions(config.device, config.latency_threads, 1, "float32",
                                    "contiguous", allocator_state() if config.device == "cpu"
                                    else "cuda caching allocator",
                                    config.latency_clock or "wall").to_dict()
    result = Confirmation(rounds=rounds, seeds=seeds, seconds=time.perf_counter() - start,
                          conditions=conditions, trials=trials)
    if store:
        StudyRecord(confirmation=result).save(study)
    logger.info("confirmed %d trials in %.1f s (%d rounds, %d seeds)", len(trials), result.seconds,
                rounds, seeds)
    return result


def _retrain(chosen: pd.DataFrame, archs: dict[int, Any], config: SearchConfig, seeds: int,
             data: Any, trials: dict[int, dict[str, Any]]) -> None:
    """Train each candidate with ``seeds - 1`` more seeds; its accuracies go to ``trials``."""
    if data is None:
        try:
            data = load_search_data(config)
        except SearchError as exc:
            raise ValueError(str(exc)) from None
    train_config = config.train_config()
    for row in chosen.itertuples():
        number = int(row.number)
        accuracies = [float(row.val_acc_search)]
        for k in range(1, seeds):
            seed = config.seed + number + 100_003 * k  # apart from every trial's own seed
            model = build_model(archs[number], seed=seed)
            result = train_model(model, data, train_config, seed=seed, device=config.device,
                                 threads=config.training_threads())
            accuracies.append(float(result.val_accuracy))
        trials[number]["val_acc_seeds"] = accuracies


def confirm_and_finish(study: optuna.Study, frame: pd.DataFrame, finish: Callable[[], Any],
                       rounds: int = DEFAULT_ROUNDS, seeds: int = 1, data: Any = None,
                       slot: QuietSlot | None = None,
                       on_start: Callable[[int], Any] | None = None) -> Any:
    """Confirm ``study``'s front, then ``finish()``, the search's outcome with the
    confirmation's seconds. ``on_start(count)`` is called first and may return a callback
    ``(round, rounds)`` called after each round. Ctrl-C leaves the study as it was."""
    on_round = on_start(len(candidates(frame))) if on_start is not None else None
    confirmation = confirm_study(study, frame, rounds=rounds, seeds=seeds, data=data, slot=slot,
                                 on_round=on_round)
    return dataclasses.replace(finish(), confirm_s=confirmation.seconds)


def confirm_after_search(study: optuna.Study, outcome: SearchOutcome, evaluated_before: int,
                         rounds: int, seeds: int, data: Any, finish: Callable[[], SearchOutcome],
                         slot: QuietSlot | None = None,
                         on_start: Callable[[int], Any] | None = None) -> SearchOutcome:
    """The confirmation at the end of a search: done when the search evaluated something new
    or the study was never confirmed, and its front is not empty; otherwise the last
    confirmation stands and ``outcome`` is returned as it is."""
    fresh = evaluated(study) > evaluated_before or StudyRecord.of(study).confirmation is None
    if not fresh or outcome.table.empty or not outcome.table["pareto"].any():
        return outcome
    return confirm_and_finish(study, outcome.table, finish, rounds, seeds, data, slot, on_start)


def confirm_run(run: str, study_name: str | None, runs_dir: str, rounds: int, seeds: int,
                slot: QuietSlot | None = None,
                on_start: Callable[[int], Any] | None = None) -> SearchOutcome:
    """``confirm RUN``: confirm the search of a run folder, study name or storage URL and
    rewrite its ``results.csv``. Raises ``ValueError`` on bad options (before the run is
    opened), a study that is not a search's, or nothing to confirm."""
    check_options(rounds, seeds)
    study = open_run(run, study_name, runs_dir)
    study_config(study)  # a search's study, or a one-line error
    storage, folder = run_location(run, runs_dir, study.study_name)
    check_study_writable(storage)  # before the minutes of timing whose result it stores
    return confirm_and_finish(study, results_frame(study), lambda: outcome_of(study, storage, folder),
                              rounds, seeds, None, slot, on_start)
