"""Uncertainty of a trial's figures, and the Pareto front within noise.

Validation accuracy is a proportion of ``n`` images: its 95 % interval is Wilson's score
interval. Latency carries the distribution-free interval of its median (order statistics, see
:func:`nasbench.latency.median_interval`). A trial is *on the front within noise* when no other
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
    for start in range(0, len(idx), 512):  # rows in blocks: memory stays small at 10,000 trials
        rows = slice(start, start + 512)
        # dominated[i, j]: j dominates i beyond noise (never itself: its own bounds overlap).
        better = a_lo[None, :] >= a_hi[rows, None]
        faster = l_hi[None, :] <= l_lo[rows, None]
        strict = (a_lo[None, :] > a_hi[rows, None]) | (l_hi[None, :] < l_lo[rows, None])
        mask[idx[rows]] = ~(better & faster & strict).any(axis=1)
    return mask
