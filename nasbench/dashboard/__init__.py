"""The Streamlit dashboard: the page, and plots as pure functions of a results table.

Modules: ``page``, ``plots``.
"""

from __future__ import annotations

from nasbench._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "AXES": "plots",
    "BARS_NOTE": "plots",
    "KERNEL_SYMBOLS": "plots",
    "PAGE_ROWS": "page",
    "PALETTE": "plots",
    "WEBGL_FROM": "plots",
    "_HOVER": "plots",
    "bench_frame": "page",
    "block_mix": "plots",
    "body": "page",
    "budget_section": "page",
    "default_source": "page",
    "derived": "page",
    "details_section": "page",
    "enrich": "plots",
    "exact_front_section": "page",
    "find_bench": "page",
    "flops_latency_chart": "plots",
    "has_predictions": "plots",
    "headline": "page",
    "hypervolume_chart": "plots",
    "hypervolume_history": "plots",
    "imported_frame": "page",
    "load": "page",
    "load_frame": "page",
    "load_results": "page",
    "main": "page",
    "main_kernel": "plots",
    "measured_vs_table": "plots",
    "measured_vs_table_chart": "plots",
    "module_costs": "page",
    "overlay_chart": "plots",
    "pareto_chart": "plots",
    "predicted_chart": "plots",
    "published_section": "page",
    "python_command": "page",
    "rank_correlations": "plots",
    "sidebar": "page",
    "stages_table": "plots",
    "table_section": "page",
})
