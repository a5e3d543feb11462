"""Evaluating a latency model: held-out architectures measured interleaved with the
reference, the prediction against the measurement and the measurement's own ceiling.
"""


import logging
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, Sequence

import numpy as np

from nasbench.latency_model.measure import MeasureSettings, check_archs, draw_archs
from nasbench.latency_model.model import LatencyModel, online_levels
from nasbench.errors import LatencyModelError
from nasbench.measure.latency import Probe, check_rounds, interleaved
from nasbench.nn.build import build_model
from nasbench.spec.arch import Arch, decode
from nasbench.spec.formulas import arch_cost
from search_spaces import DataShape, get_space

logger = logging.getLogger(__name__)

EVAL_ROUNDS = 8
"""Interleaved rounds of ``latency-model eval`` (its two halves give the ceiling)."""
EVAL_CHUNK = 250
"""The most architectures an eval holds in memory and interleaves at once (with the
reference among them); more are measured chunk after chunk."""


@dataclass(frozen=True)
class Evaluation:
    """How well a model predicts fresh architectures, beside how well the measurement repeats.

    Every architecture is measured interleaved (:func:`nasbench.measure.latency.interleaved`); its
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


