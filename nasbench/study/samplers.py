"""The Optuna samplers a search may use, and how each process on a study seeds its own."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Sequence

import optuna
from optuna.trial import TrialState

from nasbench.errors import SearchError

if TYPE_CHECKING:
    from nasbench.workflows.settings import SearchConfig

SAMPLERS: tuple[str, ...] = ("tpe", "nsga2", "random")


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
