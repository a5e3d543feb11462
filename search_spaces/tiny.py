"""``tiny``: two stages, small enough to enumerate (576 architectures) for exact Pareto fronts."""

from __future__ import annotations

import math
from dataclasses import dataclass

from nasbench.spec.arch import Arch, Head, Stem

from search_spaces.base import (DataShape, StageChoices, Trial, enumerate_space, plan_strides,
                                sample_stage)

_TINY_STAGES = (
    StageChoices(kinds=("conv", "ds", "ir"), kernels=(3, 5, 7), expansions=(3.0, 6.0),
                 se_ratios=(0.0,), depths=(1, 2), widths=(16,)),
    StageChoices(kinds=("conv", "ds", "ir"), kernels=(3, 5, 7), expansions=(3.0, 6.0),
                 se_ratios=(0.0,), depths=(1, 2), widths=(32,)),
)


@dataclass(frozen=True)
class TinySpace:
    """Two stages of fixed width (16, 32); each picks conv / ds / ir (expansion 3 or 6),
    kernel 3/5/7 and depth 1-2."""

    stages: tuple[StageChoices, ...] = _TINY_STAGES
    name: str = "tiny"
    description: str = ("two stages, conv / ds / ir (e3, e6), kernel 3/5/7, depth 1-2: "
                        "small enough to enumerate for exact Pareto fronts")

    def sample(self, trial: Trial, shape: DataShape) -> Arch:
        """Draw an architecture for data of ``shape``."""
        stem_stride, strides = plan_strides(shape.resolution, 2, [1, 2])
        stages = tuple(sample_stage(trial, i, choices, strides[i], "relu")
                       for i, choices in enumerate(self.stages))
        return Arch(stem=Stem(16, 3, stem_stride, "relu"), stages=stages, head=Head(),
                    resolution=shape.resolution, in_channels=shape.channels,
                    num_classes=shape.classes)

    def size(self) -> int:
        """Product over stages of each stage's distinct choices."""
        return math.prod(choices.count() for choices in self.stages)

    def enumerate(self, shape: DataShape) -> list[Arch]:
        """Every architecture of the space for data of ``shape``, in a stable order."""
        return [arch for _, arch in enumerate_space(self, shape)]
