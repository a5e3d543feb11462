"""The trial record: everything nasbench stores on one trial, defined once.

The search writes it to the study storage as Optuna user attributes (:meth:`TrialRecord.save`),
the results table reads it back (:meth:`TrialRecord.from_trial`) and derives its columns from
its fields (:meth:`TrialRecord.columns`), reuse copies its measured fields, export and the
dashboard read it. Adding a measured figure is one new field here.

Attribute names are the field names, as studies written by nasbench 0.1 have them, so those
studies open unchanged.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Iterable

from nasbench.measure.conditions import Conditions
from nasbench.measure.stats import LatencyResult, LatencyStats

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
    train_threads: float | None = None
    """CPU threads per training step, weighted by time (the governor adapts them to the host's
    load, :mod:`nasbench.train.threads`)."""
    wait_s: float | None = None
    """Seconds the trial waited for other nasbench processes on this machine: its latency
    measurement for their training steps, its training steps for their measurements."""
    wait_timed_out: bool | None = None
    """The measurement's wait ran out and it was taken beside other work."""
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
        values: dict[str, Any] = {name: attrs[name] for name in _field_names(cls) if name in attrs}
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
        was not run (``note``) ended so. (The same as :func:`columns_of` on :meth:`to_attrs`.)
        """
        return columns_of(self.to_attrs(), state)


def columns_of(attrs: dict[str, Any], state: str | None) -> dict[str, Any]:
    """:meth:`TrialRecord.columns` of the record stored in the user attributes ``attrs``,
    without building the record: a table of 10,000 trials derives its rows from the stored
    attributes directly (building the frozen dataclasses was most of its time)."""
    row: dict[str, Any] = {}
    for name in _field_names(TrialRecord):
        value = attrs.get(name)
        if name == "latency":
            row.update(_latency_columns(value if isinstance(value, dict) else None))
        elif name == "val_acc_per_epoch":
            accuracies = [float(a) for a in value] if value else None
            row[name] = accuracies
            row["epochs_trained"] = len(accuracies) if accuracies else None
        elif name == "stopped_early":
            row[name] = bool(value) if state == "COMPLETE" else value
        elif name == "note":
            continue
        elif name == "fail_reason":
            row[name] = value or attrs.get("note") or (
                "its worker stopped sending heartbeats (killed?); retried" if state == "FAIL"
                else None)
        else:
            row[name] = value
    return row


@functools.lru_cache(maxsize=None)
def _field_names(cls: type) -> tuple[str, ...]:
    """A dataclass's field names, looked up once (a results table asks per trial)."""
    return tuple(f.name for f in fields(cls))


_STATS = tuple((f.name, "latency_ms" if f.name == "median_ms" else f"latency_{f.name}")
               for f in fields(LatencyStats))
_CONDITIONS = tuple(f.name for f in fields(Conditions))
_HOST = ("busy", "load_1m", "run_queue", "steal", "preempted", "wall_over_cpu")
"""What :class:`nasbench.measure.hostload.HostLoad` records, as ``host_<name>`` columns."""


def _latency_columns(latency: dict[str, Any] | None) -> dict[str, Any]:
    """The latency columns of a stored latency (:meth:`LatencyResult.to_dict`), or all
    missing."""
    data = latency or {}
    conditions = data.get("conditions") or {}
    row: dict[str, Any] = {column: data.get(name) for name, column in _STATS}
    row["latency_runs_per_sample"] = data.get("runs_per_sample")
    row["latency_wall_ms"] = data.get("wall_median_ms", data.get("median_ms") if latency and not
                                      conditions.get("clock") else None)
    host = data.get("host") or {}
    for name in _HOST:
        row[f"host_{name}"] = host.get(name)
    for name in _CONDITIONS:
        row[name] = conditions.get(name)
    if latency and not conditions.get("clock"):
        row["clock"] = "wall"  # every figure before the clock was recorded
    return row
