"""``mixed``: per stage, standard conv, depthwise-separable or inverted residual blocks."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from nasbench.spec.arch import Arch, Head, Stem

from search_spaces.base import DataShape, StageChoices, Trial, plan_strides, sample_stage

_DEFAULT_STAGES: tuple[StageChoices, ...] = tuple(
    StageChoices(kinds=("conv", "ds", "ir"), kernels=(3, 5, 7), expansions=(1.0, 3.0, 6.0),
                 se_ratios=(0.0, 0.25), depths=(1, 2, 3), widths=widths)
    for widths in ((16, 24, 32), (24, 32, 48), (40, 56, 64), (64, 80, 96))
)


@dataclass(frozen=True)
class MixedSpace:
    """Four stages (stride 1, 2, 2, 2 where the resolution allows); each picks its block kind,
    kernel 3/5/7, expansion 1/3/6 (inverted residuals only), SE on/off, depth 1-3 and width."""

    stages: tuple[StageChoices, ...] = _DEFAULT_STAGES
    stem_channels: int = 16
    activation: str = "relu"
    dropout: float = 0.1
    name: str = "mixed"
    description: str = field(default="per stage: conv / depthwise-separable / inverted residual, "
                                     "kernel 3/5/7, expansion 1/3/6 (ir), SE on/off, depth, width")

    def sample(self, trial: Trial, shape: DataShape) -> Arch:
        """Draw an architecture for data of ``shape``."""
        stem_stride, strides = plan_strides(shape.resolution, 2, [1] + [2] * (len(self.stages) - 1))
        stages = tuple(sample_stage(trial, i, choices, strides[i], self.activation)
                       for i, choices in enumerate(self.stages))
        return Arch(stem=Stem(self.stem_channels, 3, stem_stride, self.activation), stages=stages,
                    head=Head(dropout=self.dropout), resolution=shape.resolution,
                    in_channels=shape.channels, num_classes=shape.classes)

    def size(self) -> int:
        """Product over stages of each stage's distinct choices."""
        return math.prod(choices.count() for choices in self.stages)
