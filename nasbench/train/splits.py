"""Seeded stratified splits, index for index those of scikit-learn's
``train_test_split(..., stratify=y, random_state=seed)`` (``StratifiedShuffleSplit``), in numpy
alone: importing ``sklearn.model_selection`` (and scipy with it) took 2.5 s of every search's
start-up on a 2-core machine, for a split that takes a millisecond. ``tests/test_data.py``
checks the two agree on many labels, sizes and seeds, so studies made before keep their splits.
"""

from __future__ import annotations

import numpy as np


def approximate_mode(class_counts: np.ndarray, n_draws: int,
                     rng: np.random.RandomState) -> np.ndarray:
    """Items to draw from each class so that ``n_draws`` are drawn in all, as near the classes'
    proportions as whole numbers allow; ties in the remainders are broken at random by ``rng``
    (scikit-learn's ``_approximate_mode``, same draws from ``rng``)."""
    continuous = class_counts / class_counts.sum() * n_draws
    floored = np.floor(continuous)
    need_to_add = int(n_draws - floored.sum())
    if need_to_add > 0:
        remainder = continuous - floored
        for value in np.sort(np.unique(remainder))[::-1]:
            (inds,) = np.where(remainder == value)
            add_now = min(len(inds), need_to_add)
            inds = rng.choice(inds, size=add_now, replace=False)
            floored[inds] += 1
            need_to_add -= add_now
            if need_to_add == 0:
                break
    return floored.astype(int)


def stratified_split(y: np.ndarray, test_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(keep, held)`` of ``y``, both sorted: ``test_size`` items held out, every class in
    both parts in proportion. Raises ``ValueError`` when a class has fewer than 2 items or
    either part would have fewer items than there are classes."""
    y = np.asarray(y)
    n_samples = len(y)
    if not 0 < test_size < n_samples:
        raise ValueError(f"cannot hold out {test_size} of {n_samples} items")
    n_train = n_samples - test_size
    classes, y_indices, class_counts = np.unique(y, return_inverse=True, return_counts=True)
    n_classes = len(classes)
    if class_counts.min() < 2:
        rare = classes[class_counts < 2].tolist()
        raise ValueError(f"classes {rare} have a single item; every class needs at least 2 to "
                         f"be split (add images to them or remove them)")
    if min(n_train, test_size) < n_classes:
        raise ValueError(f"a split of {n_samples} items into {n_train} and {test_size} leaves a "
                         f"part with fewer items than the {n_classes} classes")
    class_indices = np.split(np.argsort(y_indices, kind="stable"), np.cumsum(class_counts)[:-1])
    rng = np.random.RandomState(seed)
    n_i = approximate_mode(class_counts, n_train, rng)
    t_i = approximate_mode(class_counts - n_i, test_size, rng)
    keep: list[np.ndarray] = []
    held: list[np.ndarray] = []
    for i in range(n_classes):
        members = class_indices[i].take(rng.permutation(class_counts[i]), mode="clip")
        keep.append(members[:n_i[i]])
        held.append(members[n_i[i]:n_i[i] + t_i[i]])
    return np.sort(np.concatenate(keep)), np.sort(np.concatenate(held))
