"""A latency model of this machine, fitted from its own measurements.

Every distinct part a space can produce at its input sizes (the stem, each block
configuration, the head) is timed alone; an architecture's *sum* is the sum of its parts'
times. Parts do not simply add up (per-layer overhead, caches, fusion), so a correction fitted
on whole architectures timed for real maps the sum to the prediction: the plain sum, the sum
times the median ratio of the architectures' times to it, or a least-squares fit of relative
error on the sum, the number of parts and the multiply-adds (coefficients of at least 0),
whichever is closest held out (:data:`CORRECTIONS`). The model is plain JSON, keyed
by the conditions it was measured under; it refuses other conditions.

A shared machine's speed drifts (on the project's 2-core host a fixed model's time moves by
10 % or more within minutes). So a fixed *reference* architecture of the space is timed in
short bursts between every :data:`REFERENCE_EVERY` measurements of a fit, and each measurement
is stored at the fit's median host speed (divided by the reference's time around it, times
the reference's median). A prediction is then scaled by the reference's time *now* over its
time at the fit (:meth:`LatencyModel.calibrate`), so the model follows the host's speed.
The reference's time moves against other models' too, and the fit's correction has a level
error of its own, so architectures measured while the model is in use (a search measures
every one it trains) set the level of later predictions (:meth:`LatencyModel.observe`).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from torch import nn

from nasbench.arch import Arch, BlockConfig, decode, resolve_blocks
from nasbench.build import build_model
from nasbench.data import load_dataset
from nasbench.env import allocator_state, check_threads, current_conditions
from nasbench.files import atomic_write, check_output_file
from nasbench.formulas import arch_cost
from nasbench.latency import (DEFAULT_CLOCK, DTYPES, MAX_BATCH, MEMORY_FORMATS, Probe,
                              check_options, check_rounds, effective_clock, interleaved,
                              measure_latency)
from nasbench.quiet import hold_exclusive
from nasbench.references import load_arch
from search_spaces import SPACES, DataShape, UniformDraw, get_space
from search_spaces.base import StageChoices

logger = logging.getLogger(__name__)

KIND = "nasbench-latency-model"
VERSION = 2
READS = (1, 2)
"""Model versions this code reads: version 1 has no reference architecture (no drift scaling)."""
REFERENCE_SEED = 20_261_129
"""The seed that draws a space's reference architecture (one uniform draw)."""
REFERENCE_EVERY = 20
"""Measurements between two timings of the reference architecture, in a fit and an eval."""
REFERENCE_WINDOW = 5
"""Reference timings whose median is the host's current speed (a search times it every 30 s)."""
LEVEL_WINDOW = 20
"""Real measurements whose median ratio to the prediction sets the prediction's level (see
:meth:`LatencyModel.observe`)."""
LEVEL_MIN = 5
"""Real measurements needed before they set the level (1 before)."""
LEVEL_SEED = 20_261_130
"""The seed that draws the architectures ``predict`` times to set the level (:meth:`LatencyModel.measure_level`)."""
CONDITION_KEYS: tuple[str, ...] = ("device", "device_name", "cpu_model", "threads", "batch", "dtype",
                                   "memory_format", "torch_version", "clock")
"""The measurement conditions a model is keyed by: another value of any refuses the model."""
FEATURES: tuple[str, ...] = ("sum_ms", "parts", "macs_m", "one")
"""The correction's inputs: the sum of part times, the number of parts, millions of
multiply-adds, and a constant."""


class LatencyModelError(ValueError):
    """A latency model cannot be read or used here; the message names the problem and the fix."""


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


# ------------------------------------------------------------------------------ the model

