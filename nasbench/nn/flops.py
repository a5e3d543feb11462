"""Multiply-add counts with fvcore.

Convention (deliberate, documented in docs/concepts/blocks.md): **one multiply-add counts as one flop**
(fvcore's unit), and only convolutions and linear layers (matmul, addmm, linear) are counted.
BatchNorm is left out because it folds into the preceding conv at inference; pooling,
activations, the SE scale and residual additions are left out as the MobileNet papers do. With
this convention MobileNetV1/V2/V3-Small agree with their papers' tables (569M, 300M, 56M).
Operators fvcore has no counter for are reported with their call counts, never silently dropped.
"""

from __future__ import annotations

import logging
import warnings
from collections import Counter
from dataclasses import dataclass, field

import torch
from torch import nn

logger = logging.getLogger(__name__)

# Operators fvcore counts by default that our convention leaves out (BN folds into the conv).
EXCLUDED_BY_CONVENTION: tuple[str, ...] = (
    "aten::batch_norm",
    "aten::adaptive_avg_pool2d",
    "aten::upsample_nearest2d",
    "aten::upsample_bilinear2d",
)
# Element-wise operators that cost no multiply-adds under our convention.
_ELEMENTWISE = (
    "aten::add", "aten::add_", "aten::mul", "aten::mul_", "aten::relu", "aten::relu_",
    "aten::hardtanh", "aten::hardtanh_", "aten::hardswish", "aten::hardswish_",
    "aten::hardsigmoid", "aten::hardsigmoid_", "aten::silu", "aten::silu_",
    "aten::sigmoid", "aten::dropout", "aten::flatten",
)


def _zero(inputs: list, outputs: list) -> int:
    return 0


@dataclass(frozen=True)
class FlopReport:
    """Multiply-adds (fvcore flops: one multiply-add = one flop) of one forward pass."""

    total: int
    by_operator: dict[str, int]
    by_module: dict[str, int]
    unsupported: dict[str, int] = field(default_factory=dict)
    excluded: tuple[str, ...] = EXCLUDED_BY_CONVENTION
    input_shape: tuple[int, ...] = ()


def count_flops(model: nn.Module, input_shape: tuple[int, ...], module_depth: int = 2) -> FlopReport:
    """Count multiply-adds of ``model`` on a zero input of ``input_shape`` (batch included).

    ``by_module`` keeps modules up to ``module_depth`` dots deep (``""`` is the whole model).
    The model is traced in eval mode and restored to its previous mode.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    inputs = torch.zeros(input_shape, device=device)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            # fvcore traces with torch.jit, deprecated in torch 2.13: silence its warnings here.
            warnings.simplefilter("ignore")
            from fvcore.nn import FlopCountAnalysis  # deferred: slow to import, warns on import

            analysis = FlopCountAnalysis(model, inputs)
            analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
            analysis.tracer_warnings("none")
            # Ops with a default counter are switched off with a zero counter ("None" only
            # silences ops that have no counter); element-wise ops are marked ignored.
            handles = {op: _zero for op in EXCLUDED_BY_CONVENTION}
            handles.update({op: None for op in _ELEMENTWISE})
            analysis.set_op_handle(**handles)
            total = int(analysis.total())
            by_operator = {k: int(v) for k, v in analysis.by_operator().items() if v}
            by_module = {k: int(v) for k, v in analysis.by_module().items()
                         if k.count(".") < module_depth and (k == "" or v)}
            unsupported = dict(Counter(analysis.unsupported_ops()))
    finally:
        model.train(was_training)
    if unsupported:
        logger.info("fvcore skipped operators with no counter: %s", unsupported)
    return FlopReport(total=total, by_operator=by_operator, by_module=by_module,
                      unsupported=unsupported, input_shape=tuple(input_shape))
