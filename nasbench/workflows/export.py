"""Export an architecture as a standalone PyTorch module (``model.py`` importing only torch),
its spec and measurements (``arch.json``), a ``torch.export`` program, and weights once trained.

``model.py`` is generated from the one definition of the network: the functions and classes of
:mod:`nasbench.nn.blocks` and :class:`nasbench.nn.build.Network`, copied as they are, and the
network's layout (:func:`nasbench.nn.build.layout`) written as a literal. The literal holds only
validated numbers and names; nothing a user typed is pasted into the file.
"""

from __future__ import annotations

import inspect
import json
import logging
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import torch

from nasbench import __version__
from nasbench.nn import blocks as blocks_module
from nasbench.nn import cell_blocks as cell_module
from nasbench.spec.arch import AnyArch, decode, from_dict, to_dict
from nasbench.nn.build import Network, any_layout, build_model
from nasbench.train.data import DataSplits, load_dataset
from nasbench.measure.conditions import check_device, check_threads
from nasbench.files import check_output_folder, write_folder
from nasbench.study.trial_record import TrialRecord
from nasbench.spec.references import load_arch
from nasbench.study.results import results_frame, select_trial
from nasbench.study.study_record import StudyRecord
from nasbench.train.proxy import FinalTraining, check_fits, train_final
from nasbench.train.recipe import DEFAULT_BN_CALIBRATION, default_train_config

if TYPE_CHECKING:
    import optuna

logger = logging.getLogger(__name__)

MODEL_FILE = "model.py"
ARCH_FILE = "arch.json"
WEIGHTS_FILE = "weights.pt"
PROGRAM_FILE = "model.pt2"
ONNX_FILE = "model.onnx"
EXPORT_FILES = frozenset({MODEL_FILE, ARCH_FILE, WEIGHTS_FILE, PROGRAM_FILE, ONNX_FILE})
"""What an export folder holds: all that ``--force`` may replace."""
_NAME = re.compile(r"[a-z0-9_]+")
_SAFE_STRING = re.compile(r"[a-z0-9_.:|~+]+")


def _check_literal(value: Any, where: str = "layout") -> None:
    """Only numbers, booleans, None, safe names, lists and dicts may go into generated code."""
    if value is None or isinstance(value, (bool, int, float)):
        return
    if isinstance(value, str):
        if not _NAME.fullmatch(value):
            raise ValueError(f"unexpected text {value!r} in {where}")
        return
    if isinstance(value, list):
        for item in value:
            _check_literal(item, where)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            _check_literal(key, where)
            _check_literal(item, where)
        return
    raise ValueError(f"unexpected {type(value).__name__} in {where}")


def _layout_literal(plan: dict[str, Any]) -> str:
    """The layout as readable Python: one line per layer."""
    if plan.get("family") == "nb201":
        return "{\n" + "".join(f"    {k!r}: {v!r},\n" for k, v in plan.items()) + "}"
    stages = "".join(f"        [  # stage {i}\n" + "".join(f"            {block!r},\n" for block in stage)
                     + "        ],\n" for i, stage in enumerate(plan["stages"]))
    return (f"{{\n    'stem': {plan['stem']!r},\n    'stages': [\n{stages}    ],\n"
            f"    'head': {plan['head']!r},\n}}")


def _definitions(cells: bool = False) -> str:
    """The source of every function and class of :mod:`nasbench.nn.blocks`, then ``Network``; for
    a cell network (``cells``), those of :mod:`nasbench.nn.cell_blocks` that build from a layout."""
    module = cell_module if cells else blocks_module
    members = [obj for obj in vars(module).values()
               if (inspect.isfunction(obj) or inspect.isclass(obj))
               and obj.__module__ == module.__name__ and obj.__name__ != "cell_layout"]
    members.sort(key=lambda obj: inspect.getsourcelines(obj)[1])
    if not cells:
        members.append(Network)
    return "\n\n".join(inspect.getsource(obj).rstrip() for obj in members) + "\n"