@dataclass
class LatencyModel:
    """Part times, the correction, and what they were measured under."""

    space: str
    shape: tuple[int, int, int]
    conditions: dict[str, Any]
    parts_ms: dict[str, float]
    coefficients: dict[str, float]
    fit: dict[str, Any] = field(default_factory=dict)
    reference: dict[str, Any] | None = None
    """The reference architecture (``arch``) and its median time during the fit (``ms``)."""
    scale: float = field(default=1.0, compare=False)
    """The reference's time now over its time at the fit (set by :meth:`calibrate`; not saved)."""
    _speed: Any = field(default=None, repr=False, compare=False)
    _recent: list[float] = field(default_factory=list, repr=False, compare=False)
    _ratios: list[float] = field(default_factory=list, repr=False, compare=False)

    @property
    def level(self) -> float:
        """The level of predictions: :func:`level_of` the measured/predicted ratios that
        :meth:`observe` was given (not saved)."""
        return level_of(self._ratios)

    def sum_ms(self, arch: Arch) -> tuple[float, list[tuple[str, float]]]:
        """The sum of ``arch``'s part times and the parts; :class:`LatencyModelError` naming the
        first part the model never measured."""
        rows = []
        for key in part_keys(arch):
            if key not in self.parts_ms:
                raise LatencyModelError(
                    f"the latency model never measured part {key} of this architecture; fit a "
                    f"model on the space that produces it (latency-model fit --space ...)")
            rows.append((key, self.parts_ms[key]))
        return sum(ms for _, ms in rows), rows

    def features(self, arch: Arch, macs: int | None = None) -> dict[str, float]:
        """The correction's inputs for ``arch`` (``macs`` counted when not given)."""
        total, rows = self.sum_ms(arch)
        if macs is None:
            macs = arch_cost(arch).macs
        return {"sum_ms": total, "parts": float(len(rows)), "macs_m": macs / 1e6, "one": 1.0}

    def predict_at_fit_speed(self, arch: Arch, macs: int | None = None) -> float:
        """Predicted median latency of ``arch`` in ms at the host speed of the fit (unscaled)."""
        f = self.features(arch, macs)
        return max(1e-6, sum(self.coefficients[k] * f[k] for k in FEATURES))

    def predict(self, arch: Arch, macs: int | None = None) -> float:
        """Predicted median latency of ``arch`` in ms, at the host speed of the last
        :meth:`calibrate` (at the fit's speed before any), times the :attr:`level` of the
        real measurements :meth:`observe` was given."""
        return self.scale * self.level * self.predict_at_fit_speed(arch, macs)

    def observe(self, arch: Arch, measured_ms: float, macs: int | None = None) -> float:
        """Learn from a real measurement of ``arch`` (median ms under the model's conditions):
        its ratio to the prediction without the level joins the last :data:`LEVEL_WINDOW`, and
        from :data:`LEVEL_MIN` on their median is the :attr:`level` of later predictions.
        Returns the level. The reference architecture carries the host's speed from the fit,
        but its time moves against other models' (16 to 22 % on a shared host), and a fit's
        correction has a level error of its own: what is measured now corrects both."""
        unleveled = self.scale * self.predict_at_fit_speed(arch, macs)
        self._ratios = [*self._ratios, measured_ms / unleveled][-LEVEL_WINDOW:]
        return self.level

    def measure_level(self, settings: MeasureSettings, count: int, slot: Any = None) -> float:
        """Time ``count`` architectures of the model's space now (drawn with :data:`LEVEL_SEED`)
        and :meth:`observe` them: the level for a prediction that has no search's measurements
        to learn from. Returns the level (1 with fewer than :data:`LEVEL_MIN`)."""

        for arch in draw_archs(get_space(self.space), DataShape(*self.shape), count, LEVEL_SEED):
            self.observe(arch, measure_arch(arch, settings, slot))
        return self.level

    def settings(self) -> MeasureSettings:
        """The latency settings of the model's conditions (device, threads, batch, dtype,
        memory format): how to measure here what it predicts."""
        c = self.conditions
        return MeasureSettings(c["device"], c["threads"], c["batch"], c["dtype"], c["memory_format"],
                               clock=c.get("clock") or "wall")

    def host_speed(self, settings: MeasureSettings, slot: Any = None) -> HostSpeed | None:
        """The timer of this model's reference architecture (``None`` for a version-1 model)."""
        if self.reference is None:
            return None
        if self._speed is None or self._speed.settings != settings:

            self._speed = HostSpeed(decode(self.reference["arch"]), settings, slot)
        return self._speed

    def calibrate(self, settings: MeasureSettings, slot: Any = None) -> float:
        """Time the reference architecture now and scale predictions by its time over its
        time at the fit; returns that scale (1 for a model without a reference). The time is
        the median of the last :data:`REFERENCE_WINDOW` timings (the first call takes them
        all, later calls one more each)."""
        speed = self.host_speed(settings, slot)
        if speed is not None:
            assert self.reference is not None
            timings = REFERENCE_WINDOW if not self._recent else 1
            self._recent = [*self._recent, *(speed.time_ms() for _ in range(timings))]
            self._recent = self._recent[-REFERENCE_WINDOW:]
            self.scale = float(np.median(self._recent)) / float(self.reference["ms"])
        return self.scale

    def to_dict(self) -> dict[str, Any]:
        """Plain data, JSON-ready."""
        return {"kind": KIND, "version": VERSION, "space": self.space, "shape": list(self.shape),
                "conditions": self.conditions, "coefficients": self.coefficients,
                "fit": self.fit, "parts_ms": self.parts_ms, "reference": self.reference}

    def save(self, path: str | Path) -> Path:
        """Write the model as JSON (atomically)."""

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.to_dict(), indent=1, sort_keys=True)
        atomic_write(path, lambda tmp: tmp.write_text(text))
        return path

    def check_conditions(self, conditions: dict[str, Any]) -> None:
        """Refuse ``conditions`` other than the model's (:data:`CONDITION_KEYS`)."""
        differing = [k for k in CONDITION_KEYS if self.conditions.get(k) != conditions.get(k)]
        if differing:
            detail = ", ".join(f"{k} {self.conditions.get(k)!r} (here {conditions.get(k)!r})"
                               for k in differing)
            raise LatencyModelError(f"the latency model was measured under other conditions: "
                                    f"{detail}; fit one here with latency-model fit")

    @property
    def error(self) -> float:
        """The model's measured relative error: the 95th percentile of |predicted/measured - 1|
        over the fit's held-out folds."""
        return float(self.fit.get("cv_abs_rel_error_p95", 0.1))


