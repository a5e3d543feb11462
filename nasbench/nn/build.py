"""Build an ``nn.Module`` from an :class:`~nasbench.spec.arch.Arch` spec.

The spec is first turned into a *layout*: plain dicts and lists of numbers and names, one
entry per layer (:func:`layout`). :class:`Network` builds from a layout alone, so the exported
``model.py`` is this same class with the layout written out as a literal.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from nasbench.spec.arch import AnyArch, Arch, BlockConfig, resolve_blocks
from nasbench.nn.blocks import ConvBnAct, make_activation, make_block
from nasbench.nn.cell_blocks import CellNetwork, cell_layout
from nasbench.spec.cells import CellArch


def block_layout(cfg: BlockConfig) -> dict[str, Any]:
    """The keyword arguments of :func:`nasbench.nn.blocks.make_block` for one resolved block."""
    args: dict[str, Any] = {"kind": cfg.kind, "in_chs": cfg.in_channels,
                            "out_chs": cfg.out_channels, "kernel": cfg.kernel,
                            "stride": cfg.stride, "activation": cfg.activation,
                            "se_chs": cfg.se_channels}
    if cfg.kind == "ir":
        args.update(mid_chs=cfg.mid_channels, skip=cfg.has_skip)
    return args


def layout(arch: Arch) -> dict[str, Any]:
    """The network of ``arch`` as plain data: stem, blocks per stage, head."""
    configs = iter(resolve_blocks(arch))
    head = arch.head
    return {
        "stem": {"in_chs": arch.in_channels, "out_chs": arch.stem.channels,
                 "kernel": arch.stem.kernel, "stride": arch.stem.stride,
                 "activation": arch.stem.activation},
        "stages": [[block_layout(next(configs)) for _ in range(stage.repeats)]
                   for stage in arch.stages],
        "head": {"in_chs": arch.stages[-1].channels, "conv_chs": head.channels,
                 "hidden": head.hidden, "dropout": head.dropout, "activation": head.activation,
                 "num_classes": arch.num_classes},
    }


def build_block(cfg: BlockConfig) -> nn.Module:
    """The layer for one resolved block."""
    args = block_layout(cfg)
    return make_block(args.pop("kind"), **args)


class Network(nn.Module):
    """Stem, blocks (one ``nn.Sequential`` per stage), head conv, pool, hidden, dropout, classifier.

    Built from a layout (see :func:`nasbench.nn.build.layout`): plain numbers and names only.
    """

    def __init__(self, layout: dict) -> None:
        super().__init__()
        self.stem = ConvBnAct(**layout["stem"])
        self.blocks = nn.Sequential(*(
            nn.Sequential(*(make_block(**block) for block in stage)) for stage in layout["stages"]
        ))
        head = layout["head"]
        width = head["in_chs"]
        if head["conv_chs"]:
            self.conv_head = ConvBnAct(width, head["conv_chs"], 1, 1, head["activation"])
            width = head["conv_chs"]
        else:
            self.conv_head = nn.Identity()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten(1)
        if head["hidden"]:
            self.hidden = nn.Sequential(nn.Linear(width, head["hidden"]),
                                        make_activation(head["activation"]))
            width = head["hidden"]
        else:
            self.hidden = nn.Identity()
        self.dropout = nn.Dropout(head["dropout"]) if head["dropout"] else nn.Identity()
        self.classifier = nn.Linear(width, head["num_classes"])

    def forward_features(self, x: Tensor) -> Tensor:
        """Feature map before the head."""
        return self.blocks(self.stem(x))

    def forward(self, x: Tensor) -> Tensor:
        x = self.flatten(self.pool(self.conv_head(self.forward_features(x))))
        return self.classifier(self.dropout(self.hidden(x)))


def family_of(layout: dict) -> type[nn.Module]:
    """The network class that builds a layout (:func:`layout`, or a cell network's)."""
    return CellNetwork if layout.get("family") == "nb201" else Network


def any_layout(arch: AnyArch) -> dict[str, Any]:
    """The layout of any architecture: a block network's or a cell network's."""
    return cell_layout(arch) if isinstance(arch, CellArch) else layout(arch)


def build_model(arch: AnyArch, seed: int | None = None) -> nn.Module:
    """Build the network for ``arch`` (train mode); ``seed`` makes the initial weights
    reproducible without touching the global random state."""
    plan = any_layout(arch)
    if seed is None:
        return family_of(plan)(plan)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return family_of(plan)(plan)


def count_params(model: nn.Module) -> int:
    """Number of trainable parameters (BatchNorm running statistics are buffers, not counted)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