def model_source(arch: AnyArch, figures: dict[str, Any] | None = None) -> str:
    """The text of a standalone ``model.py`` for ``arch`` (imports only torch)."""
    arch = decode(arch.to_string())  # validated, canonical
    text = arch.to_string()
    if not _SAFE_STRING.fullmatch(text):
        raise ValueError("architecture string has unexpected characters")
    plan = any_layout(arch)
    cells = plan.get("family") == "nb201"
    _check_literal(plan)
    figure_lines = [f"#   {key} = {value!r}" for key, value in (figures or {}).items()
                    if _NAME.fullmatch(key) and isinstance(value, (int, float))
                    and not isinstance(value, bool)]
    header = "\n".join([
        '"""Standalone model exported by nasbench. Needs only torch.',
        "",
        "    from model import build",
        "    model = build().eval()",
        f"    logits = model(torch.randn(1, {arch.in_channels}, {arch.resolution}, {arch.resolution}))",
        '"""',
        f"# architecture: {text}",
        *(["# chosen for:"] + figure_lines if figure_lines else []),
        "",
        "from __future__ import annotations",
        "",
        "import torch",
        "from torch import Tensor, nn",
    ])
    footer = f'''
ARCH = {text!r}
INPUT_SHAPE = ({arch.in_channels}, {arch.resolution}, {arch.resolution})
NUM_CLASSES = {arch.num_classes}
LAYOUT = {_layout_literal(plan)}


class Model({"CellNetwork" if cells else "Network"}):
    """The exported network; module names match nasbench's, so its state dicts load."""

    def __init__(self) -> None:
        super().__init__(LAYOUT)


def build(weights: str | None = None) -> Model:
    """The model; with ``weights``, a state dict loaded with ``weights_only=True``."""
    model = Model()
    if weights is not None:
        model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return model
'''
    return header + "\n\n\n" + _definitions(cells) + "\n" + footer


