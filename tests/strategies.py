"""Hypothesis strategies for valid architecture specs (small, so every one builds quickly)."""

from __future__ import annotations

from hypothesis import strategies as st

from nasbench.spec.arch import Arch, Head, Stage, Stem
from nasbench.spec.values import ACTIVATIONS

activations = st.sampled_from(ACTIVATIONS)
ratios = st.integers(1, 100).map(lambda n: n / 100)


@st.composite
def stages(draw: st.DrawFn, max_channels: int = 24, max_repeats: int = 2) -> Stage:
    kind = draw(st.sampled_from(("conv", "ds", "ir")))
    return Stage(
        kind=kind,
        channels=draw(st.integers(1, max_channels)),
        repeats=draw(st.integers(1, max_repeats)),
        kernel=draw(st.sampled_from((3, 5, 7))),
        stride=draw(st.sampled_from((1, 2))),
        expansion=draw(st.integers(100, 600).map(lambda n: n / 100)) if kind == "ir" else 1.0,
        se_ratio=draw(st.one_of(st.just(0.0), ratios)),
        activation=draw(activations),
    )


@st.composite
def heads(draw: st.DrawFn) -> Head:
    channels = draw(st.one_of(st.just(0), st.integers(1, 32)))
    hidden = draw(st.one_of(st.just(0), st.integers(1, 32)))
    dropout = draw(st.one_of(st.just(0.0), st.integers(1, 50).map(lambda n: n / 100)))
    activation = draw(activations) if channels or hidden else None
    return Head(channels=channels, hidden=hidden, dropout=dropout, activation=activation)


@st.composite
def archs(draw: st.DrawFn, max_stages: int = 3, max_resolution: int = 32) -> Arch:
    return Arch(
        stem=Stem(draw(st.integers(1, 16)), draw(st.sampled_from((3, 5, 7))),
                  draw(st.sampled_from((1, 2))), draw(activations)),
        stages=tuple(draw(st.lists(stages(), min_size=1, max_size=max_stages))),
        head=draw(heads()),
        resolution=draw(st.integers(1, max_resolution)),
        in_channels=draw(st.integers(1, 4)),
        num_classes=draw(st.integers(2, 12)),
    )
