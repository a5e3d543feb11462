"""The latency model: a network's latency predicted from its parts, fitted and evaluated
on measurements of this machine.

Modules: ``evaluate``, ``fit``, ``measure``, ``model``, ``parts``.
"""

from __future__ import annotations

from nasbench._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "CONDITION_KEYS": "model",
    "CORRECTIONS": "fit",
    "EVAL_CHUNK": "evaluate",
    "EVAL_ROUNDS": "evaluate",
    "Evaluation": "evaluate",
    "FEATURES": "model",
    "HostSpeed": "measure",
    "KIND": "model",
    "LEVEL_MIN": "model",
    "LEVEL_SEED": "model",
    "LEVEL_WINDOW": "model",
    "LatencyModel": "model",
    "MAX_ARCHS": "measure",
    "MeasureSettings": "measure",
    "Part": "parts",
    "READS": "model",
    "REFERENCE_EVERY": "measure",
    "REFERENCE_SEED": "model",
    "REFERENCE_WINDOW": "measure",
    "Referenced": "measure",
    "VERSION": "model",
    "arch_parts": "parts",
    "block_key": "parts",
    "check_archs": "measure",
    "choose_correction": "fit",
    "draw_archs": "measure",
    "evaluate_model": "evaluate",
    "fit_model": "fit",
    "fit_to_file": "fit",
    "head_key": "parts",
    "level_of": "model",
    "load_model": "model",
    "measure_interleaved": "evaluate",
    "measure_referenced": "measure",
    "online_levels": "model",
    "part_keys": "parts",
    "predict_archs": "model",
    "space_parts": "parts",
    "stem_key": "parts",
    "time_arch": "measure",
    "time_archs": "measure",
})
