"""What every search space shares: the data shape it adapts to, stride planning, stage sampling,
exact size counting and exhaustive enumeration of small spaces."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, Sequence

import numpy as np

from nasbench.spec.arch import Arch, Stage

if TYPE_CHECKING:
    import optuna


@dataclass(frozen=True)
class DataShape:
    """What a space adapts to: input resolution (square), input channels, number of classes."""

    resolution: int
    channels: int
    classes: int


class Trial(Protocol):
    """The part of ``optuna.Trial`` a space uses (``FixedTrial`` and our enumerator fit too)."""

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any: ...


class UniformDraw:
    """A stand-in for an Optuna trial that draws each choice uniformly from a seeded generator:
    how ``bench --sample`` draws from a space, and how the duration estimate picks models."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        """One of ``choices``, uniformly."""
        return choices[int(self.rng.integers(len(choices)))]


class SearchSpace(Protocol):
    """A search space: a name, a one-line description, ``sample`` and an exact ``size``."""

    name: str
    description: str

    def sample(self, trial: Trial | optuna.Trial, shape: DataShape) -> Arch:
        """Draw an architecture for data of ``shape`` (define-by-run, stable parameter names)."""
        ...

    def size(self) -> int:
        """Number of distinct architectures (canonical strings) for any data shape."""
        ...


def plan_strides(resolution: int, stem_stride: int, stage_strides: Sequence[int]) -> tuple[int, list[int]]:
    """Fit wanted strides to the resolution so the last feature map stays at least 2×2.

    The stem keeps stride 2 only from 64 px up; stage strides of 2 are kept in order while the
    downsampling budget ``floor(log2(resolution)) - 1`` lasts, the rest become 1.
    """
    budget = max(0, int(math.floor(math.log2(max(resolution, 1)))) - 1)
    stem = 2 if stem_stride == 2 and resolution >= 64 and budget > 0 else 1
    budget -= stem == 2
    strides = []
    for stride in stage_strides:
        keep = stride == 2 and budget > 0
        budget -= keep
        strides.append(2 if keep else 1)
    return stem, strides


@dataclass(frozen=True)
class StageChoices:
    """Per-stage choices of a mixed-block space; ``expansions`` apply to ``ir`` only."""

    kinds: tuple[str, ...]
    kernels: tuple[int, ...]
    expansions: tuple[float, ...]
    se_ratios: tuple[float, ...]
    depths: tuple[int, ...]
    widths: tuple[int, ...]

    def count(self) -> int:
        """Distinct stages these choices give (expansion only multiplies ``ir``)."""
        per_kind = sum(len(self.expansions) if kind == "ir" else 1 for kind in self.kinds)
        return per_kind * len(self.kernels) * len(self.se_ratios) * len(self.depths) * len(self.widths)


def sample_stage(trial: Trial, index: int, choices: StageChoices, stride: int,
                 activation: str) -> Stage:
    """Sample stage ``index`` with parameters ``s{index}_kind``, ``_kernel``, ``_expansion``
    (``ir`` only), ``_se``, ``_depth`` and ``_width``."""
    kind = _pick(trial, f"s{index}_kind", choices.kinds)
    expansion = _pick(trial, f"s{index}_expansion", choices.expansions) if kind == "ir" else 1.0
    return Stage(
        kind=kind,
        kernel=_pick(trial, f"s{index}_kernel", choices.kernels),
        expansion=expansion,
        se_ratio=_pick(trial, f"s{index}_se", choices.se_ratios),
        repeats=_pick(trial, f"s{index}_depth", choices.depths),
        channels=_pick(trial, f"s{index}_width", choices.widths),
        stride=stride,
        activation=activation,
    )


def _pick(trial: Trial, name: str, choices: Sequence[Any]) -> Any:
    """``suggest_categorical``, skipped when there is a single choice (no dead parameters)."""
    if len(choices) == 1:
        return choices[0]
    return trial.suggest_categorical(name, tuple(choices))


class _PathTrial:
    """A trial that follows a fixed path of choice indices, recording each choice's fan-out."""

    def __init__(self, path: list[int]) -> None:
        self.path = path
        self.fanout: list[int] = []
        self.params: dict[str, Any] = {}

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        depth = len(self.fanout)
        index = self.path[depth] if depth < len(self.path) else 0
        self.fanout.append(len(choices))
        self.params[name] = choices[index]
        return choices[index]


def enumerate_space(space: SearchSpace, shape: DataShape, limit: int = 100_000) -> list[tuple[dict[str, Any], Arch]]:
    """Every (params, architecture) of ``space``, by walking all define-by-run branches.

    Raises ``ValueError`` if the space has more than ``limit`` parameter combinations.
    """
    results: list[tuple[dict[str, Any], Arch]] = []
    path: list[int] = []
    while True:
        trial = _PathTrial(path)
        arch = space.sample(trial, shape)
        results.append((trial.params, arch))
        if len(results) > limit:
            raise ValueError(f"space {space.name!r} has more than {limit} combinations; "
                             f"it is too large to enumerate")
        path = path + [0] * (len(trial.fanout) - len(path))
        # Odometer step: advance the deepest choice that has a next value.
        while path and path[-1] + 1 >= trial.fanout[len(path) - 1]:
            path.pop()
        if not path:
            return results
        path[-1] += 1
