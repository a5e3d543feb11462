"""Closed-form parameter and multiply-add counts, independent of torch and fvcore.

Counts follow the conventions of :mod:`nasbench.nn.flops`: parameters include BatchNorm's weight
and bias (2 per channel) and the biases of SE convs and linear layers; multiply-adds count
convolutions and linear layers only (BN folded, no pooling, activations or additions).
For a K×K conv from C_in to C_out on an H×W output: params K²·C_in·C_out, MACs K²·C_in·C_out·H·W.
A depthwise-separable conv replaces it by K²·C_in + C_in·C_out (ratio 1/C_out + 1/K²).
"""

from __future__ import annotations

from dataclasses import dataclass

from nasbench.spec.arch import AnyArch, BlockConfig, resolve_blocks
from nasbench.spec.cells import CellArch, cell_cost


@dataclass(frozen=True)
class Cost:
    """Parameters and multiply-adds of a layer or network."""

    params: int
    macs: int

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.params + other.params, self.macs + other.macs)


def conv_bn_cost(in_chs: int, out_chs: int, kernel: int, out_size: int, groups: int = 1) -> Cost:
    """A bias-free conv followed by BatchNorm (2 params per output channel)."""
    weights = kernel * kernel * (in_chs // groups) * out_chs
    return Cost(weights + 2 * out_chs, weights * out_size * out_size)


def se_cost(channels: int, squeeze: int) -> Cost:
    """Squeeze-excite: two 1×1 convs with bias on a 1×1 map (pooling and gate cost no MACs)."""
    if not squeeze:
        return Cost(0, 0)
    return Cost(2 * channels * squeeze + squeeze + channels, 2 * channels * squeeze)


def block_cost(cfg: BlockConfig) -> Cost:
    """Closed-form cost of one resolved block."""
    k, cin, cout, mid = cfg.kernel, cfg.in_channels, cfg.out_channels, cfg.mid_channels
    hin, hout = cfg.in_size, cfg.out_size
    if cfg.kind == "conv":
        return conv_bn_cost(cin, cout, k, hout) + se_cost(cout, cfg.se_channels)
    if cfg.kind == "ds":
        return (conv_bn_cost(cin, cin, k, hout, groups=cin) + se_cost(cin, cfg.se_channels)
                + conv_bn_cost(cin, cout, 1, hout))
    if cfg.kind == "ir":
        expand = conv_bn_cost(cin, mid, 1, hin) if mid != cin else Cost(0, 0)
        return (expand + conv_bn_cost(mid, mid, k, hout, groups=mid)
                + se_cost(mid, cfg.se_channels) + conv_bn_cost(mid, cout, 1, hout))
    raise ValueError(f"unknown block kind {cfg.kind!r}")


def linear_cost(in_features: int, out_features: int) -> Cost:
    """A linear layer with bias."""
    return Cost(in_features * out_features + out_features, in_features * out_features)


def arch_cost(arch: AnyArch) -> Cost:
    """Closed-form cost of a whole network at its input resolution, batch 1."""
    if isinstance(arch, CellArch):
        return Cost(*cell_cost(arch))
    stem_size = -(-arch.resolution // arch.stem.stride)
    total = conv_bn_cost(arch.in_channels, arch.stem.channels, arch.stem.kernel, stem_size)
    for cfg in resolve_blocks(arch):
        total = total + block_cost(cfg)
    width, size = arch.stages[-1].channels, arch.final_resolution()
    if arch.head.channels:
        total = total + conv_bn_cost(width, arch.head.channels, 1, size)
        width = arch.head.channels
    if arch.head.hidden:
        total = total + linear_cost(width, arch.head.hidden)
        width = arch.head.hidden
    return total + linear_cost(width, arch.num_classes)


def separable_ratio(out_chs: int, kernel: int) -> float:
    """Closed-form depthwise-separable / standard cost ratio of the conv weights: 1/C_out + 1/K²."""
    return 1.0 / out_chs + 1.0 / (kernel * kernel)
