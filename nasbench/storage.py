"""Cheap questions to a study's storage: counts by state, the last finished trial.

Optuna's storages answer them by loading every trial; on a relational storage (SQLite,
PostgreSQL) one SQL query does, which keeps the polling of progress lines and worker loops
from costing a core on a study of thousands of trials (a bench holds one per architecture
and pass). Other storages fall back to Optuna's API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from optuna.trial import TrialState

if TYPE_CHECKING:
    import optuna

_FINISHED = ("COMPLETE", "FAIL", "PRUNED")


def _engine(study: optuna.Study):  # type: ignore[no-untyped-def]
    from optuna.storages import RDBStorage

    storage = study._storage
    storage = getattr(storage, "_backend", storage)  # a cached storage wraps the RDB one
    return storage.engine if isinstance(storage, RDBStorage) else None


def count_states(study: optuna.Study) -> dict[str, int]:
    """Number of trials per state name."""
    import sqlalchemy

    engine = _engine(study)
    if engine is None:
        counts: dict[str, int] = {}
        for trial in study.get_trials(deepcopy=False):
            counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
        return counts
    with engine.connect() as con:
        rows = con.execute(sqlalchemy.text("SELECT state, COUNT(*) FROM trials WHERE study_id = :s "
                                           "GROUP BY state"), {"s": study._study_id}).all()
    return {str(getattr(state, "name", state)): int(n) for state, n in rows}


def last_finished(study: optuna.Study) -> optuna.trial.FrozenTrial | None:
    """The trial that finished last (``None`` when none has)."""
    import sqlalchemy

    engine = _engine(study)
    if engine is None:
        done = [t for t in study.get_trials(deepcopy=False) if t.state.is_finished()]
        return max(done, key=lambda t: t.datetime_complete or t.datetime_start) if done else None
    with engine.connect() as con:
        row = con.execute(sqlalchemy.text(
            "SELECT trial_id FROM trials WHERE study_id = :s AND state IN ('COMPLETE', 'FAIL', "
            "'PRUNED') ORDER BY datetime_complete DESC, trial_id DESC LIMIT 1"),
            {"s": study._study_id}).first()
    return study._storage.get_trial(row[0]) if row else None


def finished(counts: dict[str, int]) -> int:
    """Finished trials in ``counts`` (complete, failed or pruned)."""
    return sum(counts.get(state, 0) for state in _FINISHED)


__all__ = ["TrialState", "count_states", "finished", "last_finished"]