def level_of(ratios: Sequence[float]) -> float:
    """The level that measured/predicted ``ratios`` (oldest first) give later predictions: the
    median of the last :data:`LEVEL_WINDOW`, or 1 with fewer than :data:`LEVEL_MIN`."""
    recent = list(ratios)[-LEVEL_WINDOW:]
    return float(np.median(recent)) if len(recent) >= LEVEL_MIN else 1.0


def online_levels(ratios: Sequence[float]) -> np.ndarray:
    """For each of a sequence of measured/predicted ``ratios``, the level known before it
    (:func:`level_of` of the ratios before it): what :meth:`LatencyModel.observe` gives a
    search that measures the same architectures in the same order."""
    values = [float(r) for r in ratios]
    return np.array([level_of(values[:i]) for i in range(len(values))])


def load_model(path: str | Path) -> LatencyModel:
    """Read a model written by :meth:`LatencyModel.save`; :class:`LatencyModelError` when the
    file is missing, damaged or not a latency model."""
    path = Path(path)
    if not path.is_file():
        raise LatencyModelError(f"no latency model at {path}; make one with "
                                f"python cli.py latency-model fit --space SPACE")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LatencyModelError(f"{path} is not valid JSON ({exc}); fit the model again") from None
    if not isinstance(data, dict) or data.get("kind") != KIND:
        raise LatencyModelError(f"{path} is not a nasbench latency model; give the JSON file "
                                f"latency-model fit wrote")
    if data.get("version") not in READS:
        raise LatencyModelError(f"{path} is a latency model of version {data.get('version')}, "
                                f"this nasbench reads versions {', '.join(map(str, READS))}; fit "
                                f"the model again")
    try:
        model = LatencyModel(space=str(data["space"]), shape=tuple(int(v) for v in data["shape"]),
                             conditions={"clock": "wall", **dict(data["conditions"])},  # a
                             # model from before the clock was recorded measured wall time
                             parts_ms={str(k): float(v) for k, v in data["parts_ms"].items()},
                             coefficients={k: float(data["coefficients"][k]) for k in FEATURES},
                             fit=dict(data.get("fit") or {}),
                             reference=_reference(data.get("reference")))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise LatencyModelError(f"{path} is a damaged latency model (missing or bad {exc}); "
                                f"fit the model again") from None
    problem = _model_problem(model)
    if problem:
        raise LatencyModelError(f"{path} is a damaged latency model ({problem}); fit the model again")
    return model


