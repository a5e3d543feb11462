"""NAS-Bench-201 cells: the string, the network, its exact costs against fvcore and the
published parameter counts, the export, and bad strings."""

from __future__ import annotations

import importlib.util
import itertools
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from nasbench.spec.arch import decode, from_json, to_json
from nasbench.nn.build import build_model, count_params
from nasbench.nn.cell_blocks import CellNetwork, cell_layout
from nasbench.spec.cells import CellArch, OPS, cell_cost, parse_nb201
from nasbench.workflows.export import export_arch
from nasbench.nn.flops import count_flops
from nasbench.spec.formulas import arch_cost
from nasbench.nn.memory import estimate
from nasbench.spec.references import load_arch
from search_spaces import DataShape, UniformDraw, get_space

BEST = ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|"
        "nor_conv_3x3~2|")
# Published parameter counts (NAS-Bench-201, CIFAR-10 network, model_size in MB x 1e6, the same
# for every training seed): all edges none, all 3x3 convs, all 1x1 convs, and a mixed cell.
PUBLISHED = {"|none~0|+|none~0|none~1|+|none~0|none~1|none~2|": 73_306,
             "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|"
             "nor_conv_3x3~2|": 1_531_546,
             "|nor_conv_1x1~0|+|nor_conv_1x1~0|nor_conv_1x1~1|+|nor_conv_1x1~0|nor_conv_1x1~1|"
             "nor_conv_1x1~2|": 241_306,
             "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|"
             "skip_connect~2|": 129_306,
             "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|"
             "skip_connect~2|": 802_426}


@pytest.mark.parametrize("text,params", PUBLISHED.items())
def test_parameters_equal_the_published_counts(text: str, params: int) -> None:
    arch = decode(text)
    assert isinstance(arch, CellArch) and arch.to_string() == text
    assert count_params(build_model(arch)) == params == arch_cost(arch).params


def test_the_closed_form_equals_fvcore_for_every_kind_of_cell() -> None:
    rng = np.random.default_rng(0)
    picks = [tuple(OPS[i] for i in rng.integers(len(OPS), size=6)) for _ in range(12)]
    for ops, shape in itertools.product(picks[:6], [(32, 3, 10), (8, 1, 10), (16, 3, 120)]):
        arch = CellArch(ops, *shape)
        model = build_model(arch, seed=0).eval()
        counted = count_flops(model, (1, shape[1], shape[0], shape[0]), module_depth=0).total
        assert cell_cost(arch) == (count_params(model), counted), ops
        assert model(torch.randn(2, shape[1], shape[0], shape[0])).shape == (2, shape[2])


def test_the_cell_computes_the_published_sums() -> None:
    # node 1 = conv(x); node 2 = x (skip) + node1 (pool); node 3 = node 2 only
    arch = decode("|nor_conv_1x1~0|+|skip_connect~0|avg_pool_3x3~1|+|none~0|none~1|skip_connect~2|")
    cell = CellNetwork(cell_layout(arch)).cells[0].eval()
    x = torch.randn(1, 16, 8, 8)
    node1 = cell.layers[0](x)
    expected = x + torch.nn.functional.avg_pool2d(node1, 3, 1, 1, count_include_pad=False)
    assert torch.allclose(cell(x), expected, atol=1e-6)
    empty = CellNetwork(cell_layout(decode(next(iter(PUBLISHED))))).cells[0]
    assert torch.count_nonzero(empty(x)) == 0  # every edge none: the output is zero


def test_strings_round_trip_with_and_without_an_input_section(tmp_path: Path) -> None:
    arch = decode(BEST)
    assert arch.resolution == 32 and arch.in_channels == 3 and arch.num_classes == 10
    small = arch.with_input(8, 1, 10)
    assert small.to_string() == "res8_in1_cls10:" + BEST and decode(small.to_string()) == small
    assert from_json(to_json(small)) == small
    assert load_arch(BEST) == arch
    path = tmp_path / "a.json"
    path.write_text(to_json(arch))
    assert load_arch(str(path)) == arch
    assert arch.digest() != small.digest()


@pytest.mark.parametrize("text,message", [
    ("|bad~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown NAS-Bench-201 operation 'bad'"),
    ("|none~0|+|none~1|none~1|+|none~0|none~1|none~2|", "must come from node 0"),
    ("|none~0|+|none~0|+|none~0|none~1|none~2|", "node 2 of a NAS-Bench-201 string takes 2 edge"),
    ("|none~0|+|none~0|none~1|", "3 '+'-separated nodes"),
    ("|none0|+|none~0|none~1|+|none~0|none~1|none~2|", "must be op~j"),
    ("res7_in1_cls10:" + BEST, "multiple of 4"),
    ("resX:" + BEST, "bad input section"),
])
def test_bad_strings_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        decode(text)


def test_the_space_samples_and_enumerates_every_cell() -> None:
    space = get_space("nb201")
    assert space.size() == 15_625
    shape = DataShape(8, 1, 10)
    every = space.enumerate(shape)
    assert len(every) == len({a.to_string() for a in every}) == 15_625
    drawn = space.sample(UniformDraw(np.random.default_rng(3)), shape)
    assert isinstance(drawn, CellArch) and drawn.resolution == 8 and drawn.in_channels == 1
    assert parse_nb201(drawn.nb201_string()) == drawn.ops


def test_memory_estimate_bounds_a_training_step() -> None:
    arch = decode(BEST)
    need = estimate(arch, 64, training=True)
    assert need.params_bytes == arch_cost(arch).params * 4 * 4
    # every kept tensor of the step at least: 3 per conv edge, 5 cells x 3 stages
    assert need.activation_bytes > 64 * 4 * 16 * 32 * 32 * 3 * 4 * 5


def test_export_is_a_standalone_module_with_the_same_outputs(tmp_path: Path) -> None:
    arch = decode(BEST).with_input(8, 1, 10)
    model = build_model(arch, seed=1).eval()
    files = export_arch(arch, tmp_path / "exp", {"params": count_params(model)},
                        state_dict=model.state_dict())
    spec = importlib.util.spec_from_file_location("nb201_export", files["model"])
    module = importlib.util.module_from_spec(spec)
    sys.modules["nb201_export"] = module
    spec.loader.exec_module(module)
    assert "from nasbench" not in files["model"].read_text()
    exported = module.build(str(files["weights"])).eval()
    x = torch.randn(3, 1, 8, 8)
    assert torch.allclose(exported(x), model(x), atol=1e-6)
    assert json.loads(files["arch"].read_text())["arch"]["string"] == arch.to_string()
    assert module.ARCH == arch.to_string()
