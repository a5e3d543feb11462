"""Export an architecture as a standalone PyTorch module (``model.py`` importing only torch),
its spec and measurements (``arch.json``), a ``torch.export`` program, and weights once trained.

The generated code holds only validated numbers and names from the spec: integers, floats and
activation names from a fixed list. Nothing a user typed is pasted into it.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import re
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch

from nasbench import blocks as blocks_module
from nasbench.arch import ACTIVATIONS, Arch, decode, encode, from_dict, resolve_blocks, to_dict
from nasbench.build import build_model

logger = logging.getLogger(__name__)

MODEL_FILE = "model.py"
ARCH_FILE = "arch.json"
WEIGHTS_FILE = "weights.pt"
PROGRAM_FILE = "model.pt2"
ONNX_FILE = "model.onnx"
_SAFE_STRING = re.compile(r"[a-z0-9_.:]+")


def _act(name: str | None) -> str:
    if name is not None and name not in ACTIVATIONS:
        raise ValueError(f"activation {name!r} is not one of {', '.join(ACTIVATIONS)}")
    return repr(name)


def _blocks_source() -> str:
    """The layer classes of :mod:`nasbench.blocks`, which import only torch."""
    source = inspect.getsource(blocks_module)
    body = source.split("from torch import Tensor, nn", 1)[1]
    return "from torch import Tensor, nn\n" + body.rstrip() + "\n"


def _block_line(cfg: Any) -> str:
    args = (f"{cfg.in_channels}, {cfg.out_channels}, {cfg.kernel}, {cfg.stride}, "
            f"{_act(cfg.activation)}")
    if cfg.kind == "conv":
        return f"ConvBlock({args}, se_chs={cfg.se_channels})"
    if cfg.kind == "ds":
        return f"DepthwiseSeparable({args}, se_chs={cfg.se_channels})"
    return f"InvertedResidual({args}, mid_chs={cfg.mid_channels}, se_chs={cfg.se_channels})"


def model_source(arch: Arch, figures: dict[str, Any] | None = None) -> str:
    """The text of a standalone ``model.py`` for ``arch`` (imports only torch)."""
    arch = decode(encode(arch))  # validated, canonical
    text = encode(arch)
    if not _SAFE_STRING.fullmatch(text):
        raise ValueError("architecture string has unexpected characters")
    figure_lines = []
    for key, value in (figures or {}).items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not re.fullmatch(r"[a-z0-9_]+", key):
            continue
        figure_lines.append(f"#   {key} = {value!r}")
    configs = iter(resolve_blocks(arch))
    stage_lines = []
    for stage in arch.stages:
        inner = ",\n".join(f"                {_block_line(next(configs))}" for _ in range(stage.repeats))
        stage_lines.append(f"            nn.Sequential(\n{inner},\n            ),")
    head = arch.head
    width = arch.stages[-1].channels
    head_conv = (f"ConvBnAct({width}, {head.channels}, 1, 1, {_act(head.activation)})"
                 if head.channels else "nn.Identity()")
    width = head.channels or width
    if head.hidden:
        hidden = (f"nn.Sequential(nn.Linear({width}, {head.hidden}), "
                  f"make_activation({_act(head.activation)}))")
        width = head.hidden
    else:
        hidden = "nn.Identity()"
    dropout = f"nn.Dropout({float(head.dropout)!r})" if head.dropout else "nn.Identity()"
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
    ])
    model_class = f'''

ARCH = {text!r}
INPUT_SHAPE = ({arch.in_channels}, {arch.resolution}, {arch.resolution})
NUM_CLASSES = {arch.num_classes}


class Model(nn.Module):
    """The exported network; module names match nasbench's, so its state dicts load."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = ConvBnAct({arch.in_channels}, {arch.stem.channels}, {arch.stem.kernel}, {arch.stem.stride}, {_act(arch.stem.activation)})
        self.blocks = nn.Sequential(
{chr(10).join(stage_lines)}
        )
        self.conv_head = {head_conv}
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten(1)
        self.hidden = {hidden}
        self.dropout = {dropout}
        self.classifier = nn.Linear({width}, {arch.num_classes})

    def forward(self, x: Tensor) -> Tensor:
        x = self.blocks(self.stem(x))
        x = self.flatten(self.pool(self.conv_head(x)))
        return self.classifier(self.dropout(self.hidden(x)))


def build(weights: str | None = None) -> Model:
    """The model; with ``weights``, a state dict loaded with ``weights_only=True``."""
    model = Model()
    if weights is not None:
        model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return model
'''
    return header + "\n" + _blocks_source() + model_class


def _atomic_write(path: Path, write: Any) -> None:
    """Write through a temporary file in the same folder, then rename: never half-written."""
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=path.suffix, delete=False) as tmp:
        tmp_path = Path(tmp.name)
    try:
        write(tmp_path)
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def export_arch(arch: Arch, out_dir: str | Path, info: dict[str, Any] | None = None,
                state_dict: dict[str, torch.Tensor] | None = None, onnx: bool = False) -> dict[str, Path]:
    """Write ``model.py``, ``arch.json``, ``model.pt2`` (and ``weights.pt`` with a state dict)
    into ``out_dir``. ``info`` (measurements, dataset, trial) goes into ``arch.json``.
    Returns the written paths by kind."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    info = dict(info or {})
    figures = {k: info[k] for k in ("trial", "val_acc", "latency_ms", "params", "macs") if k in info}
    written: dict[str, Path] = {}
    source = model_source(arch, figures)
    _atomic_write(out / MODEL_FILE, lambda p: p.write_text(source, encoding="utf-8"))
    written["model"] = out / MODEL_FILE
    _atomic_write(out / ARCH_FILE, lambda p: p.write_text(
        json.dumps({"arch": to_dict(arch), **info}, indent=2, default=str), encoding="utf-8"))
    written["arch"] = out / ARCH_FILE
    model = build_model(arch).eval()
    if state_dict is not None:
        model.load_state_dict(state_dict)
        _atomic_write(out / WEIGHTS_FILE, lambda p: torch.save(model.state_dict(), p))
        written["weights"] = out / WEIGHTS_FILE
    example = (torch.randn(1, arch.in_channels, arch.resolution, arch.resolution),)
    try:
        program = torch.export.export(model, example)
        _atomic_write(out / PROGRAM_FILE, lambda p: torch.export.save(program, p))
        written["program"] = out / PROGRAM_FILE
    except Exception as exc:  # torch.export can reject exotic graphs; the module still works
        logger.warning("torch.export failed: %s", exc)
    if onnx:
        try:
            with warnings.catch_warnings():  # the TorchScript exporter is deprecated; it works
                warnings.simplefilter("ignore", DeprecationWarning)
                _atomic_write(out / ONNX_FILE,
                              lambda p: torch.onnx.export(model, example, str(p), dynamo=False))
            written["onnx"] = out / ONNX_FILE
        except Exception as exc:
            logger.warning("ONNX export failed (pip install onnx to enable it): %s", exc)
    return written


def read_export(export_dir: str | Path) -> tuple[Arch, dict[str, Any]]:
    """The spec and the recorded information of an export folder."""
    path = Path(export_dir) / ARCH_FILE
    if not path.is_file():
        raise ValueError(f"{export_dir} has no {ARCH_FILE}; export a run first (python cli.py export …)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        arch = from_dict(data.pop("arch"))
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"bad {path}: {exc}") from None
    return arch, data


def load_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict saved by nasbench, loaded with ``weights_only=True`` (no arbitrary pickles)."""
    return torch.load(path, map_location="cpu", weights_only=True)