def _model_problem(model: LatencyModel) -> str | None:
    """What makes a loaded model unusable, or ``None``: every figure must be one a fit can
    write (finite, coefficients of at least 0 and not all 0, part times above 0) and its
    conditions ones latency can be measured under."""
    if len(model.shape) != 3 or not all(v > 0 for v in model.shape):
        return "bad shape"
    coefficients = list(model.coefficients.values())
    if not all(math.isfinite(c) and c >= 0 for c in coefficients) or not any(c > 0 for c in coefficients):
        return "a coefficient that is negative, not finite, or all of them 0"
    if not model.parts_ms or not all(math.isfinite(v) and v > 0 for v in model.parts_ms.values()):
        return "a part time that is not a positive, finite number of ms"
    if model.reference is not None and not (math.isfinite(model.reference["ms"]) and model.reference["ms"] > 0):
        return "a reference time that is not a positive, finite number of ms"
    try:  # what a measurement could have been made under (whether this machine has it or not)
        settings = model.settings()
        check_threads(settings.threads, "threads")
        if settings.dtype not in DTYPES or settings.memory_format not in MEMORY_FORMATS:
            raise ValueError(f"dtype {settings.dtype!r}, memory format {settings.memory_format!r}")
        if not isinstance(settings.device, str) or not settings.device.startswith(("cpu", "cuda")):
            raise ValueError(f"device {settings.device!r}")
        if isinstance(settings.batch, bool) or not isinstance(settings.batch, int) \
                or not 1 <= settings.batch <= MAX_BATCH:
            raise ValueError(f"batch {settings.batch!r}")
    except (ValueError, TypeError, KeyError) as exc:
        return f"conditions no measurement has: {exc}"
    return None


def _reference(value: Any) -> dict[str, Any] | None:
    """A stored reference, checked: an architecture string and a positive time."""
    if value is None:
        return None

    ms = float(value["ms"])
    if not (ms > 0 and math.isfinite(ms)):
        raise ValueError("reference ms")
    decode(str(value["arch"]))
    return {**value, "arch": str(value["arch"]), "ms": ms}


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


def measure_arch(arch: Arch, settings: MeasureSettings, slot: Any = None) -> float:
    """Median ms of ``arch``, whole."""

    return settings.measure(build_model(arch, seed=0),
                            (arch.in_channels, arch.resolution, arch.resolution), slot)


def measure_archs(archs: Sequence[Arch], settings: MeasureSettings, speed: HostSpeed,
                  slot: Any = None, on_progress: Callable[[int, int], None] | None = None,
                  first: int = 1) -> Referenced:
    """Each of ``archs``, whole, one after the other, with the reference timed between (see
    :func:`measure_referenced`)."""
    return measure_referenced(len(archs), lambda i: measure_arch(archs[i], settings, slot), speed,
                              first=first, on_progress=on_progress)


