"""Faster weight gradients for convolutions over small feature maps, on a CPU.

When the kernel is larger than the feature map (a 5×5 or 7×7 kernel on the 4×4 and 2×2 maps
of a network's later stages on 8×8 digits, or on 32×32 images after three stride-2 stages),
the weight gradient of PyTorch's CPU convolution (oneDNN) takes 10-300 times its forward pass:
44 ms for a 3×3 depthwise convolution of 576 channels on 2×2 maps at batch 128, against 0.2 ms
forward. That was most of proxy training's time in the ``mixed`` space on digits
(``benchmarks/train_step.py`` measures it side by side).

Here the weight gradient is a sum over the kernel's offsets, skipping those that see only
padding: per offset, one matrix product (dense) or one multiply-and-sum (depthwise) of the
shifted input with the output gradient. It is used where it was faster on a 2-core AMD EPYC
(:func:`small_map`): a depthwise kernel larger than the map, a dense one larger by 2 or more.
The input gradient stays PyTorch's own. Used by training only (:func:`installed`), so
building, counting, timing and export see plain ``nn.Conv2d`` layers. Gradients equal
PyTorch's up to float rounding (the tests check it).
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import torch
from torch import Tensor, nn
from torch.nn import functional as F


def _rows(offset: int, pad: int, stride: int, size: int, out_size: int) -> tuple[int, int]:
    """Output positions ``[start, stop)`` whose input position ``o * stride + offset - pad``
    lies inside the map (0 to ``size - 1``)."""
    start = max(0, -((offset - pad) // stride))
    stop = min(out_size, (size - 1 + pad - offset) // stride + 1)
    return start, stop


def weight_grad(x: Tensor, grad_out: Tensor, weight_shape: torch.Size, stride: tuple[int, int],
                padding: tuple[int, int], groups: int) -> Tensor:
    """Gradient of a zero-padded, undilated convolution's weight (``groups`` 1, or one filter
    per channel) given its input ``x`` and the gradient of its output."""
    _, _, height, width = x.shape
    out_h, out_w = grad_out.shape[-2:]
    grad = x.new_zeros(weight_shape)
    for i in range(weight_shape[2]):
        h0, h1 = _rows(i, padding[0], stride[0], height, out_h)
        if h0 >= h1:
            continue
        top = h0 * stride[0] + i - padding[0]
        for j in range(weight_shape[3]):
            w0, w1 = _rows(j, padding[1], stride[1], width, out_w)
            if w0 >= w1:
                continue
            left = w0 * stride[1] + j - padding[1]
            xs = x[:, :, top:top + (h1 - h0 - 1) * stride[0] + 1:stride[0],
                   left:left + (w1 - w0 - 1) * stride[1] + 1:stride[1]]
            gs = grad_out[:, :, h0:h1, w0:w1]
            if groups == 1:
                grad[:, :, i, j] = torch.einsum("nohw,nihw->oi", gs, xs)
            else:
                grad[:, 0, i, j] = (xs * gs).sum((0, 2, 3))
    return grad


class _SmallMapConv(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, weight: Tensor, bias: Tensor | None,
                stride: tuple[int, int], padding: tuple[int, int], groups: int) -> Tensor:
        ctx.save_for_backward(x, weight)
        ctx.conv = (stride, padding, groups, bias is not None)
        return F.conv2d(x, weight, bias, stride, padding, 1, groups)

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor | None, ...]:
        x, weight = ctx.saved_tensors
        stride, padding, groups, has_bias = ctx.conv
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.nn.grad.conv2d_input(x.shape, weight, grad_out, stride, padding, 1,
                                                groups)
        if ctx.needs_input_grad[1]:
            grad_w = weight_grad(x, grad_out, weight.shape, stride, padding, groups)
        if has_bias and ctx.needs_input_grad[2]:
            grad_b = grad_out.sum((0, 2, 3))
        return grad_x, grad_w, grad_b, None, None, None


def eligible(conv: nn.Module) -> bool:
    """A plain zero-padded, undilated 2-d convolution, dense or depthwise (one filter per
    channel)."""
    return (type(conv) is nn.Conv2d and conv.padding_mode == "zeros"
            and conv.dilation == (1, 1) and isinstance(conv.padding, tuple)
            and (conv.groups == 1 or conv.groups == conv.in_channels == conv.out_channels))


def small_map(conv: nn.Conv2d, x: Tensor) -> bool:
    """Whether the weight gradient of ``conv`` on input ``x`` is computed here: its kernel is
    larger than ``x``'s map, by 1 or more (depthwise) or 2 or more (dense), in both directions.
    (Where the kernel is no larger, oneDNN's own was as fast or faster.)"""
    reach = 2 if conv.groups == 1 else 1
    return (x.shape[-2] + reach <= conv.kernel_size[0]
            and x.shape[-1] + reach <= conv.kernel_size[1])


def _forward(conv: nn.Conv2d, x: Tensor) -> Tensor:
    if (x.dim() == 4 and torch.is_grad_enabled() and conv.weight.requires_grad
            and x.device.type == "cpu" and small_map(conv, x)):
        return _SmallMapConv.apply(x, conv.weight, conv.bias, conv.stride, conv.padding,
                                   conv.groups)
    return conv._conv_forward(x, conv.weight, conv.bias)


@contextlib.contextmanager
def installed(model: nn.Module, enabled: bool = True) -> Iterator[int]:
    """Within the block, the eligible convolutions of ``model`` compute their weight gradient on
    small maps here (yields how many); outside, they are plain ``nn.Conv2d`` again.
    ``enabled=False`` changes nothing (for a GPU, whose kernels do not have the problem)."""
    # a layer already installed (a block within another) is left to the outer block
    convs = [m for m in model.modules() if eligible(m) and "forward" not in vars(m)] if enabled else []
    for conv in convs:
        conv.forward = _forward.__get__(conv)  # type: ignore[method-assign]
    try:
        yield len(convs)
    finally:
        for conv in convs:
            del conv.forward
