"""What a latency measurement is, without torch: its statistics, its record with conditions
and host load, the clocks, and the order statistics of a median. Reading a study's trials needs
this, never the measuring (:mod:`nasbench.measure.latency`)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from nasbench.measure.conditions import Conditions
from nasbench.measure.hostload import HostLoad

CLOCKS: tuple[str, ...] = ("cpu", "wall")
"""``cpu``: the CPU time of the threads that run the model (``time.thread_time`` with one
thread, ``time.process_time`` with several): what the model takes with cores to itself, which
neighbours on a busy host do not inflate. ``wall``: elapsed time. A CUDA device is always
timed by CUDA events (wall time on the GPU)."""
DEFAULT_CLOCK = "cpu"


@dataclass(frozen=True)
class LatencyStats:
    """Statistics of per-run latency samples, in milliseconds."""

    median_ms: float
    p90_ms: float
    iqr_ms: float
    cv: float
    mean_ms: float
    min_ms: float
    samples: int
    median_ci_low_ms: float | None = None
    median_ci_high_ms: float | None = None


@dataclass(frozen=True)
class LatencyResult:
    """A latency measurement with its statistics and conditions, the wall time beside the
    CPU time it was taken on, and how busy the host was."""

    stats: LatencyStats
    runs_per_sample: int
    conditions: Conditions
    wall_median_ms: float | None = None
    """Median wall time per run (the same as the median for a figure taken on wall time)."""
    host: HostLoad | None = None

    @property
    def median_ms(self) -> float:
        """Median latency of one forward pass of the whole batch, ms."""
        return self.stats.median_ms

    def to_dict(self) -> dict[str, object]:
        """A flat JSON-ready dict: statistics, runs per sample and conditions."""
        return {**asdict(self.stats), "runs_per_sample": self.runs_per_sample,
                "conditions": self.conditions.to_dict(), "wall_median_ms": self.wall_median_ms,
                "host": self.host.to_dict() if self.host is not None else None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LatencyResult:
        """The inverse of :meth:`to_dict` (fields added later read as missing: ``None``)."""
        stats = {name: data.get(name) for name in _STAT_NAMES}
        raw = data.get("conditions") or {}
        conditions = {name: raw.get(name) for name in _CONDITION_NAMES}
        wall = data.get("wall_median_ms")
        if not conditions.get("clock"):  # before the clock was recorded: wall time, its own wall
            conditions["clock"], wall = "wall", stats.get("median_ms")
        return cls(LatencyStats(**stats), data.get("runs_per_sample"),  # type: ignore[arg-type]
                   Conditions(**conditions), wall, HostLoad.from_dict(data.get("host")))


_STAT_NAMES = tuple(f.name for f in fields(LatencyStats))
_CONDITION_NAMES = tuple(f.name for f in fields(Conditions))


def _quantile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolation quantile (numpy's default) of sorted values."""
    pos = (len(sorted_values) - 1) * q
    low, high = math.floor(pos), math.ceil(pos)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (pos - low)


def median_interval(sorted_values: list[float], z: float = 1.959963984540054) -> tuple[float, float]:
    """A distribution-free 95 % confidence interval of the median, from order statistics.

    The number of samples below the median is Binomial(n, 1/2); the interval runs from the
    ``j``-th to the ``k``-th smallest sample with ``j = floor(n/2 - z·sqrt(n)/2)`` and
    ``k = ceil(n/2 + 1 + z·sqrt(n)/2)`` (normal approximation; the whole range for tiny ``n``).
    """
    n = len(sorted_values)
    j = max(1, math.floor(n / 2 - z * math.sqrt(n) / 2))
    k = min(n, math.ceil(n / 2 + 1 + z * math.sqrt(n) / 2))
    return sorted_values[j - 1], sorted_values[k - 1]


def summarize(times_ms: list[float]) -> LatencyStats:
    """Median (with its 95 % interval), p90, IQR, coefficient of variation, mean and min of
    ``times_ms``."""
    if not times_ms:
        raise ValueError("no latency samples to summarize")
    values = sorted(times_ms)
    mean = sum(values) / len(values)
    var = sum((v - mean) ** 2 for v in values) / max(1, len(values) - 1)
    low, high = median_interval(values)
    return LatencyStats(
        median_ms=_quantile(values, 0.5), p90_ms=_quantile(values, 0.9),
        iqr_ms=_quantile(values, 0.75) - _quantile(values, 0.25),
        cv=math.sqrt(var) / mean if mean > 0 else 0.0,
        mean_ms=mean, min_ms=values[0], samples=len(values),
        median_ci_low_ms=low, median_ci_high_ms=high,
    )


def precise_enough(times_ms: list[float], precision: float) -> bool:
    """Whether the 95 % interval of the median lies within ``± precision`` of it."""
    values = sorted(times_ms)
    low, high = median_interval(values)
    median = _quantile(values, 0.5)
    return median > 0 and max(median - low, high - median) <= precision * median


def effective_clock(device: str, clock: str) -> str:
    """The clock a measurement on ``device`` is taken on: ``clock``, but wall time (CUDA
    events) on a GPU. Raises ``ValueError`` on an unknown clock."""
    if clock not in CLOCKS:
        raise ValueError(f"unknown latency clock {clock!r}; choose one of {', '.join(CLOCKS)}")
    return "wall" if device.startswith("cuda") else clock