def _solve(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least squares of relative error, coefficients at least 0 (time never shrinks with more
    work, so a prediction is never negative): minimise sum ((x @ c - y) / y)^2, c >= 0."""
    from scipy.optimize import nnls  # deferred: scipy is slow to import

    coef, _ = nnls(x / y[:, None], np.ones_like(y))
    return coef


CORRECTIONS: tuple[str, ...] = ("sum", "scaled_sum", "linear")
"""The corrections a fit tries, keeping the one closest held out (:func:`choose_correction`):
``sum``, the plain sum of the parts' times; ``scaled_sum``, that sum times the median ratio
of the architectures' times to it (a robust level: what chaining the parts adds); ``linear``,
a relative least-squares fit on all :data:`FEATURES`. On a noisy host the least squares of
relative error is pulled low (a slow outlier costs it less than a fast one), which the median
ratio is not."""


def _fit_correction(kind: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Coefficients over :data:`FEATURES` of the correction ``kind`` fitted on ``(x, y)``."""
    coef = np.zeros(len(FEATURES))
    if kind == "linear":
        return _solve(x, y)
    coef[FEATURES.index("sum_ms")] = (1.0 if kind == "sum"
                                      else float(np.median(y / x[:, FEATURES.index("sum_ms")])))
    return coef


def _held_out(x: np.ndarray, y: np.ndarray, seed: int, folds: int,
              kind: str = "linear") -> np.ndarray:
    """Each row's prediction by the correction ``kind`` fitted on the other folds."""
    order = np.random.default_rng(seed).permutation(len(y))
    held = np.empty(len(y))
    for f in range(folds):
        test = order[f::folds]
        train = np.setdiff1d(order, test)
        held[test] = x[test] @ _fit_correction(kind, x[train], y[train])
    return held


def _held_out_error(x: np.ndarray, y: np.ndarray, seed: int, folds: int,
                    kind: str = "linear") -> np.ndarray:
    """|predicted/measured - 1| of each row, predicted by the correction ``kind`` fitted on the
    other folds."""
    return np.abs(_held_out(x, y, seed, folds, kind) / y - 1)


def choose_correction(x: np.ndarray, y: np.ndarray, seed: int,
                      folds: int) -> tuple[str, np.ndarray, dict[str, np.ndarray]]:
    """The correction of :data:`CORRECTIONS` whose held-out predictions (``folds``-fold, order
    from ``seed``) are closest to the times ``y`` by the median of |log(predicted/measured)|
    (the host's noise is a factor, so a prediction twice too high and one half too low are
    equally wrong): its name, its coefficients fitted on all rows of ``x`` (columns
    :data:`FEATURES`), and every correction's held-out |predicted/measured - 1|. Ties go to
    the simpler."""
    held = {kind: _held_out(x, y, seed, folds, kind) for kind in CORRECTIONS}
    chosen = min(CORRECTIONS, key=lambda kind: float(np.median(np.abs(np.log(
        np.maximum(held[kind], 1e-9) / y)))))
    return chosen, _fit_correction(chosen, x, y), {k: np.abs(v / y - 1) for k, v in held.items()}


MAX_ARCHS = 5000
"""The most architectures a fit or an eval times (each takes about a second)."""


def check_archs(count: int, option: str, low: int) -> None:
    """Raise :class:`LatencyModelError` unless ``count`` is a whole number in
    [``low``, :data:`MAX_ARCHS`]."""
    if isinstance(count, bool) or not isinstance(count, int) or not low <= count <= MAX_ARCHS:
        raise LatencyModelError(f"{option} must be between {low} and {MAX_ARCHS} architectures, "
                                f"got {count}")


def fit_model(space_name: str, shape: Any, settings: MeasureSettings, archs: int = 80,
              seed: int = 0, folds: int = 5, slot: Any = None,
              on_progress: Callable[[str, int, int], None] | None = None) -> LatencyModel:
    """Measure every part of the space and ``archs`` whole architectures (drawn with
    ``seed``), fit the correction, and estimate its error by ``folds``-fold cross-validation."""
    check_archs(archs, "--archs", low=2 * folds)
    space = get_space(space_name)
    start = time.perf_counter()
    conditions = settings.conditions()
    parts = list(space_parts(space, shape).values())
    reference = draw_archs(space, shape, 1, REFERENCE_SEED)[0]
    speed = HostSpeed(reference, settings, slot)
    timed_parts = measure_referenced(
        len(parts), lambda i: settings.measure(parts[i].module, parts[i].input_shape, slot), speed,
        on_progress=(lambda d, n: on_progress("parts", d, n)) if on_progress else None)
    parts_s = time.perf_counter() - start
    drawn = draw_archs(space, shape, archs, seed)
    timed_archs = measure_archs(drawn, settings, speed, slot,
                                (lambda d, n: on_progress("architectures", d, n))
                                if on_progress else None)
    bursts = np.concatenate([timed_parts.reference_ms, timed_archs.reference_ms])
    ref_ms = float(np.median(bursts))
    parts_ms = {p.key: float(v) for p, v in zip(parts, timed_parts.normalized(ref_ms))}
    measured = timed_archs.normalized(ref_ms)
    model = LatencyModel(space_name, (shape.resolution, shape.channels, shape.classes),
                         {k: conditions[k] for k in CONDITION_KEYS}, parts_ms,
                         dict.fromkeys(FEATURES, 0.0),
                         reference={"arch": reference.to_string(), "ms": ref_ms,
                                    "timings": len(bursts),
                                    "min_ms": float(bursts.min()), "max_ms": float(bursts.max())})
    macs = [arch_cost(a).macs for a in drawn]
    x = np.array([[model.features(a, m)[k] for k in FEATURES] for a, m in zip(drawn, macs)])
    chosen, coef, held_out = choose_correction(x, measured, seed, folds)
    model.coefficients = {k: float(v) for k, v in zip(FEATURES, coef)}
    rel = held_out[chosen]
    # the same fit on the raw times (no reference scaling), for comparison
    raw_model = dataclasses.replace(model, parts_ms={p.key: float(v) for p, v in
                                                     zip(parts, timed_parts.ms)})
    x_raw = np.array([[raw_model.features(a, m)[k] for k in FEATURES] for a, m in zip(drawn, macs)])
    raw_rel = _held_out_error(x_raw, timed_archs.ms, seed, folds, chosen)
    naive = np.abs(x[:, 0] / measured - 1)
    model.fit = {"archs": len(drawn), "parts": len(parts_ms), "seed": seed,
                 "parts_s": round(parts_s, 1), "seconds": round(time.perf_counter() - start, 1),
                 "correction": chosen,
                 "held_out_median_by_correction": {kind: float(np.median(held_out[kind]))
                                                   for kind in CORRECTIONS},
                 "cv_abs_rel_error_median": float(np.median(rel)),
                 "cv_abs_rel_error_p95": float(np.quantile(rel, 0.95)),
                 "cv_within_10pct": float(np.mean(rel <= 0.10)),
                 "sum_only_abs_rel_error_median": float(np.median(naive)),
                 "unscaled_cv_abs_rel_error_median": float(np.median(raw_rel)),
                 "unscaled_cv_within_10pct": float(np.mean(raw_rel <= 0.10)),
                 "host_drift": float(bursts.max() / bursts.min() - 1),
                 "raw_vs_normalized_median_abs_diff": float(np.median(np.abs(timed_archs.ms / measured - 1))),
                 "conditions_full": conditions}
    return model


EVAL_ROUNDS = 8
"""Interleaved rounds of ``latency-model eval`` (its two halves give the ceiling)."""
EVAL_CHUNK = 250
"""The most architectures an eval holds in memory and interleaves at once (with the
reference among them); more are measured chunk after chunk."""


@dataclass(frozen=True)
class Evaluation:
    """How well a model predicts fresh architectures, beside how well the measurement repeats.

    Every architecture is measured interleaved (:func:`nasbench.latency.interleaved`); its
    *measured* time is the median of the even rounds, measured *again* the median of the odd
    rounds (each half spans the whole window), its *truth* the median of all rounds. The main
    figures compare the prediction as a search makes it (scaled to the host's speed by the
    reference architecture's time in the same rounds, and by the level of the architectures
    before it, :meth:`LatencyModel.observe`) with the measured time; ``repeat_*`` compare the
    measured-again time with it (the ceiling: no predictor agrees with a measurement more
    often than the measurement agrees with itself); ``truth_*`` compare the prediction with
    all rounds. ``unleveled_*``: without the level; ``fixed_*``: at the fit's speed, neither
    scaled nor leveled. ``host_drift``: the reference's slowest burst over its fastest during
    the eval, minus 1."""

    archs: int
    seed: int
    rounds: int
    within_5: float
    within_10: float
    median_abs_error: float
    spearman: float
    unleveled_within_10: float
    unleveled_median_abs_error: float
    unleveled_spearman: float
    fixed_within_10: float
    fixed_median_abs_error: float
    fixed_spearman: float
    repeat_within_10: float
    repeat_median_abs_diff: float
    repeat_spearman: float
    truth_within_10: float
    truth_median_abs_error: float
    truth_spearman: float
    host_drift: float
    seconds: float
    rows: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (without the per-architecture rows)."""
        return {k: v for k, v in asdict(self).items() if k != "rows"}


def _probe(arch: Arch, settings: MeasureSettings) -> Probe:
    """``arch`` built (weights from seed 0) and ready to be timed under ``settings``."""
    return Probe(build_model(arch, seed=0), (arch.in_channels, arch.resolution, arch.resolution),
                 settings.device, settings.threads, settings.batch, settings.dtype,
                 settings.memory_format, settings.clock)


def measure_interleaved(archs: Sequence[Arch], reference: Arch, settings: MeasureSettings,
                        rounds: int, seed: int, slot: Any = None,
                        on_round: Callable[[int, int], None] | None = None
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Every one of ``archs`` and the ``reference`` measured interleaved in ``rounds`` rounds,
    :data:`EVAL_CHUNK` architectures at a time: each architecture's burst medians (one row per
    architecture, one column per round) and the reference's, one row per chunk."""
    table, reference_rows = [], []
    chunks = range(0, len(archs), EVAL_CHUNK)
    for c, begin in enumerate(chunks):
        chunk = archs[begin:begin + EVAL_CHUNK]
        probes: dict[Any, Probe] = {i: _probe(a, settings) for i, a in enumerate(chunk)}
        probes["reference"] = _probe(reference, settings)
        medians = interleaved(probes, rounds, seed=seed + c, slot=slot,
                              on_round=(lambda r, n, c=c: on_round(c * rounds + r,
                                                                   len(chunks) * rounds))
                              if on_round else None)
        table.extend(medians[i] for i in range(len(chunk)))
        reference_rows.append(medians["reference"])
        del probes
    return np.array(table, dtype=float), np.array(reference_rows, dtype=float)


def evaluate_model(model: LatencyModel, settings: MeasureSettings, archs: int = 200,
                   seed: int | None = None, rounds: int = EVAL_ROUNDS, slot: Any = None,
                   on_progress: Callable[[str, int, int], None] | None = None) -> Evaluation:
    """Predict ``archs`` architectures drawn with ``seed`` (default: the fit's seed + 1000, never
    the fit's own), measure them interleaved in ``rounds`` rounds with the model's reference
    architecture among them (:func:`measure_interleaved`), and compare (see
    :class:`Evaluation`). Each prediction is scaled by the reference's time in the same rounds
    over its time at the fit (for a version-1 model, without a reference, the scale is 1) and
    by the level of the architectures before it in draw order (:func:`online_levels`), as a
    search that measured them in that order would predict."""
    from scipy.stats import spearmanr  # deferred: scipy is slow to import

    check_archs(archs, "--archs", low=3)
    check_rounds(rounds, "--rounds")
    fit_seed = int(model.fit.get("seed", 0))
    seed = fit_seed + 1000 if seed is None else seed
    if seed == fit_seed:
        raise LatencyModelError(f"--seed {seed} is the seed the model was fitted with; "
                                f"evaluate on other architectures (another --seed)")
    model.check_conditions(settings.conditions())
    start = time.perf_counter()
    shape = DataShape(*model.shape)
    drawn = draw_archs(get_space(model.space), shape, archs, seed)
    fixed = np.array([model.predict_at_fit_speed(a, arch_cost(a).macs) for a in drawn])
    reference = model.reference or {"arch": drawn[0].to_string(), "ms": None}
    table, ref_table = measure_interleaved(
        drawn, decode(reference["arch"]), settings, rounds, seed, slot,
        (lambda d, n: on_progress("rounds", d, n)) if on_progress else None)
    first, second = np.median(table[:, 0::2], axis=1), np.median(table[:, 1::2], axis=1)
    truth = np.median(table, axis=1)
    chunk = np.arange(len(drawn)) // EVAL_CHUNK  # each architecture's reference: its chunk's
    ref_first = np.median(ref_table[:, 0::2], axis=1)[chunk]
    ref_second = np.median(ref_table[:, 1::2], axis=1)[chunk]
    scaled = fixed * ref_first / reference["ms"] if reference["ms"] else fixed
    levels = online_levels(first / scaled)
    predicted = scaled * levels

    def rel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.abs(a / b - 1)

    rows = [{"arch": a.to_string(), "predicted_ms": float(pr), "predicted_unleveled_ms": float(sc),
             "level": float(lv), "predicted_at_fit_speed_ms": float(fx),
             "measured_ms": float(m1), "measured_again_ms": float(m2), "measured_all_ms": float(mt),
             "reference_ms": float(r1), "reference_again_ms": float(r2)}
            for a, pr, sc, lv, fx, m1, m2, mt, r1, r2 in zip(
                drawn, predicted, scaled, levels, fixed, first, second, truth, ref_first, ref_second)]
    return Evaluation(archs=len(drawn), seed=seed, rounds=rounds,
                      within_5=float(np.mean(rel(predicted, first) <= 0.05)),
                      within_10=float(np.mean(rel(predicted, first) <= 0.10)),
                      median_abs_error=float(np.median(rel(predicted, first))),
                      spearman=float(spearmanr(predicted, first).statistic),
                      unleveled_within_10=float(np.mean(rel(scaled, first) <= 0.10)),
                      unleveled_median_abs_error=float(np.median(rel(scaled, first))),
                      unleveled_spearman=float(spearmanr(scaled, first).statistic),
                      fixed_within_10=float(np.mean(rel(fixed, first) <= 0.10)),
                      fixed_median_abs_error=float(np.median(rel(fixed, first))),
                      fixed_spearman=float(spearmanr(fixed, first).statistic),
                      repeat_within_10=float(np.mean(rel(second, first) <= 0.10)),
                      repeat_median_abs_diff=float(np.median(rel(second, first))),
                      repeat_spearman=float(spearmanr(second, first).statistic),
                      truth_within_10=float(np.mean(rel(predicted, truth) <= 0.10)),
                      truth_median_abs_error=float(np.median(rel(predicted, truth))),
                      truth_spearman=float(spearmanr(predicted, truth).statistic),
                      host_drift=float(ref_table.max() / ref_table.min() - 1),
                      seconds=time.perf_counter() - start, rows=rows)


def fit_to_file(space: str, dataset: str, data_dir: str | None, resolution: int | None,
                settings: MeasureSettings, out: str | None = None, runs_dir: str = "runs",
                archs: int = 80, seed: int = 0, slot: Any = None,
                on_progress: Callable[[str, int, int], None] | None = None) -> tuple[LatencyModel, Path]:
    """``latency-model fit``: the model of ``space`` at the input shape of ``dataset``, fitted
    here (:func:`fit_model`) and saved to ``out`` (default
    ``runs/latency-models/<space>-<dataset>-r<resolution>.json``). Raises ``ValueError`` on a
    bad space, measurement option or file name, before anything is timed."""
    if space not in SPACES:
        raise ValueError(f"unknown space {space!r}; choose one of {', '.join(SPACES)}")
    if not hasattr(get_space(space), "stages"):
        raise LatencyModelError(f"the latency model sums the parts of block spaces; {space} is a "
                                f"cell space: measure its architectures (profile --from FILE) "
                                f"or fit a model of {', '.join(k for k in SPACES if k != space)}")
    check_options(settings.device, settings.threads, settings.batch, settings.dtype,
                  settings.memory_format)
    check_archs(archs, "--archs", low=10)
    if out is not None:
        check_output_file(out, "--out", (".json",))
    data = load_dataset(dataset, data_dir, resolution, cache_dir=Path(runs_dir) / ".cache")
    shape = DataShape(data.resolution, data.channels, len(data.classes))
    path = check_output_file(out or Path(runs_dir) / "latency-models" /
                             f"{space}-{dataset}-r{shape.resolution}.json", "--out", (".json",))
    model = fit_model(space, shape, settings, archs=archs, seed=seed, slot=slot,
                      on_progress=on_progress)
    return model, model.save(path)


def predict_archs(path: str | Path, specs: Sequence[str], level_archs: int = 10,
                  slot: Any = None) -> tuple[LatencyModel, list[dict[str, Any]]]:
    """``latency-model predict``: the model at ``path`` and each architecture's prediction,
    part by part, after the model is calibrated to the host's speed now and leveled by
    ``level_archs`` architectures of its space timed now (0: no level). Raises ``ValueError``
    on a bad count, a damaged model or one of other conditions, an architecture with a part
    the model never measured, before anything is timed."""
    if level_archs != 0 and not LEVEL_MIN <= level_archs <= 1000:
        raise ValueError(f"--level-archs must be 0 (no level) or between {LEVEL_MIN} and 1000, "
                         f"got {level_archs}")
    model = load_model(path)
    settings = model.settings()
    model.check_conditions(settings.conditions())
    archs = [load_arch(spec) for spec in specs]
    for arch in archs:
        model.sum_ms(arch)  # an unseen part is refused before anything is timed
    model.calibrate(settings, slot)
    model.measure_level(settings, level_archs, slot)
    rows = []
    for arch in archs:
        total, parts = model.sum_ms(arch)
        rows.append({"arch": arch.to_string(), "predicted_ms": model.predict(arch),
                     "host_speed_scale": model.scale, "level": model.level,
                     "level_archs": level_archs, "sum_of_parts_ms": model.scale * total,
                     "parts": [{"part": k, "ms": model.scale * v} for k, v in parts]})
    return model, rows
