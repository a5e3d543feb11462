"""The results table: one row per trial, derived from the study storage (the single source of truth)."""

from __future__ import annotations

import datetime
import itertools
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from nasbench.errors import DamagedValue
from nasbench.files import atomic_write
from nasbench.study.noise import noise_front_mask, seeds_interval, wilson_interval
from nasbench.study.trial_record import TrialRecord, columns_of
from nasbench.study.rules import eligible_mask, feasible, bool_column
from nasbench.study.study_record import Confirmation, StudyRecord
from nasbench.study.reader import TrialReader

if TYPE_CHECKING:
    import optuna

_HEAD: tuple[str, ...] = ("number", "state", "space", "dataset", "val_acc", "feasible", "pareto",
                           "pareto_noise", "confirmed", "val_acc_ci_low", "val_acc_ci_high",
                           "latency_ci_low_ms", "latency_ci_high_ms")
_TAIL: tuple[str, ...] = ("val_acc_search", "latency_search_ms", "val_acc_seeds", "retry_of",
                          "duration_s", "datetime_start")
TRIAL_NUMBERS: tuple[str, ...] = ("reused_from", "retry_of")
"""Columns that hold another trial's number, or nothing."""
COLUMNS: tuple[str, ...] = _HEAD + TrialRecord.column_names() + _TAIL
"""The table's columns: trial-level ones, then those of :class:`~nasbench.study.trial_record.TrialRecord`."""


