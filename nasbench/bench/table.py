"""A bench's table: one row per architecture, derived from its study, and how every reader
(``results``, ``replay``, the dashboard) opens it. Reading a table imports no torch."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import optuna
import pandas as pd
from optuna.trial import TrialState

from nasbench.study.trial_record import TrialRecord
from nasbench.study.results import COLUMNS, pareto_frame, pareto_mask, results_frame
from nasbench.study.rules import reference_point
from nasbench.study.study_record import StudyRecord

from nasbench.bench.files import CSV_FILE, META_FILE, TABLE_FILE, imported_folder, load_bench

__all__ = ["CSV_FILE", "META_FILE", "TABLE_FILE", "BenchRecord", "Opened", "as_results_frame",
           "bench_meta", "bench_table", "imported_folder", "load_bench", "open_table", "table_of"]


@dataclass(frozen=True)
class BenchRecord(TrialRecord):
    """A bench trial's record: the trial record, plus which pass it is and, in the first pass,
    every seed's accuracies (``val_acc_per_epoch`` is the first seed's)."""

    bench_pass: int | None = None
    seed_val_acc_per_epoch: tuple[tuple[float, ...], ...] = ()
    seed_test_acc: tuple[float, ...] = ()

    @classmethod
    def from_attrs(cls, attrs: dict[str, Any]) -> BenchRecord:
        record = super().from_attrs(attrs)
        assert isinstance(record, BenchRecord)
        return dataclasses.replace(
            record, seed_val_acc_per_epoch=tuple(tuple(map(float, s)) for s in record.seed_val_acc_per_epoch),
            seed_test_acc=tuple(map(float, record.seed_test_acc)))


def bench_table(study: optuna.Study) -> pd.DataFrame:
    """One row per architecture of a bench study (see docs/concepts/bench-replay.md for every column)."""
    study_record = StudyRecord.of(study)
    settings = study_record.settings or {}
    seeds, passes = settings["seeds"], settings["passes"]
    by_arch: dict[str, dict[int, BenchRecord]] = {}
    for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        record = BenchRecord.from_trial(trial)
        by_arch.setdefault(record.arch, {})[record.bench_pass] = record
    rows = []
    for arch in study_record.archs or ():
        runs = by_arch.get(arch, {})
        first = runs.get(1)
        row: dict[str, Any] = {"arch": arch, "complete": len(runs) == passes and first is not None}
        row["params"] = first.params if first else None
        row["macs"] = first.macs if first else None
        medians = []
        for p in range(1, passes + 1):
            latency = runs[p].latency if p in runs else None
            row[f"latency_ms_pass{p}"] = latency.stats.median_ms if latency else None
            row[f"latency_iqr_ms_pass{p}"] = latency.stats.iqr_ms if latency else None
            row[f"latency_samples_pass{p}"] = latency.stats.samples if latency else None
            if latency:
                medians.append(latency.stats.median_ms)
        row["latency_ms"] = float(np.median(medians)) if medians else None
        row["latency_pass_spread"] = ((max(medians) - min(medians)) / row["latency_ms"]
                                      if len(medians) > 1 else None)
        curves = first.seed_val_acc_per_epoch if first else ()
        last = [c[-1] for c in curves if c]
        row["val_acc_mean"] = float(np.mean(last)) if last else None
        row["val_acc_std"] = float(np.std(last, ddof=1)) if len(last) > 1 else None
        for k in range(seeds):
            row[f"val_acc_seed{k}"] = last[k] if k < len(last) else None
            row[f"val_acc_per_epoch_seed{k}"] = list(curves[k]) if k < len(curves) else None
        row["val_acc_per_epoch_mean"] = (list(np.mean(np.array(curves), axis=0))
                                         if curves and len({len(c) for c in curves}) == 1 else None)
        tests = first.seed_test_acc if first else ()
        row["test_acc_mean"] = float(np.mean(tests)) if tests else None
        for k in range(seeds):
            row[f"test_acc_seed{k}"] = tests[k] if k < len(tests) else None
        row["train_time_s"] = first.train_time_s if first else None
        times = [r.measure_time_s for r in runs.values() if r.measure_time_s is not None]
        row["measure_time_s"] = float(np.mean(times)) if times else None
        conditions = first.latency.conditions.to_dict() if first and first.latency else {}
        row.update({f"cond_{k}": v for k, v in conditions.items()})
        row.update(epochs=(len(curves[0]) if curves else None), seeds=seeds, passes=passes)
        rows.append(row)
    frame = pd.DataFrame(rows)
    ok = frame["complete"].to_numpy(bool)
    acc = pd.to_numeric(frame["val_acc_mean"]).fillna(-np.inf).to_numpy(float)
    lat = pd.to_numeric(frame["latency_ms"]).fillna(np.inf).to_numpy(float)
    frame.insert(1, "pareto", pareto_mask(acc, lat, ok))
    return frame


def as_results_frame(table: pd.DataFrame) -> pd.DataFrame:
    """A bench table in the shape of a search's results table (one complete, feasible trial per
    architecture, numbered in table order), so every chart and selection works on it: its
    ``val_acc`` is the mean over seeds, its ``latency_ms`` the median over passes."""
    rows = []
    for number, row in enumerate(table.to_dict(orient="records")):
        out = {c: None for c in COLUMNS}
        out.update({k[5:]: v for k, v in row.items() if k.startswith("cond_")})
        out.update(number=number, state="COMPLETE" if row["complete"] else "RUNNING",
                   arch=row["arch"], val_acc=row["val_acc_mean"], latency_ms=row["latency_ms"],
                   params=row["params"], macs=row["macs"], feasible=bool(row["complete"]),
                   pareto=bool(row["pareto"]), latency_iqr_ms=row.get("latency_iqr_ms_pass1"),
                   val_acc_per_epoch=row.get("val_acc_per_epoch_mean"),
                   train_time_s=row["train_time_s"], measure_time_s=row["measure_time_s"])
        rows.append(out)
    return pd.DataFrame(rows, columns=list(COLUMNS))


def bench_meta(study: optuna.Study, table: pd.DataFrame,
               n_val_of: Callable[[], int] | None = None) -> dict[str, Any]:
    """What a table is: space, data shape, protocol, whether it holds the whole space, and the
    hypervolume reference point every replay of it uses. ``n_val_of()`` gives the validation
    images of a bench begun before they were recorded (the bench run loads its split again)."""
    record = StudyRecord.of(study)
    settings = record.settings or {}
    n_val = record.n_val
    if n_val is None:
        if n_val_of is None:
            raise ValueError(f"bench {study.study_name!r} does not record its validation images; "
                             f"run python cli.py bench with its settings again to write its table")
        n_val = n_val_of()
    done = table[table["complete"]]
    return {"kind": "nasbench-bench", "version": 1, "study": study.study_name,
            "space": settings["space"], "dataset": settings["dataset"],
            "shape": list(record.shape or ()), "architectures": len(table),
            "complete": int(done.shape[0]), "whole_space": settings["sample"] is None,
            "seeds": settings["seeds"], "passes": settings["passes"], "n_val": n_val,
            "settings": settings,
            "reference_point": reference_point(done["latency_ms"]),
            "conditions": {c[5:]: done.iloc[0][c] for c in done.columns if c.startswith("cond_")}
            if not done.empty else {}}


@dataclass(frozen=True)
class Opened:
    """What ``results`` shows of a run: its table, its front (cheapest first), whether it is a
    bench (or an imported table), its name and its validation images (``None`` if unknown)."""

    frame: pd.DataFrame
    front: pd.DataFrame
    bench: bool
    name: str
    n_val: int | None


def open_table(run: str, study: str | None = None, runs_dir: str | Path = "runs") -> Opened:
    """The table of a search, a bench or an imported table, by run folder, name or storage URL
    (``ValueError`` naming the problem when there is none)."""
    folder = imported_folder(run, runs_dir)
    if folder is not None:
        table, meta = load_bench(folder)
        return Opened(table, table[table["pareto"]].sort_values("latency_ms"), True,
                      str(meta.get("study") or folder.name), int(meta["n_val"]))
    from nasbench.study.storage import open_run  # deferred: SQLAlchemy's import is not needed for a file

    opened = open_run(run, study, runs_dir)
    frame, front, bench = table_of(opened)
    return Opened(frame, front, bench, opened.study_name, StudyRecord.of(opened).n_val)


def table_of(study: optuna.Study) -> tuple[pd.DataFrame, pd.DataFrame, bool]:
    """The table of any nasbench study, its front (cheapest first) and whether it is a bench:
    one code path for the CLI and the dashboard."""
    if StudyRecord.of(study).is_bench:
        table = bench_table(study)
        return table, table[table["pareto"]].sort_values("latency_ms"), True
    frame = results_frame(study)
    return frame, pareto_frame(frame), False
