"""The values an architecture spec is made of: the allowed choices and bounds, the channel
rounding rules (MobileNet's ``make_divisible``, the squeeze-excite and expansion widths), and
the checks that name a bad value. No torch."""

from __future__ import annotations

import math
from typing import Any

ACTIVATIONS: tuple[str, ...] = ("relu", "relu6", "hswish", "silu")
BLOCK_KINDS: tuple[str, ...] = ("conv", "ds", "ir")
KERNELS: tuple[int, ...] = (3, 5, 7)
STRIDES: tuple[int, ...] = (1, 2)
_FLOAT_DECIMALS = 3
_MAX_CHANNELS = 8192
MAX_STAGES = 32
"""The most stages an architecture may have (MobileNetV2 has 7, EfficientNet-B7 7)."""
MAX_BLOCKS = 256
"""The most blocks (repeats summed over stages) an architecture may have (EfficientNet-B7: 55)."""


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round ``value`` to the nearest multiple of ``divisor``, never losing more than 10%.

    The rule used by MobileNetV2/V3 (torchvision's ``_make_divisible``).
    """
    min_value = divisor if min_value is None else min_value
    new_value = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if new_value < 0.9 * value:
        new_value += divisor
    return new_value


def se_channels(channels: int, ratio: float) -> int:
    """Squeeze width of an SE module acting on ``channels`` with ``ratio`` (see module doc)."""
    return make_divisible(ratio * channels, 8)


def expanded_channels(in_channels: int, expansion: float) -> int:
    """Hidden width of an inverted residual: ``round(in_channels × expansion)``."""
    return int(round(in_channels * expansion))


def check_int(name: str, value: Any, low: int, high: int) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is a whole number in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be in [{low}, {high}], got {value}")


def check_choice(name: str, value: Any, choices: tuple[Any, ...]) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is one of ``choices``."""
    if isinstance(value, bool) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(str, choices))}, got {value!r}")


def check_float(name: str, value: Any, low: float, high: float, low_open: bool = False) -> float:
    """``value`` as a float; ``ValueError`` naming ``name`` unless it is finite, within the
    bounds and of at most three decimals."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    value = float(value)
    if value < low or value > high or (low_open and value == low):
        bracket = "(" if low_open else "["
        raise ValueError(f"{name} must be in {bracket}{low}, {high}], got {value}")
    if round(value, _FLOAT_DECIMALS) != value:
        raise ValueError(f"{name} may have at most {_FLOAT_DECIMALS} decimals, got {value!r}")
    return value
