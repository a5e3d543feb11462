"""Fitting a latency model: every part timed alone, whole architectures timed, the
correction chosen held out, the model written to a file.
"""


import dataclasses
import logging
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from nasbench.files import check_output_file
from nasbench.latency_model.measure import (
    HostSpeed,
    MeasureSettings,
    check_archs,
    draw_archs,
    time_archs,
    measure_referenced,
)
from nasbench.latency_model.model import (
    CONDITION_KEYS,
    FEATURES,
    REFERENCE_SEED,
    LatencyModel,
)
from nasbench.latency_model.parts import space_parts
from nasbench.errors import LatencyModelError
from nasbench.measure.latency import (
    check_options,
)
from nasbench.spec.formulas import arch_cost
from nasbench.train.data import load_dataset
from search_spaces import SPACES, DataShape, get_space

logger = logging.getLogger(__name__)

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
    timed_archs = time_archs(drawn, settings, speed, slot,
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


