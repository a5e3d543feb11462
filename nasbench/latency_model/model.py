"""A latency model of this machine: its parts' times, the correction fitted on whole
architectures, the reference architecture that follows the host's speed, the level set by
real measurements; reading, checking and predicting.
"""


import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from nasbench.files import atomic_write
from nasbench.latency_model.measure import (
    REFERENCE_WINDOW,
    HostSpeed,
    MeasureSettings,
    draw_archs,
    time_arch,
)
from nasbench.latency_model.parts import part_keys
from nasbench.errors import LatencyModelError
from nasbench.measure.conditions import check_threads
from nasbench.measure.latency import DTYPES, MAX_BATCH, MEMORY_FORMATS
from nasbench.spec.arch import Arch, decode
from nasbench.spec.formulas import arch_cost
from nasbench.spec.references import load_arch
from search_spaces import DataShape, get_space

logger = logging.getLogger(__name__)

KIND = "nasbench-latency-model"
VERSION = 2
READS = (1, 2)
"""Model versions this code reads: version 1 has no reference architecture (no drift scaling)."""
REFERENCE_SEED = 20_261_129
"""The seed that draws a space's reference architecture (one uniform draw)."""
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
            self.observe(arch, time_arch(arch, settings, slot))
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
