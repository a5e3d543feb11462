"""Small-map convolution weight gradients: equal to PyTorch's, used only while training."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from nasbench.nn import conv_grads
from nasbench.spec.arch import decode
from nasbench.nn.build import build_model
from nasbench.train.data import load_dataset
from nasbench.nn.flops import count_flops
from nasbench.train.proxy import train_model
from nasbench.train.recipe import TrainConfig

# Stages at 8x8, 4x4 and 2x2 with kernels larger than their maps, dense and depthwise, with SE.
ARCH = decode("res8_in1_cls10:stem_c8_k3_s1_arelu:ds_r1_k5_s1_c16_arelu:ir_r2_k5_s2_e3_c24_se0.25"
              "_arelu:conv_r1_k7_s2_c32_arelu:ds_r1_k3_s1_c40_arelu:head")


@pytest.fixture(scope="module")
def digits():  # type: ignore[no-untyped-def]
    return load_dataset("digits", seed=0, cache_dir=None)


@settings(max_examples=80)
@given(channels=st.integers(1, 12), out_channels=st.integers(1, 12), size=st.integers(1, 6),
       width=st.integers(1, 6), kernel=st.sampled_from((1, 2, 3, 5, 7)), stride=st.sampled_from((1, 2, 3)),
       pad=st.integers(0, 4), depthwise=st.booleans(), bias=st.booleans(),
       channels_last=st.booleans(), seed=st.integers(0, 1000))
def test_gradients_equal_pytorchs(channels: int, out_channels: int, size: int, width: int,
                                  kernel: int, stride: int, pad: int, depthwise: bool, bias: bool,
                                  channels_last: bool, seed: int) -> None:
    """Input, weight and bias gradients of a convolution computed here equal autograd's."""
    torch.manual_seed(seed)
    out_channels = channels if depthwise else out_channels
    conv = nn.Conv2d(channels, out_channels, kernel, stride=stride, padding=pad, bias=bias,
                     groups=channels if depthwise else 1).double()
    x = torch.randn(3, channels, size, width, dtype=torch.double)
    if channels_last:
        x, conv = x.contiguous(memory_format=torch.channels_last), conv.to(memory_format=torch.channels_last)
    if (size + 2 * pad < kernel) or (width + 2 * pad < kernel):
        return  # no output: not a valid convolution
    x.requires_grad_(True)
    y = conv(x)
    grad_out = torch.randn_like(y)
    expected = torch.autograd.grad(y, [x, *conv.parameters()], grad_out)
    got = conv_grads._SmallMapConv.apply(x, conv.weight, conv.bias, conv.stride, conv.padding,
                                         conv.groups)
    assert torch.allclose(got, y)
    computed = torch.autograd.grad(got, [x, *conv.parameters()], grad_out)
    for a, b in zip(computed, expected):
        assert a.shape == b.shape and torch.allclose(a, b, rtol=1e-9, atol=1e-9)


def test_a_network_trains_with_the_same_gradients(digits) -> None:  # type: ignore[no-untyped-def]
    """Every parameter's gradient over a whole network (float32, channels-last) matches, and
    the small-map path is really taken (weight_grad runs) for its 4x4 and 2x2 stages."""
    model = build_model(ARCH, seed=0).to(memory_format=torch.channels_last)
    x = digits.x_train[:64].contiguous(memory_format=torch.channels_last)
    y = digits.y_train[:64]

    def grads() -> list[torch.Tensor]:
        model.zero_grad()
        torch.manual_seed(0)  # the same dropout mask
        nn.functional.cross_entropy(model(x), y).backward()
        return [p.grad.clone() for p in model.parameters()]

    plain = grads()
    calls = []
    original = conv_grads.weight_grad

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(args[0].shape)
        return original(*args, **kwargs)

    conv_grads.weight_grad = counting
    try:
        with conv_grads.installed(model) as count:
            ours = grads()
    finally:
        conv_grads.weight_grad = original
    assert count == sum(isinstance(m, nn.Conv2d) for m in model.modules())
    assert {shape[-1] for shape in calls} == {4, 2}  # maps smaller than their kernels only
    for a, b in zip(ours, plain):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-6)


def test_outside_training_the_layers_are_plain() -> None:
    """After the block the layers are plain ``nn.Conv2d`` again; inside it, a forward pass
    without gradients (evaluation, counting) takes PyTorch's path, so counts do not change."""
    model = build_model(ARCH, seed=0)
    before = count_flops(model, (1, 1, 8, 8), module_depth=0).total
    with conv_grads.installed(model):
        assert all("forward" in vars(m) for m in model.modules() if isinstance(m, nn.Conv2d))
        with torch.no_grad():
            model.eval()(torch.zeros(2, 1, 8, 8))
    assert not any("forward" in vars(m) for m in model.modules())
    assert count_flops(model, (1, 1, 8, 8), module_depth=0).total == before
    with conv_grads.installed(model, enabled=False) as count:
        assert count == 0 and not any("forward" in vars(m) for m in model.modules())
    with conv_grads.installed(model) as outer:  # a block within another leaves them installed
        with conv_grads.installed(model) as inner:
            assert outer > 0 and inner == 0
        assert all("forward" in vars(m) for m in model.modules() if isinstance(m, nn.Conv2d))
    assert not any("forward" in vars(m) for m in model.modules())


def test_training_restores_the_layers_even_when_stopped(digits) -> None:  # type: ignore[no-untyped-def]
    """Proxy training installs the small-map gradients and removes them, also when a trial is
    stopped from its epoch report."""
    model = build_model(ARCH, seed=0)

    def stop(epoch: int, accuracy: float) -> None:
        assert all("forward" in vars(m) for m in model.modules() if isinstance(m, nn.Conv2d))
        raise RuntimeError("stopped")

    try:
        train_model(model, digits, TrainConfig(epochs=2), seed=0, threads=1, on_epoch=stop)
    except RuntimeError as exc:
        assert str(exc) == "stopped"
    assert not any("forward" in vars(m) for m in model.modules())
