"""The package's shape: no import cycle, imports at the top of modules (a deferral says why),
the command line's options the same as the settings they fill."""

from __future__ import annotations

import argparse
import ast
import dataclasses
from pathlib import Path

import pytest

from nasbench.cli.arguments import build_parser
from nasbench.cli.reference import commands
from nasbench.workflows.settings import BenchConfig, SearchConfig

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("nasbench", "search_spaces")


def _modules(root: Path = ROOT) -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (root / package).rglob("*.py"):
            name = ".".join(path.relative_to(root).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, ast.stmt, bool]]:
    """(imported module of the package, the statement, whether it is inside a function)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    inner = {id(node) for fn in ast.walk(tree) if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
             for node in ast.walk(fn)}
    typing_only = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If)
                   and ast.unparse(block.test).endswith("TYPE_CHECKING") for node in ast.walk(block)}
    found = []
    for node in ast.walk(tree):
        if id(node) in typing_only:  # never run: type annotations only
            continue
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for target in targets:
            found.append((target, node, id(node) in inner))
    return found


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the package's modules it imports, at the top or inside a function (imports
    for type annotations only, under ``if TYPE_CHECKING:``, never run and are left out)."""
    modules = _modules(root)
    return {name: {t for t, _, _ in _imports(name, path, modules) if t in modules and t != name}
            for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


LAYERS = ("base", "spec", "nn", "search_spaces", "measure", "train", "latency_model", "study",
          "bench", "workflows", "cli", "dashboard", "main")
"""The layers, lowest first: a module imports only from its own layer and those below.
``base``: the package itself and its few top modules (errors, files, interrupts); ``main``:
``python -m nasbench``."""


def layer_of(module: str) -> str:
    """The layer of a module of the package (its subpackage, or one of ``LAYERS``' others)."""
    parts = module.split(".")
    if parts[0] == "search_spaces":
        return "search_spaces"
    if module == "nasbench.__main__":
        return "main"
    if len(parts) == 1 or parts[1] not in LAYERS:
        return "base"
    return parts[1]


def upward_imports(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """(importer, imported) for every import of a module of a higher layer."""
    return sorted((m, d) for m, deps in graph.items() for d in deps
                  if LAYERS.index(layer_of(d)) > LAYERS.index(layer_of(m)))


def test_imports_only_go_down_the_layers() -> None:
    graph = import_graph()
    assert {layer_of(m) for m in graph} == set(LAYERS)  # every layer has modules, none is unknown
    assert upward_imports(graph) == []


def test_the_layer_check_finds_an_upward_import(tmp_path: Path) -> None:
    """An import of a higher layer, even deferred inside a function, fails the check above."""
    for folder in ("nasbench", "nasbench/spec", "nasbench/study", "search_spaces"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "__init__.py").write_text("")
    (tmp_path / "nasbench" / "spec" / "a.py").write_text(
        "def f():\n    from nasbench.study.b import g  # deferred\n")
    (tmp_path / "nasbench" / "study" / "b.py").write_text("from nasbench.spec.a import f\n")
    assert upward_imports(import_graph(tmp_path)) == [("nasbench.spec.a", "nasbench.study.b")]


def test_the_settings_are_plain_data() -> None:
    """A study's settings load nothing: importing them imports no torch (reading what they
    name is :mod:`nasbench.workflows.loading`'s job)."""
    import subprocess
    import sys

    probe = ("import sys; import nasbench.workflows.settings, nasbench.train.recipe; "
             "sys.exit('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", probe], cwd=ROOT).returncode == 0


def test_the_package_has_no_import_cycle() -> None:
    assert cycles(import_graph()) == []


def test_the_cycle_check_finds_a_cycle(tmp_path: Path) -> None:
    """A new cycle, even through an import inside a function, fails the check above."""
    for package in PACKAGES:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "nasbench" / "a.py").write_text("from nasbench.b import f\n")
    (tmp_path / "nasbench" / "b.py").write_text("def f():\n    from nasbench import a  # deferred\n")
    (tmp_path / "nasbench" / "c.py").write_text("from nasbench import a\n")
    assert cycles(import_graph(tmp_path)) == [["nasbench.a", "nasbench.b"]]


def test_imports_inside_functions_say_why() -> None:
    """An import inside a function is a deferral on purpose (a heavy or optional dependency),
    said on its line or the line above, or the module says why all of its are
    (``DEFERRED_IMPORTS``); never a way around a cycle."""
    unexplained = []
    for name, path in _modules().items():
        source = path.read_text(encoding="utf-8")
        if "\nDEFERRED_IMPORTS = " in source:
            continue
        lines = source.splitlines()
        for _, node, inside in _imports(name, path, _modules()):
            if inside and not any("deferred" in lines[i] for i in (node.lineno - 1, node.lineno - 2)):
                unexplained.append(f"{path.relative_to(ROOT)}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    assert not sorted(set(unexplained))


def _subparser(name: str) -> argparse.ArgumentParser:
    from nasbench.cli.commands import COMMANDS

    parser = build_parser({n: (lambda args: 0) for n in COMMANDS})
    return next(sub for command, _, sub in commands(parser) if command == name)


# Settings that are not options: set by the program (worker_index; max_threads, each local
# worker's share of the cores, an option of `worker`), or left to its defaults.
_NOT_OPTIONS = {"worker_index", "max_threads", "latency_time_s", "latency_precision"}


@pytest.mark.parametrize("command, config", [("search", SearchConfig), ("bench", BenchConfig)])
def test_the_options_are_the_settings_they_fill(command: str, config: type) -> None:
    """Every setting of ``search`` and ``bench`` is an option of the same name whose default is
    the setting's default (``None``: left to the settings), and every option is a setting or
    one of the command's own."""
    parser = _subparser(command)
    options = {a.dest: a for a in parser._actions if a.dest != "help"}
    own = {"search": {"workers", "json", "confirm", "confirm_rounds", "confirm_seeds"},
           "bench": {"workers", "json"}}[command]
    fields = {f.name: f for f in dataclasses.fields(config)}
    defaults = config()
    assert set(options) - own == set(fields) - _NOT_OPTIONS
    for name in set(fields) - _NOT_OPTIONS:
        given = options[name].default
        if given is not None:
            assert given == getattr(defaults, name), name
        else:  # left to the settings: a setting whose default is None, or the proxy's
            assert fields[name].default is None or name in ("epochs", "max_train", "max_val",
                                                            "train_batch", "bn_calibration"), name
