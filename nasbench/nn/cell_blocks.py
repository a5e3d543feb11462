"""The NAS-Bench-201 network in torch, built from a layout of plain data
(:func:`cell_layout`), so that an export writes this module's classes and the layout out as a
standalone ``model.py``. See :mod:`nasbench.spec.cells` for the network and its string.

Module names and parameters follow the published network, so parameter counts equal
NAS-Bench-201's; a ``none`` edge computes nothing (the published code multiplies by zero), nor
does an edge whose result cannot reach the cell's output (:func:`nasbench.spec.cells.live_edges`),
and a node with no computed input is zero.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from nasbench.spec.cells import CELLS, CHANNELS, EDGES, CellArch, live_edges


def cell_layout(arch: CellArch) -> dict[str, Any]:
    """The network of ``arch`` as plain data (``live``: the edges computed,
    :func:`nasbench.spec.cells.live_edges`)."""
    return {"family": "nb201", "ops": list(arch.ops), "edges": [list(e) for e in EDGES],
            "live": live_edges(arch.ops),
            "in_chs": arch.in_channels, "channels": list(CHANNELS), "cells": CELLS,
            "num_classes": arch.num_classes}


class ReLUConvBN(nn.Module):
    """ReLU, a bias-free conv, BatchNorm: NAS-Bench-201's ``nor_conv`` operations."""

    def __init__(self, in_chs: int, out_chs: int, kernel: int, stride: int) -> None:
        super().__init__()
        self.op = nn.Sequential(nn.ReLU(inplace=False),
                                nn.Conv2d(in_chs, out_chs, kernel, stride, kernel // 2, bias=False),
                                nn.BatchNorm2d(out_chs))

    def forward(self, x: Tensor) -> Tensor:
        return self.op(x)


def make_edge(op: str, chs: int) -> nn.Module | None:
    """The module of one edge (``None`` for ``none``)."""
    if op == "none":
        return None
    if op == "skip_connect":
        return nn.Identity()
    if op == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    if op in ("nor_conv_1x1", "nor_conv_3x3"):
        return ReLUConvBN(chs, chs, int(op[-1]), 1)
    raise ValueError(f"unknown NAS-Bench-201 operation {op!r}")


class Cell(nn.Module):
    """Four nodes; each later node sums its edges' operations on the earlier ones."""

    def __init__(self, ops: list[str], edges: list[list[int]], live: list[bool], chs: int) -> None:
        super().__init__()
        self.edges = [tuple(e) for e in edges]
        self.layers = nn.ModuleList(make_edge(op, chs) or nn.Identity() for op in ops)
        self.live = list(live)

    def forward(self, x: Tensor) -> Tensor:
        nodes = [x]
        for node in range(1, 4):
            total = None
            for (to, source), layer, live in zip(self.edges, self.layers, self.live):
                if to == node and live:
                    out = layer(nodes[source])
                    total = out if total is None else total + out
            nodes.append(torch.zeros_like(x) if total is None else total)
        return nodes[-1]


class Reduction(nn.Module):
    """NAS-Bench-201's residual block between stages: two ReLU-conv-BN (the first with stride
    2) beside a shortcut of 2×2 average pooling and a 1×1 conv."""

    def __init__(self, in_chs: int, out_chs: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(in_chs, out_chs, 3, 2)
        self.conv_b = ReLUConvBN(out_chs, out_chs, 3, 1)
        self.downsample = nn.Sequential(nn.AvgPool2d(2, 2),
                                        nn.Conv2d(in_chs, out_chs, 1, bias=False))

    def forward(self, x: Tensor) -> Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))


class CellNetwork(nn.Module):
    """Stem, three stages of cells with a reduction between, BatchNorm-ReLU, pooling,
    classifier. Built from a layout (:func:`cell_layout`): plain numbers and names only."""

    def __init__(self, layout: dict) -> None:
        super().__init__()
        widths = layout["channels"]
        self.stem = nn.Sequential(nn.Conv2d(layout["in_chs"], widths[0], 3, padding=1, bias=False),
                                  nn.BatchNorm2d(widths[0]))
        cells: list[nn.Module] = []
        for stage, width in enumerate(widths):
            if stage:
                cells.append(Reduction(widths[stage - 1], width))
            cells += [Cell(layout["ops"], layout["edges"], layout["live"], width)
                      for _ in range(layout["cells"])]
        self.cells = nn.Sequential(*cells)
        self.lastact = nn.Sequential(nn.BatchNorm2d(widths[-1]), nn.ReLU(inplace=True))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten(1)
        self.classifier = nn.Linear(widths[-1], layout["num_classes"])

    def forward_features(self, x: Tensor) -> Tensor:
        """Feature map before the head."""
        return self.lastact(self.cells(self.stem(x)))

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.flatten(self.pool(self.forward_features(x))))
