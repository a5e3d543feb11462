"""The spec and its string and JSON forms."""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import given

from nasbench.spec.arch import Arch, Stage, Stem, decode, encode, from_dict, from_json, resolve_blocks, to_dict, to_json
from nasbench.spec.values import make_divisible, se_channels
from nasbench.spec.references import REFERENCES
from strategies import archs

BASE = "res32_in3_cls10:stem_c16_k3_s1_arelu"


@given(archs())
def test_string_round_trip(arch: Arch) -> None:
    text = encode(arch)
    assert decode(text) == arch
    assert encode(decode(text)) == text


@given(archs())
def test_json_round_trip(arch: Arch) -> None:
    assert from_json(to_json(arch)) == arch
    assert json.loads(to_json(arch))["string"] == encode(arch)


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_reference_strings_are_canonical(name: str) -> None:
    assert encode(decode(REFERENCES[name])) == REFERENCES[name]


def test_token_order_is_free_but_encoding_is_canonical() -> None:
    text = f"{BASE}:ir_c24_arelu6_e6_s2_k5_r2_se0.25:head_arelu_c64"
    canonical = f"{BASE}:ir_r2_k5_s2_e6_c24_se0.25_arelu6:head_c64_arelu"
    assert encode(decode(text)) == canonical
    assert encode(decode("res32_in3_cls10:stem_c16_k3_s1_arelu:ir_r1_k3_s1_e6.0_c8_arelu:head")) \
        == "res32_in3_cls10:stem_c16_k3_s1_arelu:ir_r1_k3_s1_e6_c8_arelu:head"


BAD = [
    # (string, words the error must contain)
    (f"{BASE}:conv_r1_k3_s1_e6_c16_arelu:head", ["meaningless", "e6"]),
    (f"{BASE}:ds_r1_k3_s1_e3_c16_arelu:head", ["meaningless", "e3"]),
    (f"{BASE}:ir_r1_r2_k3_s1_e6_c16_arelu:head", ["repeated", "r2"]),
    (f"{BASE}:ir_r1_k3_s1_e6_c16_x9_arelu:head", ["unknown token", "x9"]),
    (f"{BASE}:ir_r1_k4_s1_e6_c16_arelu:head", ["kernel", "4"]),
    (f"{BASE}:ir_r1_k3_s3_e6_c16_arelu:head", ["stride", "3"]),
    (f"{BASE}:ir_r1_k3_s1_c16_arelu:head", ["missing", "e"]),
    (f"{BASE}:ir_r1_k3_s1_e6_c16:head", ["missing", "a"]),
    (f"{BASE}:ir_r1_k3_s1_e6_c16_agelu:head", ["activation", "agelu"]),
    (f"{BASE}:mb_r1_k3_s1_e6_c16_arelu:head", ["unknown block kind", "mb"]),
    (f"{BASE}:ir_r1_k3_s1_e6_c16_se0_arelu:head", ["meaningless", "se0"]),
    (f"{BASE}:ir_r1_k3_s1_e6_c16_se1.5_arelu:head", ["se ratio", "1.5"]),
    (f"{BASE}:ir_r1_k3_s1_e0.5_c16_arelu:head", ["expansion", "0.5"]),
    (f"{BASE}:ir_r1_k3_s1_e6_c16_arelu:head_arelu", ["meaningless", "head activation"]),
    (f"{BASE}:ir_r1_k3_s1_e6_c16_arelu:head_c32", ["head activation", "required"]),
    (f"{BASE}:ir_r1_k3_s1_e6_c16_arelu:head_d0", ["meaningless", "d0"]),
    (f"{BASE}:ir_r1_k3_s1_e6_c16_arelu:head_h0", ["meaningless", "h0"]),
    (f"{BASE}:ir_r1_k3_s1_e6_c016_arelu:head", ["integer", "c016"]),
    (f"{BASE}:ir_r1_k3_s1_e6_c1.5_arelu:head", ["integer", "c1.5"]),
    (f"{BASE}:ir_r1_k3_s1_e6.1234_c16_arelu:head", ["decimals"]),
    (f"{BASE}:head", ["at least 4"]),
    (f"res32_in3:stem_c16_k3_s1_arelu:ir_r1_k3_s1_e6_c16_arelu:head", ["missing", "cls"]),
    (f"res32_in3_cls10:stem_c16_k3_s1:ir_r1_k3_s1_e6_c16_arelu:head", ["missing", "a"]),
    (f"{BASE}:ir_r1_k3_s1_e6_c16_arelu:tail", ["last section", "tail"]),
    (f"{BASE}:ir_r1_k3_s1_e6_c16_arelu::head", ["empty"]),
    ("", ["non-empty"]),
    ("__import__('os')", ["at least 4"]),
]


