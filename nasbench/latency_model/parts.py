"""The parts of an architecture a latency model times alone: the stem, each block
configuration, the head, and every part a space can produce at its input sizes.
"""


import dataclasses
import itertools
import logging
import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from torch import nn

from nasbench.nn.build import build_model
from nasbench.spec.arch import Arch, BlockConfig, resolve_blocks
from search_spaces import UniformDraw
from search_spaces.base import StageChoices

logger = logging.getLogger(__name__)

# ------------------------------------------------------------------------------- the parts

def block_key(cfg: BlockConfig) -> str:
    """A block configuration as a stable string: kind, widths, kernel, stride, expansion width,
    SE width, activation and input size."""
    return (f"{cfg.kind}_i{cfg.in_channels}_o{cfg.out_channels}_k{cfg.kernel}_s{cfg.stride}"
            f"_m{cfg.mid_channels}_se{cfg.se_channels}_a{cfg.activation}_r{cfg.in_size}")


def stem_key(arch: Arch) -> str:
    """The stem of ``arch`` as a stable string."""
    s = arch.stem
    return f"stem_i{arch.in_channels}_o{s.channels}_k{s.kernel}_s{s.stride}_a{s.activation}_r{arch.resolution}"


def head_key(arch: Arch) -> str:
    """The head of ``arch`` (from the last feature map to the logits) as a stable string."""
    blocks = resolve_blocks(arch)
    width = blocks[-1].out_channels if blocks else arch.stem.channels
    size = blocks[-1].out_size if blocks else math.ceil(arch.resolution / arch.stem.stride)
    h = arch.head
    return (f"head_i{width}_c{h.channels}_h{h.hidden}_a{h.activation}_n{arch.num_classes}"
            f"_r{size}")


def part_keys(arch: Arch) -> list[str]:
    """The parts of ``arch`` in order: stem, every block, head."""
    return [stem_key(arch), *(block_key(b) for b in resolve_blocks(arch)), head_key(arch)]


@dataclass(frozen=True)
class Part:
    """One part to time alone: a module and its input shape (channels, height, width)."""

    key: str
    module: Any
    input_shape: tuple[int, int, int]


def arch_parts(arch: Arch) -> list[Part]:
    """The parts of ``arch`` as modules, cut out of the network ``build_model`` makes, so they
    are exactly the layers the whole network runs."""


    net = build_model(arch, seed=0).eval()
    blocks = resolve_blocks(arch)
    stem_size = math.ceil(arch.resolution / arch.stem.stride)
    parts = [Part(stem_key(arch), net.stem, (arch.in_channels, arch.resolution, arch.resolution))]
    modules = [m for stage in net.blocks for m in stage]
    for cfg, module in zip(blocks, modules):
        parts.append(Part(block_key(cfg), module, (cfg.in_channels, cfg.in_size, cfg.in_size)))
    width = blocks[-1].out_channels if blocks else arch.stem.channels
    size = blocks[-1].out_size if blocks else stem_size
    head = nn.Sequential(net.conv_head, net.pool, net.flatten, net.hidden, net.dropout,
                         net.classifier)
    parts.append(Part(head_key(arch), head, (width, size, size)))
    return parts


def space_parts(space: Any, shape: Any, draws: int = 0, seed: int = 0) -> dict[str, Part]:
    """Every distinct part ``space`` produces for data of ``shape``.

    Spaces made of per-stage choices (``mixed``, ``tiny``) are enumerated exactly, stage by
    stage (each stage's first block for every input width the previous stage allows, then its
    repeated block); other spaces are sampled (``draws`` uniform architectures, default 5,000)
    and every part seen is kept.
    """

    parts: dict[str, Part] = {}

    def add(arch: Arch) -> None:
        keys = part_keys(arch)
        if all(k in parts for k in keys):
            return
        for part in arch_parts(arch):
            parts.setdefault(part.key, part)

    stages = getattr(space, "stages", None)
    if stages and all(isinstance(s, StageChoices) for s in stages) and not draws:
        for arch in _stage_walk(space, shape):
            add(arch)
        return parts

    rng = np.random.default_rng(seed)
    for _ in range(draws or 5000):
        add(space.sample(UniformDraw(rng), shape))
    return parts


def _stage_walk(space: Any, shape: Any) -> list[Arch]:
    """Architectures that together hold every block configuration of a per-stage-choices
    space: for each stage and each of its choices, with each width the stage before allows,
    and depth 2 so the repeated block appears too (other stages at their first choice)."""

    base = space.sample(_First(), shape)
    archs = []
    for index, choices in enumerate(space.stages):
        before = space.stages[index - 1].widths if index else (None,)
        for kind, kernel, se, width, prev in itertools.product(
                choices.kinds, choices.kernels, choices.se_ratios, choices.widths, before):
            for expansion in (choices.expansions if kind == "ir" else (1.0,)):
                stages = list(base.stages)
                if prev is not None:
                    stages[index - 1] = dataclasses.replace(stages[index - 1], channels=prev)
                stages[index] = dataclasses.replace(  # depth 2: the repeated block too
                    stages[index], kind=kind, kernel=kernel, se_ratio=se, channels=width,
                    expansion=expansion, repeats=2 if max(choices.depths) > 1 else 1)
                archs.append(dataclasses.replace(base, stages=tuple(stages)))
    # the head for every last width
    for width in space.stages[-1].widths:
        stages = list(base.stages)
        stages[-1] = dataclasses.replace(stages[-1], channels=width)
        archs.append(dataclasses.replace(base, stages=tuple(stages)))
    return archs


class _First:
    """A trial that always picks the first choice."""

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        return choices[0]


