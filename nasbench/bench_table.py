"""A bench's table: one row per architecture, derived from its study, and how every reader
(``results``, ``replay``, the dashboard) opens it. Reading a table imports no torch."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
from optuna.trial import TrialState

from nasbench.record import TrialRecord
from nasbench.results import COLUMNS, pareto_frame, pareto_mask, results_frame
from nasbench.rules import reference_point
from nasbench.study_record import StudyRecord

TABLE_FILE = "table.parquet"
CSV_FILE = "table.csv"
META_FILE = "bench.json"


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
    """One row per architecture of a bench study (see the README for every column)."""
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


def bench_meta(study: optuna.Study, table: pd.DataFrame) -> dict[str, Any]:
    """What a table is: space, data shape, protocol, whether it holds the whole space, and the
    hypervolume reference point every replay of it uses."""
    record = StudyRecord.of(study)
    settings = record.settings or {}
    n_val = record.n_val
    if n_val is None:  # benches begun before it was recorded: the same seeded split again
        from nasbench.settings import bench_config_of, load_search_data  # deferred: loads torch,
        # which reading a table never needs otherwise

        n_val = len(load_search_data(bench_config_of(record, study.study_name)).y_val)
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


def load_bench(path: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The table and its description from a bench folder (or its ``table.parquet``).

    Raises ``ValueError`` naming the problem when it is not a bench table.
    """
    folder = Path(path)
    if folder.suffix == ".parquet":
        if folder.name != TABLE_FILE:
            raise ValueError(f"{path} is not a bench's {TABLE_FILE}; give the bench folder "
                             f"(runs/bench-<space>-<dataset>) or its {TABLE_FILE}")
        folder = folder.parent
    meta_path, table_path = folder / META_FILE, folder / TABLE_FILE
    if not folder.exists():
        raise ValueError(f"no bench table at {path}; build one with python cli.py bench --space tiny")
    if not meta_path.is_file() or not table_path.is_file():
        raise ValueError(f"{path} is not a bench table (no {META_FILE} and {TABLE_FILE}); give a "
                         f"folder written by python cli.py bench")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        table = pd.read_parquet(table_path)
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read the bench table at {path} ({exc}); run python cli.py "
                         f"bench again to rewrite it") from None
    if not isinstance(meta, dict) or meta.get("kind") != "nasbench-bench":
        raise ValueError(f"{meta_path} does not describe a bench table; give a folder written by "
                         f"python cli.py bench")
    problem = _meta_problem(meta) or _table_problem(table, meta)
    if problem:
        raise ValueError(f"the bench table at {path} is damaged ({problem}); run python cli.py "
                         f"bench again to rewrite it")
    return table, meta


def _whole(value: Any, low: int = 1) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _meta_problem(meta: dict[str, Any]) -> str | None:
    """What is wrong with a bench's description, or ``None``."""
    for key in ("space", "dataset"):
        if not isinstance(meta.get(key), str):
            return f"{META_FILE} has no {key}"
    shape = meta.get("shape")
    if not isinstance(shape, list) or len(shape) != 3 or not all(_whole(v) for v in shape):
        return f"{META_FILE} has no shape (resolution, channels, classes)"
    for key in ("seeds", "passes", "n_val", "complete"):
        if not _whole(meta.get(key), 0 if key == "complete" else 1):
            return f"{META_FILE} has no {key}"
    ref = meta.get("reference_point")
    if not isinstance(ref, dict) or not all(isinstance(ref.get(k), (int, float))
                                            for k in ("val_acc", "latency_ms")):
        return f"{META_FILE} has no reference point"
    if not isinstance(meta.get("conditions"), dict) or not isinstance(meta.get("whole_space"), bool):
        return f"{META_FILE} has no conditions"
    return None


def _table_problem(table: pd.DataFrame, meta: dict[str, Any]) -> str | None:
    """What is wrong with a bench's table, or ``None``."""
    wanted = ["arch", "complete", "pareto", "params", "macs", "latency_ms", "val_acc_mean",
              "train_time_s", "measure_time_s", "epochs"]
    wanted += [f"{c}_pass{p}" for p in range(1, meta["passes"] + 1)
               for c in ("latency_ms", "latency_iqr_ms", "latency_samples")]
    wanted += [f"val_acc_per_epoch_seed{k}" for k in range(meta["seeds"])]
    missing = [c for c in wanted if c not in table.columns]
    if missing:
        return f"no column {', '.join(missing[:3])}{' …' if len(missing) > 3 else ''}"
    if not table["complete"].astype(bool).any():
        return "no complete architecture"
    return None


def table_of(study: optuna.Study) -> tuple[pd.DataFrame, pd.DataFrame, bool]:
    """The table of any nasbench study, its front (cheapest first) and whether it is a bench:
    one code path for the CLI and the dashboard."""
    if StudyRecord.of(study).is_bench:
        table = bench_table(study)
        return table, table[table["pareto"]].sort_values("latency_ms"), True
    frame = results_frame(study)
    return frame, pareto_frame(frame), False
