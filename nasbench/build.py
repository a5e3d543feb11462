"""Build an ``nn.Module`` from an :class:`~nasbench.arch.Arch` spec."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from nasbench.arch import Arch, BlockConfig, resolve_blocks
from nasbench.blocks import ConvBlock, ConvBnAct, DepthwiseSeparable, InvertedResidual, make_activation


def build_block(cfg: BlockConfig) -> nn.Module:
    """The layer for one resolved block."""
    if cfg.kind == "conv":
        return ConvBlock(cfg.in_channels, cfg.out_channels, cfg.kernel, cfg.stride,
                         cfg.activation, cfg.se_channels)
    if cfg.kind == "ds":
        return DepthwiseSeparable(cfg.in_channels, cfg.out_channels, cfg.kernel, cfg.stride,
                                  cfg.activation, cfg.se_channels)
    if cfg.kind == "ir":
        return InvertedResidual(cfg.in_channels, cfg.out_channels, cfg.kernel, cfg.stride,
                                cfg.activation, cfg.mid_channels, cfg.se_channels)
    raise ValueError(f"unknown block kind {cfg.kind!r}")


class Network(nn.Module):
    """Stem, blocks (one ``nn.Sequential`` per stage), head conv, pool, hidden, dropout, classifier."""

    def __init__(self, arch: Arch) -> None:
        super().__init__()
        self.arch = arch
        self.stem = ConvBnAct(arch.in_channels, arch.stem.channels, arch.stem.kernel,
                              arch.stem.stride, arch.stem.activation)
        configs = iter(resolve_blocks(arch))
        self.blocks = nn.Sequential(*(
            nn.Sequential(*(build_block(next(configs)) for _ in range(stage.repeats)))
            for stage in arch.stages
        ))
        width = arch.stages[-1].channels
        head = arch.head
        self.conv_head = (ConvBnAct(width, head.channels, 1, 1, head.activation)
                          if head.channels else nn.Identity())
        width = head.channels or width
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten(1)
        if head.hidden:
            self.hidden = nn.Sequential(nn.Linear(width, head.hidden),
                                        make_activation(head.activation or "relu"))
            width = head.hidden
        else:
            self.hidden = nn.Identity()
        self.dropout = nn.Dropout(head.dropout) if head.dropout else nn.Identity()
        self.classifier = nn.Linear(width, arch.num_classes)

    def forward_features(self, x: Tensor) -> Tensor:
        """Feature map before the head."""
        return self.blocks(self.stem(x))

    def forward(self, x: Tensor) -> Tensor:
        x = self.flatten(self.pool(self.conv_head(self.forward_features(x))))
        return self.classifier(self.dropout(self.hidden(x)))


def build_model(arch: Arch, seed: int | None = None) -> Network:
    """Build the network for ``arch`` (train mode); ``seed`` makes the initial weights
    reproducible without touching the global random state."""
    if seed is None:
        return Network(arch)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return Network(arch)


def count_params(model: nn.Module) -> int:
    """Number of trainable parameters (BatchNorm running statistics are buffers, not counted)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
