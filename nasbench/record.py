"""The trial record: everything nasbench stores on one trial, defined once.

The search writes it to the study storage as Optuna user attributes (:meth:`TrialRecord.save`),
the results table reads it back (:meth:`TrialRecord.from_trial`) and derives its columns from
its fields (:meth:`TrialRecord.columns`), reuse copies its measured fields, export and the
dashboard read it. Adding a measured figure is one new field here.

Attribute names are the field names, as studies written by nasbench 0.1 have them, so those
studies open unchanged.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Iterable

from nasbench.env import Conditions
from nasbench.latency import LatencyResult, LatencyStats

if TYPE_CHECKING:
    import optuna

_MEASURED = {"measured": True}  # copied when an architecture is reused


@dataclass(frozen=True)
class TrialRecord:
    """What one trial measured and why it ended as it did."""

    arch: str | None = None
    params: int | None = field(default=None, metadata=_MEASURED)
    macs: int | None = field(default=None, metadata=_MEASURED)
    latency: LatencyResult | None = field(default=None, metadata=_MEASURED)
    val_acc_per_epoch: tuple[float, ...] = field(default=(), metadata=_MEASURED)
    train_time_s: float | None = field(default=None, metadata=_MEASURED)
    stopped_early: bool | None = field(default=None, metadata=_MEASURED)
    stop_reason: str | None = field(default=None, metadata=_MEASURED)
    latency_predicted_ms: float | None = field(default=None, metadata=_MEASURED)
    predicted_only: bool | None = field(default=None, metadata=_MEASURED)
    """Recorded infeasible from the latency model's prediction alone: never trained or timed,
    not counted in the budget."""
    measure_time_s: float | None = None
    reused_from: int | None = None
    fail_reason: str | None = None
    note: str | None = None

    # ------------------------------------------------------------------------- storage

    def to_attrs(self, names: Iterable[str] | None = None) -> dict[str, Any]:
        """The JSON-ready user attributes of the set fields (all, or those in ``names``)."""
        wanted = set(names) if names is not None else None
        attrs: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if (wanted is not None and f.name not in wanted) or value is None or value == ():
                continue
            if isinstance(value, LatencyResult):
                value = value.to_dict()
            elif isinstance(value, tuple):
                value = list(value)
            attrs[f.name] = value
        return attrs

    @classmethod
    def from_attrs(cls, attrs: dict[str, Any]) -> TrialRecord:
        """The record stored in ``attrs`` (unknown keys are ignored, missing ones are ``None``)."""
        values: dict[str, Any] = {f.name: attrs[f.name] for f in fields(cls) if f.name in attrs}
        if isinstance(values.get("latency"), dict):
            values["latency"] = LatencyResult.from_dict(values["latency"])
        if "val_acc_per_epoch" in values:
            values["val_acc_per_epoch"] = tuple(float(a) for a in values["val_acc_per_epoch"] or ())
        return cls(**values)

    @classmethod
    def from_trial(cls, trial: optuna.trial.FrozenTrial | optuna.Trial) -> TrialRecord:
        """The record stored on ``trial``."""
        return cls.from_attrs(trial.user_attrs)

    def save(self, trial: optuna.Trial, *names: str) -> None:
        """Write the fields ``names`` (all set fields when none are named) to ``trial``."""
        for key, value in self.to_attrs(names or None).items():
            trial.set_user_attr(key, value)

    def measured(self) -> TrialRecord:
        """Only the measured fields: what a reuse of the same architecture copies."""
        return TrialRecord(**{f.name: getattr(self, f.name) for f in fields(self)
                              if f.metadata.get("measured")})

    # --------------------------------------------------------------------------- table

    @staticmethod
    def column_names() -> tuple[str, ...]:
        """The table columns a record gives, in order (see :meth:`columns`)."""
        return tuple(TrialRecord().columns(None))

    def columns(self, state: str | None) -> dict[str, Any]:
        """Flat table columns: the scalar fields, the latency statistics (``latency_ms`` is the
        median; ``latency_<stat>`` the others) and conditions, the per-epoch accuracies.

        ``fail_reason`` also says why a trial that failed without a reason (its worker died) or
        was not run (``note``) ended so.
        """
        row: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "latency":
                row.update(_latency_columns(value))
            elif f.name == "val_acc_per_epoch":
                row[f.name] = list(value) if value else None
                row["epochs_trained"] = len(value) if value else None
            elif f.name == "stopped_early":
                row[f.name] = bool(value) if state == "COMPLETE" else value
            elif f.name == "note":
                continue
            elif f.name == "fail_reason":
                row[f.name] = value or self.note or (
                    "its worker stopped sending heartbeats (killed?); retried" if state == "FAIL"
                    else None)
            else:
                row[f.name] = value
        return row


def _latency_columns(latency: LatencyResult | None) -> dict[str, Any]:
    stats = dataclasses.asdict(latency.stats) if latency is not None else {}
    conditions = latency.conditions.to_dict() if latency is not None else {}
    row: dict[str, Any] = {}
    for f in fields(LatencyStats):
        name = "latency_ms" if f.name == "median_ms" else f"latency_{f.name}"
        row[name] = stats.get(f.name)
    row["latency_runs_per_sample"] = latency.runs_per_sample if latency is not None else None
    for f in fields(Conditions):
        row[f.name] = conditions.get(f.name)
    return row
