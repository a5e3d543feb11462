"""Uncertainty of a trial's figures, and the Pareto front within noise.

Validation accuracy is a proportion of ``n`` images: its 95 % interval is Wilson's score
interval. Latency carries the distribution-free interval of its median (order statistics, see
:func:`nasbench.measure.latency.median_interval`). A trial is *on the front within noise* when no other
eligible trial dominates it beyond both intervals: better on accuracy with the intervals apart
(its lower bound above this one's upper bound, or equal bounds with one strictly apart) and
faster with the intervals apart. Disjoint 95 % intervals are a conservative test: a trial kept
within noise may still be dominated in truth; one left out is dominated beyond reasonable doubt.
"""

from __future__ import annotations

import numpy as np

Z95 = 1.959963984540054


def wilson_interval(accuracy: np.ndarray, n: int | np.ndarray, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson's 95 % score interval of proportions ``accuracy`` measured on ``n`` items each
    (NaN where the accuracy or ``n`` is missing)."""
    p = np.asarray(accuracy, float)
    n = np.asarray(n, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        denom = 1 + z ** 2 / n
        centre = (p + z ** 2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z ** 2 / (4 * n ** 2)) / denom
    bad = ~(np.isfinite(p) & np.isfinite(n) & (n > 0))
    low, high = np.where(bad, np.nan, centre - half), np.where(bad, np.nan, centre + half)
    return np.clip(low, 0.0, 1.0), np.clip(high, 0.0, 1.0)


def seeds_interval(mean: float, std: float, k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """95 % interval of a mean accuracy over ``k`` seeds, each on ``n`` validation images: the
    wider of Wilson's interval on the pooled ``k·n`` images and the mean's normal interval from
    the seeds' standard deviation (training noise as well as sampling noise)."""
    low, high = wilson_interval(np.array([mean]), k * n, z)
    half = z * std / np.sqrt(k) if k > 1 else 0.0
    return float(min(low[0], mean - half)), float(max(high[0], mean + half))


def noise_front_mask(acc_low: np.ndarray, acc_high: np.ndarray, lat_low: np.ndarray,
                     lat_high: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """Eligible trials that no other eligible trial dominates beyond noise (see the module).

    Trial ``j`` dominates ``i`` beyond noise when ``acc_low[j] >= acc_high[i]`` and
    ``lat_high[j] <= lat_low[i]``, one of them strictly. A trial without intervals (NaN) is
    judged on the points it has: its interval is the point itself.
    """
    acc_low, acc_high = np.asarray(acc_low, float), np.asarray(acc_high, float)
    lat_low, lat_high = np.asarray(lat_low, float), np.asarray(lat_high, float)
    eligible = np.asarray(eligible, bool)
    idx = np.flatnonzero(eligible)
    mask = np.zeros(len(eligible), dtype=bool)
    if not len(idx):
        return mask
    a_lo, l_hi = np.nan_to_num(acc_low[idx], nan=-np.inf), np.nan_to_num(lat_high[idx], nan=np.inf)
    a_hi, l_lo = np.nan_to_num(acc_high[idx], nan=np.inf), np.nan_to_num(lat_low[idx], nan=-np.inf)
    # One sweep by the dominators' latency upper bound, O(n log n) (10,000 trials: milliseconds):
    # i is dominated beyond noise when, among trials with l_hi < l_lo[i], the best a_lo reaches
    # a_hi[i], or among those with l_hi <= l_lo[i] it exceeds it. (No trial dominates itself:
    # its own bounds overlap.)
    order = np.argsort(l_hi, kind="stable")
    sorted_l_hi = l_hi[order]
    best = np.maximum.accumulate(a_lo[order])  # best a_lo among the k fastest upper bounds

    def best_below(counts: np.ndarray) -> np.ndarray:
        return np.where(counts > 0, best[np.maximum(counts - 1, 0)], -np.inf)

    strict_faster = best_below(np.searchsorted(sorted_l_hi, l_lo, side="left"))
    faster = best_below(np.searchsorted(sorted_l_hi, l_lo, side="right"))
    dominated = (strict_faster >= a_hi) | (faster > a_hi)
    mask[idx] = ~dominated
    return mask