@pytest.mark.parametrize("text,words", BAD)
def test_strict_decoder_names_the_problem(text: str, words: list[str]) -> None:
    with pytest.raises(ValueError) as info:
        decode(text)
    message = str(info.value)
    for word in words:
        assert word in message, message


def test_spec_validation() -> None:
    with pytest.raises(ValueError, match="expansion applies"):
        Stage("conv", 16, expansion=6)
    with pytest.raises(ValueError, match="kernel"):
        Stage("ir", 16, kernel=4, expansion=6)
    with pytest.raises(ValueError, match="at least one stage"):
        Arch(stem=Stem(16), stages=())
    with pytest.raises(ValueError, match="channels"):
        Stem(0)
    with pytest.raises(ValueError, match="integer"):
        Stage("ds", 16.5)  # type: ignore[arg-type]
    with pytest.raises(dataclasses.FrozenInstanceError):
        Stem(16).channels = 3  # type: ignore[misc]


def test_json_rejects_unknown_and_inconsistent_keys() -> None:
    arch = decode(REFERENCES["mobilenet_v2"])
    data = to_dict(arch)
    with pytest.raises(ValueError, match="unknown key"):
        from_dict({**data, "bogus": 1})
    with pytest.raises(ValueError, match="does not match"):
        from_dict({**data, "string": REFERENCES["mobilenet_v1"]})
    bad_stage = dict(data, stages=[{**data["stages"][0], "kernal": 3}])
    bad_stage.pop("string")
    with pytest.raises(ValueError, match="kernal"):
        from_dict(bad_stage)
    with pytest.raises(ValueError, match="malformed"):
        from_json("{not json")


def test_make_divisible_matches_torchvision_rule() -> None:
    # _make_divisible(v, 8): nearest multiple of 8, never more than 10% below v.
    assert [make_divisible(v) for v in (12, 18, 22, 24, 30, 36, 60, 168)] == \
        [16, 24, 24, 24, 32, 40, 64, 168]
    # SE widths of MobileNetV3 (expanded // 4, made divisible).
    assert [se_channels(c, 0.25) for c in (16, 72, 88, 96, 120, 240, 480, 672, 960)] == \
        [8, 24, 24, 24, 32, 64, 120, 168, 240]


def test_resolve_blocks_widths_and_sizes() -> None:
    arch = decode(f"res32_in3_cls10:stem_c16_k3_s2_arelu:ir_r2_k3_s2_e2.5_c24_se0.25_arelu:"
                  f"ds_r1_k3_s1_c40_arelu:head")
    blocks = resolve_blocks(arch)
    assert [(b.kind, b.in_channels, b.mid_channels, b.out_channels, b.stride, b.in_size,
             b.out_size, b.se_channels, b.has_skip) for b in blocks] == [
        ("ir", 16, 40, 24, 2, 16, 8, 16, False),
        ("ir", 24, 60, 24, 1, 8, 8, 16, True),
        ("ds", 24, 24, 40, 1, 8, 8, 0, False),
    ]
    assert arch.final_resolution() == 8
