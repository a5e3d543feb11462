"""Which trials count, and for what: each rule defined once, as a predicate on one trial's
record and, beside it, its vectorised twin on the results table.

- **counted**: the trial evaluated an architecture itself: not a reuse of an earlier trial's
  result, not rejected by the latency model's prediction alone. ``--budget`` counts these.
- **measured**: complete and counted.
- **feasible**: every constraint of the search met (Optuna's constraint values all <= 0).
- **eligible**: may be on a front: measured, feasible and trained fully (not stopped early: a
  trial stopped early reports the accuracy of its last epoch).

Also here: the hypervolume reference point and what a study may be named, once. (The default number of threads and the range
of ``--workers``, rules about this machine, are in :mod:`nasbench.measure.conditions`, which the command line
reads without pandas.)
"""

from __future__ import annotations

import math
import re
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from nasbench.study.trial_record import TrialRecord

STUDY_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,99}")
"""What a study name may be: it names a folder under the runs folder and appears in commands
to copy, so it is one plain path component."""


def check_study_name(name: str, option: str = "--study") -> str:
    """``name`` if it is a study name (:data:`STUDY_NAME`), else ``ValueError`` naming
    ``option`` and the rule (the name is quoted, so a newline or a control character shows)."""
    if not isinstance(name, str) or not STUDY_NAME.fullmatch(name):
        raise ValueError(f"{option} must be a plain name of letters, digits, '.', '_' and '-' "
                         f"(at most 100, not starting with '.' or '-'), got {name!r}")
    return name


REFERENCE_LATENCY_FACTOR = 1.1
"""The hypervolume's reference latency is this many times the slowest architecture's."""
REFERENCE_ACCURACY = 0.0
"""The hypervolume's reference accuracy."""
def reference_point(latencies: Iterable[float]) -> dict[str, float]:
    """The hypervolume reference point of a set of latencies: accuracy
    :data:`REFERENCE_ACCURACY`, latency :data:`REFERENCE_LATENCY_FACTOR` x the slowest (NaN
    without any finite latency)."""
    finite = [float(v) for v in latencies if v is not None and math.isfinite(float(v))]
    slowest = max(finite) if finite else math.nan
    return {"val_acc": REFERENCE_ACCURACY, "latency_ms": REFERENCE_LATENCY_FACTOR * slowest}


# ----------------------------------------------------------------- one trial's record

def counted(record: TrialRecord) -> bool:
    """Whether the trial counts toward the budget (whatever its state)."""
    return record.reused_from is None and not record.predicted_only


def measured(record: TrialRecord, state: str) -> bool:
    """Complete and :func:`counted`."""
    return state == "COMPLETE" and counted(record)


def feasible(constraints: Mapping[str, float]) -> bool:
    """Every constraint met (Optuna's convention: a value <= 0 is met)."""
    return all(v <= 0 for v in constraints.values())


def eligible(record: TrialRecord, state: str, constraints: Mapping[str, float]) -> bool:
    """May be on a front: :func:`measured`, :func:`feasible`, not stopped early."""
    return measured(record, state) and feasible(constraints) and not record.stopped_early


def flags(attrs: Mapping[str, Any]) -> TrialRecord:
    """The fields of a stored trial record that the rules read, and only those: cheap enough
    to ask of every trial of a large study on each poll."""
    return TrialRecord(reused_from=attrs.get("reused_from"),
                       predicted_only=attrs.get("predicted_only"),
                       stopped_early=attrs.get("stopped_early"))


def trial_counted(trial: Any) -> bool:
    """:func:`counted` of an Optuna trial."""
    return counted(flags(trial.user_attrs))


def trial_measured(trial: Any) -> bool:
    """:func:`measured` of an Optuna trial."""
    return measured(flags(trial.user_attrs), trial.state.name)


def trial_eligible(trial: Any) -> bool:
    """:func:`eligible` of an Optuna trial."""
    return eligible(flags(trial.user_attrs), trial.state.name, trial.constraints)


# ------------------------------------------------------- the same rules on the table

def counted_mask(frame: pd.DataFrame) -> np.ndarray:
    """:func:`counted` of every row of a results table."""
    return (frame["reused_from"].isna() & (frame["predicted_only"] != True)).to_numpy(bool)  # noqa: E712


def measured_mask(frame: pd.DataFrame) -> np.ndarray:
    """:func:`measured` of every row of a results table."""
    return (frame["state"] == "COMPLETE").to_numpy(bool) & counted_mask(frame)


def feasible_mask(frame: pd.DataFrame) -> np.ndarray:
    """:func:`feasible` of every row of a results table (its ``feasible`` column)."""
    return (frame["feasible"] == True).to_numpy(bool)  # noqa: E712


def eligible_mask(frame: pd.DataFrame) -> np.ndarray:
    """:func:`eligible` of every row of a results table."""
    return (measured_mask(frame) & feasible_mask(frame)
            & (frame["stopped_early"] != True).to_numpy(bool))  # noqa: E712


def bool_column(values: pd.Series) -> pd.Series:
    """A column of True / False / missing as booleans, missing read as False (without
    ``fillna`` on an object column, whose downcast pandas deprecates)."""
    return pd.Series([False if pd.isna(v) else bool(v) for v in values], index=values.index,
                     dtype=bool)
