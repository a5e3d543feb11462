"""NAS-Bench-201 cell architectures: the spec, its string, and its exact costs (no torch).

The network is NAS-Bench-201's CIFAR network (Dong & Yang, ICLR 2020): a 3×3 conv stem (16
channels, BatchNorm), three stages of :data:`CELLS` cells at 16, 32 and 64 channels with a
residual reduction block between two stages, then BatchNorm, ReLU, global average pooling and
a linear classifier. A cell has 4 nodes; node ``i`` is the sum of one operation on each
earlier node ``j`` (6 edges), each operation one of :data:`OPS`:

* ``none``: zero (the edge is absent);
* ``skip_connect``: identity;
* ``nor_conv_1x1``, ``nor_conv_3x3``: ReLU, conv (no bias), BatchNorm;
* ``avg_pool_3x3``: 3×3 average pooling, stride 1, padding 1 (padding not counted).

The string is NAS-Bench-201's own: ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``, one ``+``-group per
node 1, 2, 3, each ``op~j`` the edge from node ``j``. Architectures for another input than
CIFAR-10's (32×32 RGB, 10 classes) carry nasbench's input section first:
``res8_in1_cls10:|...|``.

Costs follow :mod:`nasbench.spec.formulas`: parameters include BatchNorm's 2 per channel (equal to
NAS-Bench-201's published counts); multiply-adds count convolutions and the classifier only,
of the edges the network computes (:func:`live_edges`: an edge whose result cannot reach the
output is skipped; NAS-Bench-201's published FLOPs count it).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
"""NAS-Bench-201's operations, in its order (the index of each is its code in published tables)."""
EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
"""The cell's edges as (to node, from node), in the string's order."""
CHANNELS: tuple[int, int, int] = (16, 32, 64)
"""The width of each stage."""
CELLS = 5
"""Cells per stage."""
CIFAR_INPUT = (32, 3, 10)
"""The input NAS-Bench-201 was published for: resolution, channels, classes."""
FAMILY = "nb201"
_INPUT = re.compile(r"res(\d+)_in(\d+)_cls(\d+)")


@dataclass(frozen=True)
class CellArch:
    """A NAS-Bench-201 network: the operation on each edge of its cell, and its input."""

    ops: tuple[str, ...]
    resolution: int = CIFAR_INPUT[0]
    in_channels: int = CIFAR_INPUT[1]
    num_classes: int = CIFAR_INPUT[2]

    def __post_init__(self) -> None:
        if isinstance(self.ops, list):
            object.__setattr__(self, "ops", tuple(self.ops))
        if not isinstance(self.ops, tuple) or len(self.ops) != len(EDGES):
            raise ValueError(f"a NAS-Bench-201 cell has {len(EDGES)} edges, got {self.ops!r}")
        for op in self.ops:
            if op not in OPS:
                raise ValueError(f"unknown NAS-Bench-201 operation {op!r}; choose one of "
                                 f"{', '.join(OPS)}")
        for name, value, low, high in (("resolution", self.resolution, 4, 4096),
                                       ("input channels", self.in_channels, 1, 64),
                                       ("number of classes", self.num_classes, 2, 100_000)):
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
        if self.resolution % 4:
            raise ValueError(f"a NAS-Bench-201 network halves its input twice: the resolution "
                             f"must be a multiple of 4, got {self.resolution}")

    @property
    def family(self) -> str:
        """The architecture family: ``nb201``."""
        return FAMILY

    def nb201_string(self) -> str:
        """NAS-Bench-201's own string of the cell."""
        groups: list[list[str]] = [[], [], []]
        for (node, source), op in zip(EDGES, self.ops):
            groups[node - 1].append(f"{op}~{source}")
        return "+".join("|" + "|".join(g) + "|" for g in groups)

    def to_string(self) -> str:
        """The canonical string: NAS-Bench-201's, after the input section when the input is
        not CIFAR-10's."""
        text = self.nb201_string()
        if (self.resolution, self.in_channels, self.num_classes) == CIFAR_INPUT:
            return text
        return f"res{self.resolution}_in{self.in_channels}_cls{self.num_classes}:{text}"

    def digest(self) -> str:
        """A short stable name: 10 hex digits of the string's SHA-256."""
        return hashlib.sha256(self.to_string().encode()).hexdigest()[:10]

    def final_resolution(self) -> int:
        """Spatial size of the last stage."""
        return self.resolution // 4

    def with_input(self, resolution: int, in_channels: int, num_classes: int) -> CellArch:
        """The same cell for another input."""
        return CellArch(self.ops, resolution, in_channels, num_classes)


def is_cell_string(text: str) -> bool:
    """Whether ``text`` is a cell architecture's string (its last section starts with ``|``)."""
    return isinstance(text, str) and text.strip().split(":")[-1].startswith("|")


def parse_nb201(text: str) -> tuple[str, ...]:
    """The six operations of a NAS-Bench-201 string, edge by edge; ``ValueError`` naming the
    bad part (an unknown operation, a wrong node index, a missing or extra edge)."""
    groups = text.strip().split("+")
    if len(groups) != 3:
        raise ValueError(f"a NAS-Bench-201 string has 3 '+'-separated nodes, got {len(groups)} in "
                         f"{text!r}; e.g. |nor_conv_3x3~0|+|none~0|skip_connect~1|+|"
                         f"avg_pool_3x3~0|nor_conv_1x1~1|skip_connect~2|")
    ops: list[str] = []
    for node, group in enumerate(groups, start=1):
        if not (group.startswith("|") and group.endswith("|")) or len(group) < 2:
            raise ValueError(f"node {node} of a NAS-Bench-201 string must be |op~j|...|, got {group!r}")
        edges = group[1:-1].split("|")
        if len(edges) != node:
            raise ValueError(f"node {node} of a NAS-Bench-201 string takes {node} edge(s) (from "
                             f"nodes 0 to {node - 1}), got {len(edges)} in {group!r}")
        for source, edge in enumerate(edges):
            op, sep, index = edge.partition("~")
            if not sep:
                raise ValueError(f"edge {edge!r} of node {node} must be op~j")
            if op not in OPS:
                raise ValueError(f"unknown NAS-Bench-201 operation {op!r} in {edge!r}; choose one "
                                 f"of {', '.join(OPS)}")
            if index != str(source):
                raise ValueError(f"edge {edge!r} of node {node} must come from node {source} "
                                 f"(write {op}~{source}): edges are listed from node 0 up")
            ops.append(op)
    return tuple(ops)


