"""A bench table's files: where they are and how they are read and checked (no study, no
torch): ``runs/<bench>/table.parquet`` and its description ``bench.json``, written by ``bench``
(from its study) or by ``bench-import`` (from published figures)."""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

import pandas as pd

TABLE_FILE = "table.parquet"
CSV_FILE = "table.csv"
META_FILE = "bench.json"


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
    stamps = tuple((p.stat().st_mtime_ns, p.stat().st_size) for p in (meta_path, table_path))
    table, meta = _read_checked(str(path), str(folder.resolve()), stamps)
    return table.copy(), copy.deepcopy(meta)


@functools.lru_cache(maxsize=4)
def _read_checked(path: str, folder_path: str, stamps: tuple[tuple[int, int], ...]
                  ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """:func:`load_bench`'s reading and checking, once per folder and version of its files
    (a search reads its ``--accuracy-from`` table in several places as it starts)."""
    folder = Path(folder_path)
    meta_path, table_path = folder / META_FILE, folder / TABLE_FILE
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


def imported_folder(run: str, runs_dir: str | Path = "runs") -> Path | None:
    """The folder of an imported table (``bench-import``: a bench's table and description,
    no study) that ``run`` names, as a folder or a name under ``runs_dir``; ``None`` otherwise."""
    if "://" in str(run):
        return None
    path = Path(run)
    if not path.is_dir() and (Path(runs_dir) / run).is_dir():
        path = Path(runs_dir) / run
    return path if (path / META_FILE).is_file() and not (path / "study.db").is_file() else None
