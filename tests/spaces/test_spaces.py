"""Search spaces: valid samples under real Optuna samplers and FixedTrial, exact sizes."""

from __future__ import annotations

import dataclasses

import optuna
import pytest

from nasbench.spec.cells import CellArch
from nasbench.spec.arch import Arch, decode, encode
from nasbench.nn.build import build_model
from search_spaces import (SPACES, DataShape, MixedSpace, MobileNetV2Space, StageChoices,
                           TinySpace, enumerate_space, get_space, plan_strides)

SHAPES = [DataShape(8, 1, 10), DataShape(32, 3, 10), DataShape(224, 3, 1000)]


@pytest.fixture(autouse=True)
def _quiet_optuna() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.mark.parametrize("name", sorted(SPACES))
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s.resolution}px")
def test_random_sampler_gives_valid_specs(name: str, shape: DataShape) -> None:
    space = get_space(name)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    seen = set()
    for _ in range(15):
        trial = study.ask()
        arch = space.sample(trial, shape)
        assert isinstance(arch, CellArch if name == "nb201" else Arch)
        assert (arch.resolution, arch.in_channels, arch.num_classes) == \
            (shape.resolution, shape.channels, shape.classes)
        assert arch.final_resolution() >= 2 or shape.resolution < 4
        assert decode(arch.to_string()) == arch
        seen.add(arch.to_string())
        study.tell(trial, 0.0)
    assert len(seen) > 1
    if shape.resolution <= 32:  # build and run the last one at the data's resolution
        import torch

        out = build_model(arch).eval()(torch.randn(1, shape.channels, shape.resolution, shape.resolution))
        assert out.shape == (1, shape.classes)


@pytest.mark.parametrize("name", sorted(SPACES))
def test_fixed_trial_reproduces_a_sampled_arch(name: str) -> None:
    space = get_space(name)
    shape = DataShape(32, 3, 10)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    trial = study.ask()
    arch = space.sample(trial, shape)
    fixed = optuna.trial.FixedTrial(trial.params)
    assert space.sample(fixed, shape) == arch


def test_parameter_names_are_stable_and_indexed() -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    MixedSpace().sample(trial, DataShape(32, 3, 10))
    for i in range(4):
        for suffix in ("kind", "kernel", "se", "depth", "width"):
            assert f"s{i}_{suffix}" in trial.params
        assert (f"s{i}_expansion" in trial.params) == (trial.params[f"s{i}_kind"] == "ir")


def test_tiny_space_enumerates_exactly_its_size() -> None:
    space = TinySpace()
    archs = space.enumerate(DataShape(8, 1, 10))
    strings = {encode(a) for a in archs}
    assert len(archs) == len(strings) == space.size() == 576


@pytest.mark.parametrize("space", [
    MixedSpace(stages=tuple(StageChoices(("conv", "ds", "ir"), (3, 5), (1.0, 6.0), (0.0, 0.25),
                                         (1, 2), (16, 24)) for _ in range(2))),
    MobileNetV2Space(kernels=(3, 5), expansions=(6.0,), depth_offsets=(0, 1),
                     width_multipliers=(0.35, 0.5, 0.75, 1.0)),
], ids=["mixed-reduced", "mobilenet_v2-reduced"])
def test_size_formula_equals_brute_force_count(space: object) -> None:
    combos = enumerate_space(space, DataShape(32, 3, 10))  # type: ignore[arg-type]
    distinct = {encode(arch) for _, arch in combos}
    assert space.size() == len(distinct)  # type: ignore[attr-defined]


def test_width_multiplier_collisions_are_not_counted_twice() -> None:
    # 0.75 and 0.76 round every width the same way: one width plan, not two.
    space = MobileNetV2Space(kernels=(3, 5), expansions=(6.0,), depth_offsets=(0,),
                             width_multipliers=(0.75, 0.76))
    combos = enumerate_space(space, DataShape(32, 3, 10))
    distinct = {encode(a) for _, a in combos}
    assert len(combos) == 2 * len(distinct)
    assert space.size() == len(distinct) == 2 ** 6


def test_plan_strides_adapts_to_resolution() -> None:
    assert plan_strides(224, 2, [1, 2, 2, 2, 1, 2, 1]) == (2, [1, 2, 2, 2, 1, 2, 1])
    assert plan_strides(32, 2, [1, 2, 2, 2, 1, 2, 1]) == (1, [1, 2, 2, 2, 1, 2, 1])
    assert plan_strides(8, 2, [1, 2, 2, 2]) == (1, [1, 2, 2, 1])
    assert plan_strides(2, 2, [2, 2]) == (1, [1, 1])


def test_unknown_space_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown search space 'nope'; choose one of"):
        get_space("nope")


@pytest.mark.parametrize("name", sorted(SPACES))
def test_spaces_are_frozen_records(name: str) -> None:
    """Every registered space: a frozen dataclass whose every field is immutable (tuples, not
    lists), so a space can never change under a running search."""
    space = get_space(name)
    assert dataclasses.is_dataclass(space) and type(space).__dataclass_params__.frozen
    with pytest.raises(dataclasses.FrozenInstanceError):
        space.name = "x"  # type: ignore[misc]

    def mutable(value: object) -> bool:
        if isinstance(value, (list, dict, set)):
            return True
        if isinstance(value, tuple):
            return any(mutable(v) for v in value)
        if dataclasses.is_dataclass(value):
            return (not type(value).__dataclass_params__.frozen
                    or any(mutable(getattr(value, f.name)) for f in dataclasses.fields(value)))
        return False

    assert not [f.name for f in dataclasses.fields(space) if mutable(getattr(space, f.name))]