def decode_cell(text: str) -> CellArch:
    """A :class:`CellArch` from its string (strict: ``ValueError`` naming the bad part)."""
    sections = text.strip().split(":")
    if len(sections) > 2:
        raise ValueError(f"a NAS-Bench-201 architecture is [res<R>_in<C>_cls<N>:]|...|, got "
                         f"{len(sections)} sections")
    shape = CIFAR_INPUT
    if len(sections) == 2:
        match = _INPUT.fullmatch(sections[0])
        if not match:
            raise ValueError(f"bad input section {sections[0]!r}; write res<R>_in<C>_cls<N>")
        shape = tuple(int(v) for v in match.groups())  # type: ignore[assignment]
    return CellArch(parse_nb201(sections[-1]), *shape)


def to_dict(arch: CellArch) -> dict[str, Any]:
    """A JSON-ready dict of ``arch``."""
    return {"family": FAMILY, "ops": list(arch.ops), "resolution": arch.resolution,
            "in_channels": arch.in_channels, "num_classes": arch.num_classes,
            "string": arch.to_string()}


def from_dict(data: dict[str, Any]) -> CellArch:
    """Rebuild a :class:`CellArch` from :func:`to_dict`'s output; unknown keys raise."""
    unknown = set(data) - {"family", "ops", "resolution", "in_channels", "num_classes", "string"}
    if unknown:
        raise ValueError(f"unknown key(s) in architecture JSON: {', '.join(sorted(unknown))}")
    if not isinstance(data.get("ops"), list):
        raise ValueError("'ops' must be a list of the cell's six operations")
    arch = CellArch(tuple(data["ops"]), data.get("resolution", CIFAR_INPUT[0]),
                    data.get("in_channels", CIFAR_INPUT[1]), data.get("num_classes", CIFAR_INPUT[2]))
    if "string" in data and data["string"] != arch.to_string():
        raise ValueError("the 'string' key does not match the spec's fields; remove it or fix it")
    return arch


# ------------------------------------------------------------------------------------ costs

def live_edges(ops: tuple[str, ...]) -> list[bool]:
    """Which edges the network computes: those that are not ``none`` and lead into a node
    that reaches the output (node 3) through edges that are not ``none``. The others cannot
    change the output (NAS-Bench-201's code computes them; a traced or exported graph drops
    them), so they cost no multiply-add; their parameters still exist."""
    reaches = {3}
    for node in (2, 1, 0):
        if any(source == node and to in reaches and op != "none"
               for (to, source), op in zip(EDGES, ops)):
            reaches.add(node)
    return [op != "none" and to in reaches for (to, _), op in zip(EDGES, ops)]


def _conv(in_chs: int, out_chs: int, kernel: int, size: int) -> tuple[int, int]:
    """Params (with BatchNorm) and multiply-adds of a bias-free conv and its BatchNorm."""
    weights = kernel * kernel * in_chs * out_chs
    return weights + 2 * out_chs, weights * size * size


def cell_cost(arch: CellArch) -> tuple[int, int]:
    """Exact parameters and multiply-adds of ``arch`` at its input, batch 1."""
    params, macs = _conv(arch.in_channels, CHANNELS[0], 3, arch.resolution)
    size = arch.resolution
    for stage, width in enumerate(CHANNELS):
        if stage:
            before, size = CHANNELS[stage - 1], size // 2
            for cin in (before, width):  # conv_a (stride 2), conv_b
                p, m = _conv(cin, width, 3, size)
                params, macs = params + p, macs + m
            params += before * width  # the shortcut: 2x2 average pool, 1x1 conv, no BatchNorm
            macs += before * width * size * size
        for op, live in zip(arch.ops, live_edges(arch.ops)):
            if op.startswith("nor_conv_"):
                p, m = _conv(width, width, int(op[-1]), size)
                params, macs = params + CELLS * p, macs + CELLS * m * live
    last = CHANNELS[-1]
    params += 2 * last + last * arch.num_classes + arch.num_classes  # BatchNorm, classifier
    return params, macs + last * arch.num_classes


def activation_elements(arch: CellArch) -> list[int]:
    """The elements of every tensor a training step keeps, in order (an upper bound: each
    edge's output and each node's sum; a conv edge keeps its ReLU, conv and BatchNorm outputs)."""
    tensors = [arch.in_channels * arch.resolution ** 2] + [CHANNELS[0] * arch.resolution ** 2] * 2
    size = arch.resolution
    per_op = {"none": 1, "skip_connect": 0, "avg_pool_3x3": 1, "nor_conv_1x1": 3, "nor_conv_3x3": 3}
    for stage, width in enumerate(CHANNELS):
        if stage:
            size //= 2
            tensors += [width * size * size] * 7
        kept = sum(per_op[op] for op in arch.ops) + 3
        tensors += [width * size * size] * (kept * CELLS)
    return tensors + [CHANNELS[-1] * size * size] * 2