def pareto_mask(accuracy: np.ndarray, latency: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """Non-dominated points among ``eligible``: higher accuracy and lower latency are better.

    A point is dominated when another eligible point is at least as good in both objectives
    and strictly better in one. Ties in both objectives are all kept.
    """
    accuracy, latency = np.asarray(accuracy, float), np.asarray(latency, float)
    eligible = np.asarray(eligible, bool)
    mask = np.zeros(len(accuracy), dtype=bool)
    idx = np.flatnonzero(eligible)
    best_acc, best_lat = -np.inf, np.inf
    # Sweep by latency (ascending), then accuracy (descending): every earlier point is at least
    # as fast, so a point survives only by beating the best accuracy so far, or tying it exactly.
    for i in idx[np.lexsort((-accuracy[idx], latency[idx]))]:
        if accuracy[i] > best_acc:
            best_acc, best_lat = accuracy[i], latency[i]
            mask[i] = True
        elif accuracy[i] == best_acc and latency[i] == best_lat:
            mask[i] = True
    return mask


def hypervolume(accuracy: np.ndarray, latency: np.ndarray, ref_latency: float,
                ref_accuracy: float = 0.0) -> float:
    """Area dominated by the points (accuracy up, latency down) and bounded by the reference
    point: accuracy above ``ref_accuracy``, latency below ``ref_latency`` (accuracy × ms)."""
    accuracy, latency = np.asarray(accuracy, float), np.asarray(latency, float)
    keep = (latency < ref_latency) & (accuracy > ref_accuracy)
    accuracy, latency = accuracy[keep], latency[keep]
    if not len(accuracy):
        return 0.0
    front = pareto_mask(accuracy, latency, np.ones(len(accuracy), bool))
    order = np.argsort(latency[front])
    lat, acc = latency[front][order], accuracy[front][order]
    widths = np.diff(np.append(lat, ref_latency))
    return float(np.sum(widths * (acc - ref_accuracy)))


def _row(trial: optuna.trial.FrozenTrial, space: str, dataset: str) -> dict[str, Any]:
    state = trial.state.name
    attrs = trial.user_attrs
    return {
        "number": trial.number, "state": state, "space": space, "dataset": dataset,
        "val_acc": trial.values[0] if trial.values is not None and not attrs.get("predicted_only")
        else None,
        "feasible": feasible(trial.constraints) if trial.values is not None else None,
        "pareto": False,
        **columns_of(attrs, state),
        "retry_of": trial.system_attrs.get("failed_trial"),
        "duration_s": trial.duration.total_seconds() if trial.duration is not None else None,
        "datetime_start": trial.datetime_start,
    }


_VERSIONS = itertools.count(1)


class ResultsTable:
    """The results table of one study, kept up to date in time that grows with what changed.

    Each :meth:`refresh` reads only the trials added or still running since the last one
    (:class:`nasbench.study.reader.TrialReader`), derives their rows, and re-derives the table's
    columns (intervals, fronts) on the whole frame, vectorized. One code path for the CLI,
    the dashboard and export. Thread-safe as far as the reader is; the frame returned is the
    caller's to keep (a new one after each change).
    """

    def __init__(self, study: optuna.Study) -> None:
        self.reader = TrialReader(study)
        self._rows: dict[int, dict[str, Any]] = {}  # by trial_id
        self._built: dict[int, Any] = {}  # the trial object each row was derived from
        self._attrs_key: tuple[Any, ...] = ()
        self._lock = threading.Lock()
        self._frame: pd.DataFrame | None = None
        self._context: tuple[Any, ...] = ()
        self.version = 0
        """A new number each time the table changes (unique in this process, across tables):
        what caches of figures derived from it key on."""
        self.last_read: datetime.datetime | None = None
        """When the storage was last read successfully (local time)."""

    @property
    def last_frame(self) -> pd.DataFrame | None:
        """The table as last read (``None`` before the first successful refresh)."""
        return self._frame

    @property
    def study(self) -> optuna.Study:
        """The study read."""
        return self.reader.study

    @property
    def record(self) -> StudyRecord:
        """The study's record as of the last refresh."""
        return StudyRecord.from_attrs(self.reader.user_attrs)

    def refresh(self) -> pd.DataFrame:
        """The table as the storage holds it now (the same frame object when nothing changed).
        Raises :class:`nasbench.study.reader.StorageUnreachable` when the storage cannot be read."""
        with self._lock:  # the dashboard's sessions share one table
            return self._refresh()

    def _refresh(self) -> pd.DataFrame:
        self.reader.refresh()
        self.last_read = datetime.datetime.now()
        record = StudyRecord.from_attrs(self.reader.user_attrs)
        trials = self.reader.trials
        context = (record.space or "", record.dataset or "")
        if context != self._context:
            self._rows, self._built, self._context = {}, {}, context
        stale = [tid for tid, trial in trials.items() if self._built.get(tid) is not trial]
        gone = set(self._rows) - set(trials)
        attrs_key = (record.n_val, repr(record.confirmation))
        if self._frame is not None and not stale and not gone and attrs_key == self._attrs_key:
            return self._frame
        for tid in gone:
            del self._rows[tid], self._built[tid]
        for tid in stale:  # only the trials read since the last refresh
            try:
                self._rows[tid] = _row(trials[tid], *context)
            except (TypeError, ValueError, KeyError, AttributeError) as exc:
                raise DamagedValue(f"trial {trials[tid].number}: {type(exc).__name__}: "
                                   f"{str(exc)[:80]}") from None
            self._built[tid] = trials[tid]
        rows = sorted(self._rows.values(), key=lambda r: r["number"])
        frame = pd.DataFrame.from_records(rows, columns=list(COLUMNS))
        self._frame = annotate(frame, record.n_val, record.confirmation)
        self._attrs_key = attrs_key
        self.version = next(_VERSIONS)
        self._frame.attrs["version"] = self.version
        return self._frame


def results_frame(study: optuna.Study) -> pd.DataFrame:
    """One row per trial of ``study`` (columns in :data:`COLUMNS`), with the confirmed figures
    where the study was confirmed, intervals and Pareto flags (see :func:`annotate`): a
    :class:`ResultsTable` read once."""
    return ResultsTable(study).refresh()


def annotate(frame: pd.DataFrame, n_val: int | None,
             confirmation: Confirmation | None = None) -> pd.DataFrame:
    """Fill the derived columns of a results table, vectorized, in place (and return it).

    ``val_acc_search`` / ``latency_search_ms`` keep the search's own figures; where
    ``confirmation`` (a :class:`~nasbench.study.study_record.Confirmation`) has a trial, ``latency_ms``
    becomes its confirmed latency and ``val_acc`` its mean over seeds, ``confirmed`` is set.
    Intervals: Wilson's on ``val_acc`` from ``n_val`` validation images (with several seeds, see
    :func:`nasbench.study.noise.seeds_interval`), the median's on latency. Then ``pareto`` (the front
    on these figures) and ``pareto_noise`` (the front within noise, :mod:`nasbench.study.noise`).
    """
    if frame.empty:
        return frame
    for column in TRIAL_NUMBERS:  # whole numbers with gaps: never printed as 5.0
        frame[column] = pd.array(pd.to_numeric(frame[column], errors="coerce").tolist(), dtype="Int64")
    frame["val_acc_search"] = frame["val_acc"]
    frame["latency_search_ms"] = frame["latency_ms"]
    frame["latency_ci_low_ms"] = frame["latency_median_ci_low_ms"]
    frame["latency_ci_high_ms"] = frame["latency_median_ci_high_ms"]
    frame["confirmed"] = False
    acc = pd.to_numeric(frame["val_acc"], errors="coerce").to_numpy(float)
    low, high = wilson_interval(acc, n_val if n_val else np.nan)
    frame["val_acc_ci_low"], frame["val_acc_ci_high"] = low, high
    frame["val_acc_seeds"] = None
    if confirmation is not None:
        index = {int(n): i for i, n in zip(frame.index, frame["number"])}
        for number, figures in confirmation.trials.items():
            i = index.get(int(number))
            if i is None:
                continue
            frame.loc[i, ["latency_ms", "latency_ci_low_ms", "latency_ci_high_ms", "confirmed"]] = [
                figures["latency_ms"], figures["ci_low_ms"], figures["ci_high_ms"], True]
            seeds = figures.get("val_acc_seeds")
            if seeds and len(seeds) > 1:
                mean, std = float(np.mean(seeds)), float(np.std(seeds, ddof=1))
                frame.at[i, "val_acc"] = mean
                frame.at[i, "val_acc_seeds"] = tuple(seeds)
                if n_val:
                    frame.loc[i, ["val_acc_ci_low", "val_acc_ci_high"]] = list(
                        seeds_interval(mean, std, len(seeds), int(n_val)))
        frame["confirmed"] = frame["confirmed"].astype(bool)
    frame["pareto"] = front_mask(frame)
    latency = pd.to_numeric(frame["latency_ms"], errors="coerce")
    lat_low = pd.to_numeric(frame["latency_ci_low_ms"], errors="coerce").fillna(latency)
    lat_high = pd.to_numeric(frame["latency_ci_high_ms"], errors="coerce").fillna(latency)
    acc = pd.to_numeric(frame["val_acc"], errors="coerce")
    acc_low = pd.to_numeric(frame["val_acc_ci_low"], errors="coerce").fillna(acc)
    acc_high = pd.to_numeric(frame["val_acc_ci_high"], errors="coerce").fillna(acc)
    frame["pareto_noise"] = noise_front_mask(acc_low.to_numpy(float), acc_high.to_numpy(float),
                                             lat_low.to_numpy(float), lat_high.to_numpy(float),
                                             eligible_mask(frame)) | frame["pareto"].to_numpy(bool)
    return frame


def front_mask(frame: pd.DataFrame, x: str = "latency_ms") -> np.ndarray:
    """The Pareto front of the eligible trials: validation accuracy up, ``x`` down."""
    acc = pd.to_numeric(frame["val_acc"], errors="coerce").fillna(-np.inf).to_numpy(float)
    cost = pd.to_numeric(frame[x], errors="coerce").fillna(np.inf).to_numpy(float)
    return pareto_mask(acc, cost, eligible_mask(frame))


def pareto_frame(frame: pd.DataFrame, x: str = "latency_ms") -> pd.DataFrame:
    """The Pareto-front rows for accuracy against ``x``, cheapest first."""
    if frame.empty:
        return frame
    mask = frame["pareto"].to_numpy(bool) if x == "latency_ms" else front_mask(frame, x)
    return frame[mask].sort_values([x, "val_acc"]).reset_index(drop=True)


def best_within(frame: pd.DataFrame, max_latency_ms: float) -> pd.Series | None:
    """The most accurate eligible trial with latency ≤ ``max_latency_ms`` (ties: the faster),
    or ``None``."""
    ok = frame[eligible_mask(frame) & (pd.to_numeric(frame["latency_ms"]) <= max_latency_ms).to_numpy()]
    if ok.empty:
        return None
    return ok.sort_values(["val_acc", "latency_ms"], ascending=[False, True]).iloc[0]


def write_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` as CSV or Parquet (by suffix), atomically: never a half-written file."""
    path = Path(path)
    if path.suffix.lower() not in (".csv", ".parquet"):
        raise ValueError(f"cannot write a table to {path}: give a file name ending in .csv or "
                         f".parquet")
    table = frame.copy()
    if path.suffix.lower() == ".csv":  # lists (accuracy per epoch…) as space-separated numbers
        for column in table.columns:
            if table[column].map(lambda v: isinstance(v, (list, tuple, np.ndarray))).any():
                table[column] = table[column].map(
                    lambda v: " ".join(f"{a:.4f}" for a in v)
                    if isinstance(v, (list, tuple, np.ndarray)) else v)
    atomic_write(path, lambda tmp: table.to_csv(tmp, index=False) if path.suffix.lower() == ".csv"
                 else table.to_parquet(tmp, index=False))
    return path


PICKS: tuple[str, ...] = ("knee", "accuracy", "latency")


def select_trial(frame: pd.DataFrame, trial: int | None = None, max_latency_ms: float | None = None,
                 pick: str = "knee") -> pd.Series:
    """Choose one completed trial: by number, the most accurate within a latency budget, or
    ``pick`` on the Pareto front, among its confirmed trials when it has some (``knee``:
    closest to the ideal point once accuracy and latency are scaled to [0, 1] over the front;
    ``accuracy``; ``latency``).

    Raises ``ValueError`` naming the problem when nothing qualifies.
    """
    complete = frame[frame["state"] == "COMPLETE"]
    if complete.empty:
        raise ValueError("the run has no finished trial; run or resume the search first")
    if trial is not None:
        rows = complete[complete["number"] == trial]
        if rows.empty:
            raise ValueError(f"trial {trial} is not a completed trial of this run; completed: "
                             f"{', '.join(map(str, complete['number'].head(20)))}…")
        return rows.iloc[0]
    if max_latency_ms is not None:
        best = best_within(frame, max_latency_ms)
        if best is None:
            lat = frame.loc[eligible_mask(frame), "latency_ms"]
            fastest = f"{lat.min():.3f} ms" if not lat.empty else "none"
            raise ValueError(f"no feasible trial has latency <= {max_latency_ms} ms (fastest: "
                             f"{fastest}); raise --max-latency-ms")
        return best
    if pick not in PICKS:
        raise ValueError(f"unknown pick {pick!r}; choose one of {', '.join(PICKS)}")
    front = pareto_frame(frame)
    if front.empty:
        raise ValueError("the run has no feasible completed trial: its Pareto front is empty")
    if "confirmed" in front and bool_column(front["confirmed"]).any():
        front = front[bool_column(front["confirmed"])]  # trust what was re-measured
    if pick == "accuracy":
        return front.sort_values(["val_acc", "latency_ms"], ascending=[False, True]).iloc[0]
    if pick == "latency":
        return front.iloc[0]
    acc, lat = front["val_acc"].to_numpy(float), front["latency_ms"].to_numpy(float)
    acc_n = (acc - acc.min()) / (np.ptp(acc) or 1.0)
    lat_n = (lat - lat.min()) / (np.ptp(lat) or 1.0)
    return front.iloc[int(np.argmin(np.hypot(1.0 - acc_n, lat_n)))]
