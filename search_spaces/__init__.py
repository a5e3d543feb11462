"""Search spaces, a registry by name. A space is ``sample(trial, shape) -> Arch`` plus ``size()``."""

from __future__ import annotations

from search_spaces.base import (DataShape, SearchSpace, StageChoices, UniformDraw, enumerate_space,
                                plan_strides)
from search_spaces.mixed import MixedSpace
from search_spaces.mobilenet_v2 import MobileNetV2Space
from search_spaces.nb201 import NB201Space
from search_spaces.tiny import TinySpace

SPACES: dict[str, type] = {
    "mixed": MixedSpace,
    "mobilenet_v2": MobileNetV2Space,
    "nb201": NB201Space,
    "tiny": TinySpace,
}


def get_space(name: str) -> SearchSpace:
    """The space registered as ``name`` (``ValueError`` listing the names if unknown)."""
    try:
        return SPACES[name]()
    except KeyError:
        raise ValueError(f"unknown search space {name!r}; choose one of {', '.join(SPACES)}") from None


__all__ = ["DataShape", "SearchSpace", "StageChoices", "UniformDraw", "SPACES", "get_space", "enumerate_space",
           "plan_strides", "MixedSpace", "MobileNetV2Space", "NB201Space", "TinySpace"]
