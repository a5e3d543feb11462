"""Bench tables: their files, a bench study as a table, and published benchmarks imported
as tables (NAS-Bench-201).

Modules: ``files``, ``nb201``, ``table``.
"""

from __future__ import annotations

from nasbench._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "BenchRecord": "table",
    "CSV_FILE": "files",
    "DATASETS": "nb201",
    "DEVICES": "nb201",
    "EPOCHS": "nb201",
    "INSTALL": "nb201",
    "ImportProblem": "nb201",
    "Imported": "nb201",
    "META_FILE": "files",
    "Opened": "table",
    "SIZE": "nb201",
    "TABLE_FILE": "files",
    "as_results_frame": "table",
    "bench_meta": "table",
    "bench_table": "table",
    "build_table": "nb201",
    "import_nb201": "nb201",
    "imported_folder": "files",
    "load_bench": "files",
    "open_table": "table",
    "read_accuracies": "nb201",
    "read_index": "nb201",
    "read_latency": "nb201",
    "table_of": "table",
})
