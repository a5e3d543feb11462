"""Named reference architectures, written in the architecture grammar.

Each one builds a model whose parameter count equals the published reference implementation's
(torchvision's for MobileNetV2/V3, the paper's layer table for MobileNetV1) and whose
multiply-adds agree with the papers to the precision they give; the tests check both.
"""

from __future__ import annotations

import os
from pathlib import Path

from nasbench.spec.arch import Arch, decode, from_json

_V3_LARGE_STAGES = (
    "ir_r1_k3_s1_e1_c16_arelu",
    "ir_r1_k3_s2_e4_c24_arelu",
    "ir_r1_k3_s1_e3_c24_arelu",
    "ir_r1_k5_s2_e3_c40_se0.25_arelu",
    "ir_r2_k5_s1_e3_c40_se0.25_arelu",
    "ir_r1_k3_s2_e6_c80_ahswish",
    "ir_r1_k3_s1_e2.5_c80_ahswish",
    "ir_r2_k3_s1_e2.3_c80_ahswish",
    "ir_r2_k3_s1_e6_c112_se0.25_ahswish",
    "ir_r1_k5_s2_e6_c160_se0.25_ahswish",
    "ir_r2_k5_s1_e6_c160_se0.25_ahswish",
)

_V3_SMALL_STAGES = (
    "ir_r1_k3_s2_e1_c16_se0.25_arelu",
    "ir_r1_k3_s2_e4.5_c24_arelu",
    "ir_r1_k3_s1_e3.67_c24_arelu",
    "ir_r1_k5_s2_e4_c40_se0.25_ahswish",
    "ir_r2_k5_s1_e6_c40_se0.25_ahswish",
    "ir_r2_k5_s1_e3_c48_se0.25_ahswish",
    "ir_r1_k5_s2_e6_c96_se0.25_ahswish",
    "ir_r2_k5_s1_e6_c96_se0.25_ahswish",
)

REFERENCES: dict[str, str] = {
    # Howard et al. 2017, Table 1: BN + ReLU after every conv, a linear classifier, no head conv.
    # (The table's second-to-last depthwise layer says s2 but keeps 7×7: it is stride 1.)
    "mobilenet_v1": ":".join((
        "res224_in3_cls1000", "stem_c32_k3_s2_arelu",
        "ds_r1_k3_s1_c64_arelu", "ds_r1_k3_s2_c128_arelu", "ds_r1_k3_s1_c128_arelu",
        "ds_r1_k3_s2_c256_arelu", "ds_r1_k3_s1_c256_arelu", "ds_r1_k3_s2_c512_arelu",
        "ds_r5_k3_s1_c512_arelu", "ds_r1_k3_s2_c1024_arelu", "ds_r1_k3_s1_c1024_arelu",
        "head",
    )),
    # Sandler et al. 2018, Table 2; torchvision mobilenet_v2 (3,504,872 parameters).
    "mobilenet_v2": ":".join((
        "res224_in3_cls1000", "stem_c32_k3_s2_arelu6",
        "ir_r1_k3_s1_e1_c16_arelu6", "ir_r2_k3_s2_e6_c24_arelu6", "ir_r3_k3_s2_e6_c32_arelu6",
        "ir_r4_k3_s2_e6_c64_arelu6", "ir_r3_k3_s1_e6_c96_arelu6", "ir_r3_k3_s2_e6_c160_arelu6",
        "ir_r1_k3_s1_e6_c320_arelu6", "head_c1280_d0.2_arelu6",
    )),
    # Howard et al. 2019, Table 1; torchvision mobilenet_v3_large (5,483,032 parameters).
    "mobilenet_v3_large": ":".join((
        "res224_in3_cls1000", "stem_c16_k3_s2_ahswish", *_V3_LARGE_STAGES,
        "head_c960_h1280_d0.2_ahswish",
    )),
    # Howard et al. 2019, Table 2; torchvision mobilenet_v3_small (2,542,856 parameters).
    "mobilenet_v3_small": ":".join((
        "res224_in3_cls1000", "stem_c16_k3_s2_ahswish", *_V3_SMALL_STAGES,
        "head_c576_h1024_d0.2_ahswish",
    )),
}


def reference(name: str) -> Arch:
    """The spec of a named reference architecture (``ValueError`` listing the names if unknown)."""
    try:
        return decode(REFERENCES[name])
    except KeyError:
        raise ValueError(f"unknown reference architecture {name!r}; choose one of "
                         f"{', '.join(REFERENCES)}") from None


def load_arch(text: str) -> Arch:
    """An architecture from a reference name, a spec string or a JSON file.

    Raises ``ValueError`` naming the problem and what to give instead.
    """


    if text in REFERENCES:
        return reference(text)
    if text.endswith(".json") or (os.sep in text and ":" not in text):
        path = Path(text)
        if not path.is_file():
            raise ValueError(f"architecture file {text} not found; give a reference name "
                             f"({', '.join(REFERENCES)}), a spec string or a JSON file")
        try:
            return from_json(path.read_text(encoding="utf-8"))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"bad architecture file {text}: {exc}; write it with "
                             f"nasbench.spec.arch.to_json or give a spec string") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"cannot read architecture file {text} ({exc}); give a readable "
                             f"JSON file") from None
    if ":" not in text and not text.strip().startswith("|"):
        raise ValueError(f"unknown architecture {text!r}; give a reference name "
                         f"({', '.join(REFERENCES)}), a spec string or a JSON file")
    try:
        return decode(text)
    except ValueError as exc:
        raise ValueError(f"bad architecture string: {exc}") from None
