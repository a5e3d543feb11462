"""``nb201``: NAS-Bench-201's cell space (15,625 architectures), for its published tables."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from nasbench.spec.cells import EDGES, OPS, CellArch

from search_spaces.base import DataShape, Trial


@dataclass(frozen=True)
class NB201Space:
    """One cell repeated through NAS-Bench-201's CIFAR network; each of its 6 edges picks one
    of 5 operations (see :mod:`nasbench.spec.cells`)."""

    name: str = "nb201"
    description: str = ("NAS-Bench-201's cell: 6 edges, each none / skip / conv 1x1 / conv 3x3 / "
                        "avg pool 3x3 (15,625 architectures; input a multiple of 4 px)")

    def sample(self, trial: Trial, shape: DataShape) -> CellArch:
        """Draw an architecture for data of ``shape`` (parameters ``e<to>_<from>``)."""
        ops = tuple(trial.suggest_categorical(f"e{to}_{source}", OPS) for to, source in EDGES)
        return CellArch(ops, shape.resolution, shape.channels, shape.classes)

    def size(self) -> int:
        """5 operations on each of 6 edges."""
        return len(OPS) ** len(EDGES)

    def enumerate(self, shape: DataShape) -> list[CellArch]:
        """Every architecture of the space for data of ``shape``, in a stable order (the last
        edge changes fastest)."""
        return [CellArch(ops, shape.resolution, shape.channels, shape.classes)
                for ops in itertools.product(OPS, repeat=len(EDGES))]
