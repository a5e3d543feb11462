"""Layer classes only: the three block kinds, squeeze-excite and the conv-BN-activation unit.

Sub-layers are flat and named for what they are; a switched-off part is ``nn.Identity()`` so
the forward passes have no branches on configuration. Widths and the skip are given explicitly:
the spec rules (expansion, SE ratio, identity skip) are applied once, in :mod:`nasbench.spec.arch`.

Everything here imports only torch: ``nasbench.workflows.export`` copies this module's functions and
classes, with :class:`nasbench.nn.build.Network`, into standalone ``model.py`` files.
"""

from __future__ import annotations

from torch import Tensor, nn


def make_activation(name: str) -> nn.Module:
    """A fresh activation module for ``name`` (relu, relu6, hswish, silu)."""
    activations = {"relu": nn.ReLU, "relu6": nn.ReLU6, "hswish": nn.Hardswish, "silu": nn.SiLU}
    if name not in activations:
        raise ValueError(f"unknown activation {name!r}; expected one of {', '.join(activations)}")
    return activations[name](inplace=True)


def conv2d(in_chs: int, out_chs: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    """A bias-free conv with same padding (output size = ceil(input / stride))."""
    if kernel % 2 != 1:
        raise ValueError(f"kernel must be odd for same padding, got {kernel}")
    return nn.Conv2d(in_chs, out_chs, kernel, stride=stride, padding=kernel // 2,
                     groups=groups, bias=False)


class ConvBnAct(nn.Module):
    """K×K conv (no bias), BatchNorm, activation (``None`` for none)."""

    def __init__(self, in_chs: int, out_chs: int, kernel: int, stride: int = 1,
                 activation: str | None = "relu", groups: int = 1) -> None:
        super().__init__()
        self.conv = conv2d(in_chs, out_chs, kernel, stride, groups)
        self.bn = nn.BatchNorm2d(out_chs)
        self.act = make_activation(activation) if activation else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.bn(self.conv(x)))


class SqueezeExcite(nn.Module):
    """Squeeze-excite: pool, 1×1 conv to ``squeeze_chs`` (bias), ReLU, 1×1 conv back, hard sigmoid gate."""

    def __init__(self, channels: int, squeeze_chs: int) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.conv_reduce = nn.Conv2d(channels, squeeze_chs, 1, bias=True)
        self.act = nn.ReLU(inplace=True)
        self.conv_expand = nn.Conv2d(squeeze_chs, channels, 1, bias=True)
        self.gate = nn.Hardsigmoid()

    def forward(self, x: Tensor) -> Tensor:
        scale = self.gate(self.conv_expand(self.act(self.conv_reduce(self.pool(x)))))
        return x * scale


def squeeze_excite(channels: int, squeeze_chs: int) -> nn.Module:
    """An SE module, or ``nn.Identity()`` when ``squeeze_chs`` is 0."""
    return SqueezeExcite(channels, squeeze_chs) if squeeze_chs else nn.Identity()


class ConvBlock(nn.Module):
    """Standard K×K conv, BN, activation, optional SE on the output."""

    def __init__(self, in_chs: int, out_chs: int, kernel: int, stride: int, activation: str,
                 se_chs: int = 0) -> None:
        super().__init__()
        self.conv = conv2d(in_chs, out_chs, kernel, stride)
        self.bn1 = nn.BatchNorm2d(out_chs)
        self.act1 = make_activation(activation)
        self.se = squeeze_excite(out_chs, se_chs)

    def forward(self, x: Tensor) -> Tensor:
        return self.se(self.act1(self.bn1(self.conv(x))))


class DepthwiseSeparable(nn.Module):
    """K×K depthwise conv (``groups=in_chs``), BN, act, optional SE, 1×1 pointwise conv, BN, act."""

    def __init__(self, in_chs: int, out_chs: int, kernel: int, stride: int, activation: str,
                 se_chs: int = 0) -> None:
        super().__init__()
        self.conv_dw = conv2d(in_chs, in_chs, kernel, stride, groups=in_chs)
        self.bn1 = nn.BatchNorm2d(in_chs)
        self.act1 = make_activation(activation)
        self.se = squeeze_excite(in_chs, se_chs)
        self.conv_pw = conv2d(in_chs, out_chs, 1)
        self.bn2 = nn.BatchNorm2d(out_chs)
        self.act2 = make_activation(activation)

    def forward(self, x: Tensor) -> Tensor:
        x = self.se(self.act1(self.bn1(self.conv_dw(x))))
        return self.act2(self.bn2(self.conv_pw(x)))


class InvertedResidual(nn.Module):
    """1×1 expansion (left out when ``mid_chs == in_chs``), K×K depthwise, optional SE,
    1×1 linear projection with BN and no activation; identity skip when ``skip``.
    """

    def __init__(self, in_chs: int, out_chs: int, kernel: int, stride: int, activation: str,
                 mid_chs: int, se_chs: int = 0, skip: bool = False) -> None:
        super().__init__()
        if skip and (in_chs != out_chs or stride != 1):
            raise ValueError("an identity skip needs stride 1 and equal input and output widths")
        self.has_skip = skip
        expand = mid_chs != in_chs
        self.conv_pw = conv2d(in_chs, mid_chs, 1) if expand else nn.Identity()
        self.bn1 = nn.BatchNorm2d(mid_chs) if expand else nn.Identity()
        self.act1 = make_activation(activation) if expand else nn.Identity()
        self.conv_dw = conv2d(mid_chs, mid_chs, kernel, stride, groups=mid_chs)
        self.bn2 = nn.BatchNorm2d(mid_chs)
        self.act2 = make_activation(activation)
        self.se = squeeze_excite(mid_chs, se_chs)
        self.conv_pwl = conv2d(mid_chs, out_chs, 1)
        self.bn3 = nn.BatchNorm2d(out_chs)

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x
        x = self.act1(self.bn1(self.conv_pw(x)))
        x = self.se(self.act2(self.bn2(self.conv_dw(x))))
        x = self.bn3(self.conv_pwl(x))
        return x + shortcut if self.has_skip else x


def make_block(kind: str, **kwargs: object) -> nn.Module:
    """The block of ``kind`` (conv, ds, ir) built from its keyword arguments."""
    kinds = {"conv": ConvBlock, "ds": DepthwiseSeparable, "ir": InvertedResidual}
    if kind not in kinds:
        raise ValueError(f"unknown block kind {kind!r}; expected one of {', '.join(kinds)}")
    return kinds[kind](**kwargs)
