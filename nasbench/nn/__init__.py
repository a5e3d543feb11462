"""Networks from specs: the layers of the three block kinds, the cell network, the builder,
multiply-add counting (fvcore) and memory checks.

Modules: ``blocks``, ``build``, ``cell_blocks``, ``conv_grads``, ``flops``, ``memory``.
"""

from __future__ import annotations

from nasbench._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "BYTES": "memory",
    "Cell": "cell_blocks",
    "CellNetwork": "cell_blocks",
    "ConvBlock": "blocks",
    "ConvBnAct": "blocks",
    "DepthwiseSeparable": "blocks",
    "EXCLUDED_BY_CONVENTION": "flops",
    "FlopReport": "flops",
    "INFERENCE_COPIES": "memory",
    "InvertedResidual": "blocks",
    "MemoryEstimate": "memory",
    "Network": "build",
    "OVERRIDE": "memory",
    "ReLUConvBN": "cell_blocks",
    "Reduction": "cell_blocks",
    "SqueezeExcite": "blocks",
    "TRAINING_COPIES": "memory",
    "_ELEMENTWISE": "flops",
    "any_layout": "build",
    "available_bytes": "memory",
    "block_layout": "build",
    "build_block": "build",
    "build_model": "build",
    "cell_layout": "cell_blocks",
    "check_arch": "memory",
    "check_fits": "memory",
    "conv2d": "blocks",
    "count_flops": "flops",
    "count_params": "build",
    "eligible": "conv_grads",
    "estimate": "memory",
    "family_of": "build",
    "installed": "conv_grads",
    "layout": "build",
    "make_activation": "blocks",
    "make_block": "blocks",
    "make_edge": "cell_blocks",
    "small_map": "conv_grads",
    "squeeze_excite": "blocks",
    "weight_grad": "conv_grads",
})
