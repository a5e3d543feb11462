"""nasbench: architecture benchmarking and neural-architecture search for PyTorch.

Importing the package does nothing but define names; submodules are imported on use
(``nasbench.spec.arch`` needs no torch).
"""

from __future__ import annotations

__version__ = "0.3.0"
"""The one version: ``pyproject.toml`` reads it, ``--version`` prints it, ``arch.json`` and every
study record it (see ``CHANGELOG.md``)."""
__all__ = ["__version__"]
