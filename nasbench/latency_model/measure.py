"""How a latency model's fit and evaluation measure: settings, the host's speed from a
reference architecture timed between measurements, architectures drawn and timed.
"""


import logging
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from nasbench.errors import LatencyModelError
from nasbench.measure.conditions import allocator_state, current_conditions
from nasbench.measure.latency import (
    DEFAULT_CLOCK,
    Probe,
    effective_clock,
    measure_latency,
)
from nasbench.measure.quiet import hold_exclusive
from nasbench.nn.build import build_model
from nasbench.spec.arch import Arch
from search_spaces import UniformDraw

logger = logging.getLogger(__name__)

REFERENCE_EVERY = 20
"""Measurements between two timings of the reference architecture, in a fit and an eval."""
REFERENCE_WINDOW = 5
"""Reference timings whose median is the host's current speed (a search times it every 30 s)."""
# ---------------------------------------------------------------------------- fit and eval

@dataclass(frozen=True)
class MeasureSettings:
    """How parts and whole architectures are timed: the latency options, and the time cap
    per model (sampling stops earlier once the median is known to ±2 %)."""

    device: str = "cpu"
    threads: int = 1
    batch: int = 1
    dtype: str = "float32"
    memory_format: str = "contiguous"
    max_time_s: float = 0.3
    clock: str = DEFAULT_CLOCK

    def conditions(self) -> dict[str, Any]:
        """What a measurement under these settings records."""
        return current_conditions(self.device, self.threads, self.batch, self.dtype,
                                  self.memory_format, allocator_state(),
                                  effective_clock(self.device, self.clock)).to_dict()

    def measure(self, module: Any, input_shape: tuple[int, int, int], slot: Any = None) -> float:
        """Median ms of ``module`` at these settings, holding the quiet ``slot`` alone."""

        with hold_exclusive(slot):
            return measure_latency(module, input_shape, device=self.device, threads=self.threads,
                                   batch=self.batch, dtype=self.dtype,
                                   memory_format=self.memory_format, min_time_s=self.max_time_s,
                                   warmup_s=0.05, precision=0.02, clock=self.clock).median_ms


class HostSpeed:
    """A fixed reference architecture, prepared once and timed in short bursts (the median of
    ``bursts`` bursts of about 0.05 s each, holding the quiet ``slot`` alone): how fast the
    host runs now."""

    def __init__(self, arch: Arch, settings: MeasureSettings, slot: Any = None,
                 bursts: int = 3) -> None:
        self.arch, self.settings, self.slot, self.bursts = arch, settings, slot, bursts
        self.probe = Probe(build_model(arch, seed=0),
                           (arch.in_channels, arch.resolution, arch.resolution), settings.device,
                           settings.threads, settings.batch, settings.dtype, settings.memory_format,
                           settings.clock)
        self.probe.burst()  # the first run of a freshly built model is slower: not a timing

    def time_ms(self) -> float:
        """The reference's median time now, in ms."""

        with hold_exclusive(self.slot):
            return float(np.median([self.probe.burst() for _ in range(self.bursts)]))


@dataclass(frozen=True)
class Referenced:
    """Measurements taken with the reference timed between them: each item's time, the host
    speed known before it (the median of the last :data:`REFERENCE_WINDOW` reference timings,
    what a search would know), and the host speed around it (the median of the two timings
    either side of its block). Medians over several timings follow the host's slow drift, not
    its second-to-second noise, which no scaling can predict."""

    ms: np.ndarray
    before: np.ndarray
    around: np.ndarray
    reference_ms: np.ndarray

    def normalized(self, at: float) -> np.ndarray:
        """Each time as it would be at a host speed where the reference takes ``at`` ms."""
        return self.ms * at / self.around


def measure_referenced(count: int, measure_one: Callable[[int], float], speed: Any,
                       every: int = REFERENCE_EVERY, first: int = 1,
                       on_progress: Callable[[int, int], None] | None = None) -> Referenced:
    """``measure_one(i)`` for ``i`` in ``range(count)``, with the reference (``speed``, a
    :class:`HostSpeed`) timed ``first`` times before the first, then after every ``every``
    and after the last."""
    bursts = [speed.time_ms() for _ in range(first)]
    ms, last = [], []
    for i in range(count):
        ms.append(measure_one(i))
        last.append(len(bursts) - 1)
        if (i + 1) % every == 0 or i + 1 == count:
            bursts.append(speed.time_ms())
        if on_progress is not None:
            on_progress(i + 1, count)
    ref = np.array(bursts)
    before = [float(np.median(ref[max(0, b - REFERENCE_WINDOW + 1):b + 1])) for b in last]
    around = [float(np.median(ref[max(0, b - 1):b + 3])) for b in last]
    return Referenced(np.array(ms, dtype=float), np.array(before), np.array(around), ref)


def draw_archs(space: Any, shape: Any, count: int, seed: int) -> list[Arch]:
    """``count`` distinct architectures drawn uniformly from ``space`` with ``seed``."""

    rng = np.random.default_rng(seed)
    seen: dict[str, Arch] = {}
    for _ in range(count * 20):
        arch = space.sample(UniformDraw(rng), shape)
        seen.setdefault(arch.to_string(), arch)
        if len(seen) >= count:
            break
    return list(seen.values())


def time_arch(arch: Arch, settings: MeasureSettings, slot: Any = None) -> float:
    """Median ms of ``arch``, whole."""

    return settings.measure(build_model(arch, seed=0),
                            (arch.in_channels, arch.resolution, arch.resolution), slot)


def time_archs(archs: Sequence[Arch], settings: MeasureSettings, speed: HostSpeed,
                  slot: Any = None, on_progress: Callable[[int, int], None] | None = None,
                  first: int = 1) -> Referenced:
    """Each of ``archs``, whole, one after the other, with the reference timed between (see
    :func:`measure_referenced`)."""
    return measure_referenced(len(archs), lambda i: time_arch(archs[i], settings, slot), speed,
                              first=first, on_progress=on_progress)


MAX_ARCHS = 5000
"""The most architectures a fit or an eval times (each takes about a second)."""


def check_archs(count: int, option: str, low: int) -> None:
    """Raise :class:`LatencyModelError` unless ``count`` is a whole number in
    [``low``, :data:`MAX_ARCHS`]."""
    if isinstance(count, bool) or not isinstance(count, int) or not low <= count <= MAX_ARCHS:
        raise LatencyModelError(f"{option} must be between {low} and {MAX_ARCHS} architectures, "
                                f"got {count}")


