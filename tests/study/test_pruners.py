"""The Pareto-aware early stop: its rule, its use by several workers, its record in searches."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from optuna.distributions import IntDistribution
from optuna.trial import TrialState

from nasbench.measure.conditions import Conditions
from nasbench.measure.latency import LatencyResult, LatencyStats
from nasbench.study.pruners import ParetoPruner, make_pruner
from nasbench.study.trial_record import TrialRecord
from nasbench.study.results import results_frame
from nasbench.errors import SearchError
from nasbench.workflows.search import run_search
from nasbench.workflows.search_study import open_study, settled
from nasbench.workflows.settings import SearchConfig

N_VAL = 360


def _latency(ms: float) -> LatencyResult:
    stats = LatencyStats(ms, ms, 0.01, 0.01, ms, ms, 20)
    return LatencyResult(stats, 1, Conditions(*["x"] * 3, 1, 1, *["x"] * 6))


def _add(study: optuna.Study, ms: float, curve: tuple[float, ...], state: TrialState = TrialState.COMPLETE,
         constraint: float | None = None, **extra) -> int:  # type: ignore[no-untyped-def]
    record = TrialRecord(arch=f"a{len(study.trials)}", latency=_latency(ms), val_acc_per_epoch=curve,
                         **extra)
    trial = optuna.trial.create_trial(
        state=state, values=[curve[-1], ms] if state == TrialState.COMPLETE else None,
        params={"i": len(study.trials)}, distributions={"i": IntDistribution(0, 999)},
        user_attrs=record.to_attrs(),
        system_attrs={"constraints": [constraint]} if constraint is not None else {})
    study.add_trial(trial)
    return study.trials[-1].number


def _current(study: optuna.Study, ms: float, curve: tuple[float, ...]) -> optuna.trial.FrozenTrial:
    number = _add(study, ms, curve, state=TrialState.RUNNING)
    return study.trials[number]


@pytest.fixture()
def study() -> optuna.Study:
    return optuna.create_study(directions=["maximize", "minimize"])


def test_dominated_beyond_noise_stops(study: optuna.Study) -> None:
    pruner = ParetoPruner(N_VAL)
    _add(study, 1.0, (0.90, 0.95, 0.97))
    slow_bad = _current(study, 1.5, (0.70,))
    reason = pruner.check(study, slow_bad)
    assert reason is not None and "dominated after epoch 1 by trial 0" in reason
    assert pruner.prune(study, slow_bad)


@pytest.mark.parametrize("ms,curve", [
    (1.5, (0.88,)),        # slower, but within the noise of the faster trial's 0.90
    (0.5, (0.50,)),        # worse, but faster than every trial we have
    (1.5, (0.95, 0.50)),   # at epoch 2 no faster trial has an accuracy to compare with
])
def test_not_stopped(study: optuna.Study, ms: float, curve: tuple) -> None:
    _add(study, 1.0, (0.90,))
    assert ParetoPruner(N_VAL).check(study, _current(study, ms, curve)) is None


def test_margin_is_the_binomial_spread() -> None:
    pruner = ParetoPruner(N_VAL)
    assert pruner.margin(0.9, 0.9) == pytest.approx(2 * (2 * 0.09 / N_VAL) ** 0.5)
    assert ParetoPruner(36).margin(0.9, 0.9) > pruner.margin(0.9, 0.9)  # fewer images: wider


def test_infeasible_and_reused_trials_do_not_dominate(study: optuna.Study) -> None:
    _add(study, 1.0, (0.99,), constraint=5.0)  # violates a constraint
    _add(study, 1.0, (0.99,), reused_from=7)
    assert ParetoPruner(N_VAL).check(study, _current(study, 1.5, (0.5,))) is None


def test_workers_sharing_a_storage_see_each_others_running_trials(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    mine = optuna.create_study(study_name="s", storage=url, directions=["maximize", "minimize"])
    theirs = optuna.load_study(study_name="s", storage=url)
    _add(theirs, 1.0, (0.93,), state=TrialState.RUNNING)  # another worker, one epoch in
    assert ParetoPruner(N_VAL).check(mine, _current(mine, 1.2, (0.60,))) is not None


def test_unknown_pruner_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown pruner 'asha'; choose one of pareto, none"):
        make_pruner("asha", N_VAL)
    with pytest.raises(SearchError, match="unknown pruner"):
        SearchConfig(pruner="asha").validate()


def test_a_search_with_the_pareto_pruner_records_its_stops(tmp_path: Path) -> None:
    from nasbench.train.data import load_dataset

    data = load_dataset("digits", cache_dir=None)
    config = SearchConfig(space="tiny", epochs=4, threads=1, latency_time_s=0.05, budget=12,
                          sampler="random", seed=5, pruner="pareto", runs_dir=str(tmp_path))
    run_search(config, data=data)
    frame = results_frame(open_study(config))
    done = frame[(frame["state"] == "COMPLETE") & frame["reused_from"].isna()]
    assert len(done) == 12  # the budget counts architectures, stopped ones included
    stopped = done[done["stopped_early"] == True]  # noqa: E712
    assert len(stopped) >= 1, "no trial was stopped: the rule never fired on 12 random trials"
    assert (stopped["epochs_trained"] < 4).all() and not stopped["pareto"].any()
    assert stopped["stop_reason"].str.startswith("dominated after epoch").all()
    full = done[done["stopped_early"] == False]  # noqa: E712
    assert (full["epochs_trained"] == 4).all()
    assert (done["val_acc"] == done["val_acc_per_epoch"].map(lambda c: c[-1])).all()
    # Resuming with another pruner would change the study's meaning: refused.
    with pytest.raises(SearchError, match="pruner='pareto' \\(now 'none'\\)"):
        open_study(SearchConfig(**{**config.__dict__, "pruner": "none"}))
    # Not naming one resumes with the study's own.
    assert settled(SearchConfig(**{**config.__dict__, "pruner": None}), open_study(config)).pruner == "pareto"


def test_the_default_pruner_is_pareto_for_a_new_study_and_the_studys_own_on_resume(tmp_path: Path) -> None:
    fresh = SearchConfig(space="tiny", runs_dir=str(tmp_path), study="fresh")
    assert fresh.pruner is None
    study = open_study(fresh)
    assert study.user_attrs["config"]["pruner"] == "pareto" == settled(fresh, study).pruner
    plain = SearchConfig(space="tiny", runs_dir=str(tmp_path), study="plain", pruner="none")
    open_study(plain)
    again = SearchConfig(space="tiny", runs_dir=str(tmp_path), study="plain")  # same command, no --pruner
    assert settled(again, open_study(again)).pruner == "none"
    with pytest.raises(SearchError, match="pruner='none' \\(now 'pareto'\\)"):
        open_study(SearchConfig(space="tiny", runs_dir=str(tmp_path), study="plain", pruner="pareto"))


def test_the_progress_line_counts_the_front_the_table_draws(study: optuna.Study) -> None:
    """Stopped, infeasible and reused trials are never on the front, in the progress line as in
    the results table, although Optuna's own front (``best_trials``) holds some."""
    from nasbench.study.results import pareto_frame
    from nasbench.workflows.search import complete_trials
    from nasbench.cli.text import ProgressLine

    _add(study, 2.0, (0.90, 0.97))                              # on the front
    _add(study, 3.0, (0.92, 0.99))                              # on the front
    _add(study, 1.0, (0.80,), stopped_early=True)               # fastest, but stopped
    _add(study, 0.5, (0.85, 0.93), constraint=1.0)              # fastest, but infeasible
    _add(study, 1.5, (0.91, 0.98), reused_from=0)               # a reuse is not measured
    assert {t.number for t in study.best_trials} == {1, 2, 4}  # a stopped one and a reuse
    line = ProgressLine(budget=4, done=0).render(complete_trials(study), study.trials[-1])
    frame = results_frame(study)
    assert len(pareto_frame(frame)) == 2
    assert "| front 2 |" in line and "4/4 architectures, 3 trained fully" in line
