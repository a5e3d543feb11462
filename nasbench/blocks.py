"""Layer classes only: the three block kinds, squeeze-excite and the conv-BN-activation unit.

Sub-layers are flat and named for what they are; a switched-off part is ``nn.Identity()`` so
the forward passes have no branches on configuration. Widths are given explicitly: the spec
rules (expansion, SE ratio) are applied by the builder, see :mod:`nasbench.arch`.
"""

from __future__ import annotations

from torch import Tensor, nn

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "relu6": nn.ReLU6,
    "hswish": nn.Hardswish,
    "silu": nn.SiLU,
}


def make_activation(name: str) -> nn.Module:
    """A fresh activation module for ``name`` (relu, relu6, hswish, silu)."""
    try:
        return _ACTIVATIONS[name](inplace=True)
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; expected one of "
                         f"{', '.join(_ACTIVATIONS)}") from None


def _conv(in_chs: int, out_chs: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
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
        self.conv = _conv(in_chs, out_chs, kernel, stride, groups)
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


def _se(channels: int, squeeze_chs: int) -> nn.Module:
    return SqueezeExcite(channels, squeeze_chs) if squeeze_chs else nn.Identity()


class ConvBlock(nn.Module):
    """Standard K×K conv, BN, activation, optional SE on the output."""

    def __init__(self, in_chs: int, out_chs: int, kernel: int, stride: int, activation: str,
                 se_chs: int = 0) -> None:
        super().__init__()
        self.conv = _conv(in_chs, out_chs, kernel, stride)
        self.bn1 = nn.BatchNorm2d(out_chs)
        self.act1 = make_activation(activation)
        self.se = _se(out_chs, se_chs)

    def forward(self, x: Tensor) -> Tensor:
        return self.se(self.act1(self.bn1(self.conv(x))))


class DepthwiseSeparable(nn.Module):
    """K×K depthwise conv (``groups=in_chs``), BN, act, optional SE, 1×1 pointwise conv, BN, act."""

    def __init__(self, in_chs: int, out_chs: int, kernel: int, stride: int, activation: str,
                 se_chs: int = 0) -> None:
        super().__init__()
        self.conv_dw = _conv(in_chs, in_chs, kernel, stride, groups=in_chs)
        self.bn1 = nn.BatchNorm2d(in_chs)
        self.act1 = make_activation(activation)
        self.se = _se(in_chs, se_chs)
        self.conv_pw = _conv(in_chs, out_chs, 1)
        self.bn2 = nn.BatchNorm2d(out_chs)
        self.act2 = make_activation(activation)

    def forward(self, x: Tensor) -> Tensor:
        x = self.se(self.act1(self.bn1(self.conv_dw(x))))
        return self.act2(self.bn2(self.conv_pw(x)))


class InvertedResidual(nn.Module):
    """1×1 expansion (left out when ``mid_chs == in_chs``), K×K depthwise, optional SE,
    1×1 linear projection with BN and no activation; identity skip when stride 1 and widths match.
    """

    def __init__(self, in_chs: int, out_chs: int, kernel: int, stride: int, activation: str,
                 mid_chs: int, se_chs: int = 0) -> None:
        super().__init__()
        self.has_skip = in_chs == out_chs and stride == 1
        expand = mid_chs != in_chs
        self.conv_pw = _conv(in_chs, mid_chs, 1) if expand else nn.Identity()
        self.bn1 = nn.BatchNorm2d(mid_chs) if expand else nn.Identity()
        self.act1 = make_activation(activation) if expand else nn.Identity()
        self.conv_dw = _conv(mid_chs, mid_chs, kernel, stride, groups=mid_chs)
        self.bn2 = nn.BatchNorm2d(mid_chs)
        self.act2 = make_activation(activation)
        self.se = _se(mid_chs, se_chs)
        self.conv_pwl = _conv(mid_chs, out_chs, 1)
        self.bn3 = nn.BatchNorm2d(out_chs)

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x
        x = self.act1(self.bn1(self.conv_pw(x)))
        x = self.se(self.act2(self.bn2(self.conv_dw(x))))
        x = self.bn3(self.conv_pwl(x))
        return x + shortcut if self.has_skip else x
