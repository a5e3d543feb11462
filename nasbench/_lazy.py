"""Lazy exports for the subpackages' ``__init__`` (PEP 562): a public name is imported from its
module on first use, so importing a subpackage loads nothing heavy."""

from __future__ import annotations

import importlib
from typing import Any, Callable


def lazy_exports(package: str, exports: dict[str, str]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """``__getattr__``, ``__dir__`` and ``__all__`` for ``package``, whose public names are
    ``exports`` (name -> the module of the package that defines it)."""

    def getattr_(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    def dir_() -> list[str]:
        return sorted([*vars(importlib.import_module(package)), *exports])

    return getattr_, dir_, sorted(exports)
