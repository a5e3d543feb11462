"""``mobilenet_v2``: the MobileNetV2 layout with per-stage kernel, expansion and depth, and a
global width multiplier (channels rounded with ``make_divisible``, derived when sampling)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from nasbench.spec.arch import Arch, Head, Stage, Stem
from nasbench.spec.values import make_divisible

from search_spaces.base import DataShape, Trial, _pick, plan_strides

# (expansion, channels, repeats, stride) of MobileNetV2's Table 2, first row fixed.
V2_TABLE: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
    (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
)


@dataclass(frozen=True)
class MobileNetV2Space:
    """MobileNetV2 with searchable stages 1-6: kernel 3/5/7, expansion 3/4/6, depth n-1..n+1
    (at least 1); width multiplier 0.5/0.75/1.0 applied to every width."""

    kernels: tuple[int, ...] = (3, 5, 7)
    expansions: tuple[float, ...] = (3.0, 4.0, 6.0)
    depth_offsets: tuple[int, ...] = (-1, 0, 1)
    width_multipliers: tuple[float, ...] = (0.5, 0.75, 1.0)
    name: str = "mobilenet_v2"
    description: str = ("MobileNetV2 layout: per-stage kernel 3/5/7, expansion 3/4/6, depth "
                        "n-1..n+1; width multiplier 0.5/0.75/1.0")

    def _depths(self, repeats: int) -> tuple[int, ...]:
        return tuple(sorted({max(1, repeats + d) for d in self.depth_offsets}))

    def _widths(self, multiplier: float) -> tuple[int, ...]:
        return (make_divisible(32 * multiplier),) + tuple(make_divisible(c * multiplier)
                                                          for _, c, _, _ in V2_TABLE)

    def sample(self, trial: Trial, shape: DataShape) -> Arch:
        """Draw an architecture for data of ``shape``."""
        multiplier = _pick(trial, "width_mult", self.width_multipliers)
        stem_width, *widths = self._widths(multiplier)
        stem_stride, strides = plan_strides(shape.resolution, 2, [s for *_, s in V2_TABLE])
        stages = [Stage("ir", widths[0], 1, 3, strides[0], 1.0, 0.0, "relu6")]
        for i, (_, _, repeats, _) in enumerate(V2_TABLE[1:], start=1):
            stages.append(Stage(
                "ir", widths[i],
                repeats=_pick(trial, f"s{i}_depth", self._depths(repeats)),
                kernel=_pick(trial, f"s{i}_kernel", self.kernels),
                stride=strides[i],
                expansion=_pick(trial, f"s{i}_expansion", self.expansions),
                activation="relu6",
            ))
        head_width = make_divisible(1280 * max(1.0, multiplier))
        return Arch(stem=Stem(stem_width, 3, stem_stride, "relu6"), stages=tuple(stages),
                    head=Head(channels=head_width, dropout=0.2, activation="relu6"),
                    resolution=shape.resolution, in_channels=shape.channels,
                    num_classes=shape.classes)

    def size(self) -> int:
        """Distinct width plans times the product of per-stage choices."""
        plans = {self._widths(m) for m in self.width_multipliers}
        per_stage = math.prod(len(self.kernels) * len(self.expansions) * len(self._depths(n))
                              for _, _, n, _ in V2_TABLE[1:])
        return len(plans) * per_stage