def export_arch(arch: AnyArch, out_dir: str | Path, info: dict[str, Any] | None = None,
                state_dict: dict[str, torch.Tensor] | None = None, onnx: bool = False,
                overwrite: bool = False) -> dict[str, Path]:
    """Write ``model.py``, ``arch.json``, ``model.pt2`` (and ``weights.pt`` with a state dict)
    into ``out_dir``, as a whole: the folder is filled beside it and renamed into place.

    ``out_dir`` must be new or empty unless ``overwrite`` (then its old files are all replaced;
    :class:`FileExistsError` otherwise). ``info`` (measurements, dataset, trial) goes into
    ``arch.json``. Returns the written paths by kind.
    """
    out = check_output_folder(out_dir, "--out", overwrite, EXPORT_FILES)
    info = dict(info or {})
    figures = {k: info[k] for k in ("trial", "val_acc", "latency_ms", "params", "macs") if k in info}
    source = model_source(arch, figures)
    model = build_model(arch).eval()
    if state_dict is not None:
        model.load_state_dict(state_dict)
    example = (torch.randn(1, arch.in_channels, arch.resolution, arch.resolution),)
    kinds: dict[str, str] = {}

    def fill(folder: Path) -> None:
        (folder / MODEL_FILE).write_text(source, encoding="utf-8")
        kinds["model"] = MODEL_FILE
        (folder / ARCH_FILE).write_text(json.dumps({"arch": to_dict(arch), **info,
                                                    "nasbench_version": __version__}, indent=2,
                                                   default=str), encoding="utf-8")
        kinds["arch"] = ARCH_FILE
        if state_dict is not None:
            torch.save(model.state_dict(), folder / WEIGHTS_FILE)
            kinds["weights"] = WEIGHTS_FILE
        try:
            torch.export.save(torch.export.export(model, example), folder / PROGRAM_FILE)
            kinds["program"] = PROGRAM_FILE
        except Exception as exc:  # torch.export can reject exotic graphs; the module still works
            logger.warning("torch.export failed: %s", exc)
        if onnx:
            try:
                with warnings.catch_warnings():  # the TorchScript exporter is deprecated; it works
                    warnings.simplefilter("ignore", DeprecationWarning)
                    torch.onnx.export(model, example, str(folder / ONNX_FILE), dynamo=False,
                                      input_names=["input"], output_names=["logits"],
                                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
                kinds["onnx"] = ONNX_FILE
            except Exception as exc:
                (folder / ONNX_FILE).unlink(missing_ok=True)
                logger.warning("ONNX export failed (pip install onnx to enable it): %s", exc)

    write_folder(out, fill, overwrite=overwrite)
    return {kind: out / name for kind, name in kinds.items()}


@dataclass(frozen=True)
class Exported:
    """An exported trial: what was chosen, why, and the files written."""

    arch: AnyArch
    info: dict[str, Any]
    files: dict[str, Path]


def export_trial(study: optuna.Study, out_dir: str | Path, trial: int | None = None,
                 max_latency_ms: float | None = None, pick: str = "knee", onnx: bool = False,
                 overwrite: bool = False) -> Exported:
    """Choose a trial of ``study`` (see :func:`nasbench.study.results.select_trial`) and export it.

    Raises ``ValueError`` when nothing qualifies and :class:`FileExistsError` when ``out_dir``
    holds files and ``overwrite`` is false.
    """
    check_output_folder(out_dir, "--out", overwrite, EXPORT_FILES)
    row = select_trial(results_frame(study), trial=trial, max_latency_ms=max_latency_ms, pick=pick)
    number = int(row["number"])
    record = TrialRecord.from_trial(study.get_trials(deepcopy=False)[number])
    study_record = StudyRecord.of(study)
    identity = study_record.identity or {}
    info = {
        "trial": number, "study": study.study_name, "space": study_record.space,
        "dataset": identity.get("dataset", study_record.dataset),
        "data_dir": identity.get("data_dir"), "val_acc": float(row["val_acc"]),
        "latency_ms": float(row["latency_ms"]), "params": int(row["params"]), "macs": int(row["macs"]),
        "latency": record.latency.to_dict() if record.latency is not None else None,
        "chosen_by": (f"trial {trial}" if trial is not None else
                      f"best accuracy within {max_latency_ms} ms" if max_latency_ms is not None
                      else f"{pick} of the Pareto front"
                      + (" (confirmed trials)" if bool(row.get("confirmed", False)) else "")),
        "confirmed": bool(row.get("confirmed", False)),
    }
    arch = decode(str(row["arch"]))
    return Exported(arch, info, export_arch(arch, out_dir, info, onnx=onnx, overwrite=overwrite))


def read_export(export_dir: str | Path) -> tuple[AnyArch, dict[str, Any]]:
    """The spec and the recorded information of an export folder (``ValueError`` if it is
    not one)."""
    path = Path(export_dir) / ARCH_FILE
    if not path.is_file():
        raise ValueError(f"{export_dir} has no {ARCH_FILE}; export a run first (python cli.py export …)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not isinstance(data.get("arch"), dict):
            raise ValueError("expected an object with an 'arch' object")
        arch = from_dict(data.pop("arch"))
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"bad {path}: {exc}; export the run again") from None
    return arch, data


def load_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict saved by nasbench, loaded with ``weights_only=True`` (no arbitrary pickles)."""
    return torch.load(path, map_location="cpu", weights_only=True)


@dataclass(frozen=True)
class TrainedExport:
    """A full training saved as an export: the training, the data it used, the files."""

    final: FinalTraining
    data: DataSplits
    epochs: int
    files: dict


def train_to_export(spec: str, out: str | None = None, dataset: str | None = None,
                    data_dir: str | None = None, resolution: int | None = None,
                    epochs: int | None = None, seed: int = 0, device: str = "cpu",
                    threads: int | None = None, runs_dir: str = "runs", overwrite: bool = False,
                    memory_check: bool = True,
                    on_start: Callable[[str], None] | None = None,
                    on_epoch: Callable[[int, float], None] | None = None) -> TrainedExport:
    """Train ``spec`` (an export folder, a reference name, a string or a JSON file) in full with
    :func:`train_final` and save weights, spec and program as an export.

    An export folder is refreshed in place (its dataset and data folder are the defaults);
    anything else goes to ``out`` (default ``runs/trained/<digest>/``), which must be new or
    empty unless ``overwrite``. ``on_start(description)`` is called before training.
    """
    if threads is not None:
        check_threads(threads)
    source = Path(spec)
    arch, info = read_export(source) if source.is_dir() else (load_arch(spec), {})
    target = Path(out or (source if source.is_dir() else Path(runs_dir) / "trained" / arch.digest()))
    overwrite = overwrite or target == source  # an export is refreshed in place
    check_output_folder(target, "--out", overwrite, EXPORT_FILES)
    dataset = dataset or info.get("dataset") or "digits"
    data_dir = data_dir or info.get("data_dir")
    data = load_dataset(dataset, data_dir, resolution, seed=seed, cache_dir=Path(runs_dir) / ".cache",
                        memory_check=memory_check)
    config = default_train_config(dataset, epochs, bn_calibration=DEFAULT_BN_CALIBRATION)
    check_fits(arch, data)
    check_device(device)
    if on_start is not None:
        on_start(f"Training {arch.to_string()}\non {data.summary()} (train + val), {config.epochs} "
                 f"epochs, {config.optimizer} lr {config.lr:g}, batch {config.batch_size}, seed {seed}")
    final = train_final(arch, data, config, seed=seed, device=device, threads=threads,
                        on_epoch=on_epoch, memory_check=memory_check)
    info.update({"test_acc": final.test_accuracy, "trained_epochs": config.epochs,
                 "train_seed": seed, "train_time_s": final.result.train_time_s,
                 "bn_calibration": config.bn_calibration,
                 "dataset": dataset, "data_dir": data_dir,
                 "normalize_mean": list(data.mean), "normalize_std": list(data.std)})
    files = export_arch(arch, target, info, state_dict=final.model.state_dict(), overwrite=overwrite)
    return TrainedExport(final, data, config.epochs, files)
