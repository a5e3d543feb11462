"""Stopping hopeless trials early in a multi-objective search.

Optuna refuses pruning in multi-objective studies; we have what it lacks: a trial's latency is
measured before it trains, so only its accuracy is uncertain when we decide. After each epoch,
:class:`ParetoPruner` stops a trial that is dominated *at the same epoch* by trials we already
have: one at least as fast (and feasible) reached a higher validation accuracy at that epoch by
more than the accuracy noise (the binomial spread of both accuracies on the validation split).

Like Optuna's pruners it keeps no state of its own: everything it needs is read from the study,
so it works unchanged when many workers share one storage (their running trials' epochs count
too).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from optuna.trial import TrialState

from nasbench.study.trial_record import TrialRecord
from nasbench.study.rules import counted, feasible

if TYPE_CHECKING:
    import optuna

PRUNERS: tuple[str, ...] = ("pareto", "none")
DEFAULT_PRUNER = "pareto"
"""The early stop of a new search; it wins on the replay benchmark (``benchmarks/early_stop.py``)."""


@dataclass(frozen=True)
class ParetoPruner:
    """Stop a trial dominated at its current epoch beyond noise.

    ``n_val``: the validation split's size (the binomial spread of an accuracy ``p`` is
    ``sqrt(p (1 - p) / n_val)``); ``z``: how many standard deviations of the difference of two
    accuracies count as beyond noise (2: about 97.7 % one-sided).
    """

    n_val: int
    z: float = 2.0

    def margin(self, a: float, b: float) -> float:
        """The noise margin for comparing accuracies ``a`` and ``b``."""
        return self.z * math.sqrt((a * (1 - a) + b * (1 - b)) / max(1, self.n_val))

    def check(self, study: optuna.Study, trial: optuna.trial.BaseTrial) -> str | None:
        """Why ``trial`` should stop now, or ``None``."""
        record = TrialRecord.from_trial(trial)
        if not record.val_acc_per_epoch or record.latency is None:
            return None
        epoch, accuracy = len(record.val_acc_per_epoch) - 1, record.val_acc_per_epoch[-1]
        latency = record.latency.median_ms
        for other in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,
                                                              TrialState.RUNNING)):
            if other.number == trial.number or not feasible(other.constraints):
                continue
            them = TrialRecord.from_trial(other)
            if (not counted(them) or them.latency is None
                    or len(them.val_acc_per_epoch) <= epoch or them.latency.median_ms > latency):
                continue
            theirs = them.val_acc_per_epoch[epoch]
            margin = self.margin(theirs, accuracy)
            if theirs > accuracy + margin:
                return (f"dominated after epoch {epoch + 1} by trial {other.number} "
                        f"({them.latency.median_ms:.3f} ms <= {latency:.3f} ms, accuracy "
                        f"{theirs:.4f} > {accuracy:.4f} + noise {margin:.4f})")
        return None

    def prune(self, study: optuna.Study, trial: optuna.trial.BaseTrial) -> bool:
        """Optuna's pruner question: should ``trial`` stop now?"""
        return self.check(study, trial) is not None


def make_pruner(name: str, n_val: int, z: float | None = None) -> ParetoPruner | None:
    """The pruner called ``name`` (``none``: no early stop); ``z``: the Pareto pruner's margin
    when not its default (benchmarks try others; searches use the default)."""
    if name not in PRUNERS:
        raise ValueError(f"unknown pruner {name!r}; choose one of {', '.join(PRUNERS)}")
    if name == "none":
        return None
    return ParetoPruner(n_val) if z is None else ParetoPruner(n_val, z)
