"""The documentation stays true: the site builds strictly, every command it names exists and
every command is documented, its cheap shell examples run, and the version is one."""

from __future__ import annotations

import importlib.metadata
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from nasbench import __version__
from nasbench.cli.arguments import build_parser
from nasbench.cli.commands import COMMANDS
from nasbench.cli.reference import commands, reference_markdown

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
CHEAP = ("spaces", "blocks", "profile")
"""Commands whose documented examples run in the tests (seconds each)."""
NAMED = re.compile(r"(?:python cli\.py|(?:`|^|bin/)nasbench) ([a-z][a-z0-9-]*(?: (?:fit|eval|predict))?)",
                   flags=re.M)
"""A command as the docs write it: ``python cli.py NAME`` or ``nasbench NAME`` in code."""


def _pages() -> dict[str, str]:
    """Every hand-written page of the site, and the README."""
    pages = {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in DOCS.rglob("*.md")}
    pages["README.md"] = (ROOT / "README.md").read_text(encoding="utf-8")
    return pages


def _cli_commands() -> set[str]:
    return {name for name, _, _ in commands(build_parser(COMMANDS))}


def _shell_blocks(text: str) -> list[list[str]]:
    """The command lines of every block marked as a shell example: ```bash (every line a
    command) and ```console (the lines after ``$ ``)."""
    blocks = []
    for lang, body in re.findall(r"```(bash|console)\n(.*?)```", text, flags=re.S):
        lines = body.strip("\n").splitlines()
        if lang == "console":
            lines = [line[2:] for line in lines if line.startswith("$ ")]
        blocks.append([line.split("  #")[0].strip() for line in lines if line.strip()])
    return blocks


def test_every_command_named_in_the_docs_exists() -> None:
    known = _cli_commands() | {"dashboard"}
    unknown = {(page, name) for page, text in _pages().items()
               for name in NAMED.findall(text) if name.split()[0] not in known
               or (" " in name and name not in known)}
    assert not unknown, f"the docs name commands the CLI does not have: {sorted(unknown)}"


def test_every_command_is_documented_by_hand() -> None:
    text = "\n".join(t for page, t in _pages().items() if page != "docs/cli.md")
    named = set(NAMED.findall(text))
    missing = sorted(c for c in _cli_commands()
                     if c not in named and not any(n.startswith(c + " ") for n in named))
    assert not missing, f"commands no page shows (python cli.py NAME …): {missing}"


def test_the_reference_holds_every_command_and_option() -> None:
    parser = build_parser(COMMANDS)
    reference = reference_markdown(parser)
    for name, _, sub in commands(parser):
        assert f"`{name}`" in reference
        for action in sub._actions:
            for flag in action.option_strings:
                if flag != "-h" and flag != "--help":
                    assert f"`{flag}" in reference, (name, flag)


def test_the_readme_is_short_and_undated() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 200
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", text), "dates belong on the benchmarks page"
    assert not re.search(r"\bissue \d", text, flags=re.I)
    assert "docs/img/dashboard.png" in text and (ROOT / "docs/img/dashboard.png").stat().st_size > 10_000


def test_one_version_everywhere() -> None:
    assert importlib.metadata.version("nasbench") == __version__
    proc = subprocess.run([sys.executable, "cli.py", "--version"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == f"nasbench {__version__}"
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert re.search(r"^## \[(\d+\.\d+\.\d+)\]", changelog, flags=re.M).group(1) == __version__


def _cheap_examples() -> list[tuple[str, list[str]]]:
    found = []
    for page, text in sorted(_pages().items()):
        for block in _shell_blocks(text):
            clis = [line for line in block if re.match(r"(\.venv/bin/)?python cli\.py ", line)]
            if clis and all(line.split()[2] in CHEAP or "--help" in line or "--version" in line
                            for line in clis):
                found.append((page, block))
    return found


def test_the_cheap_examples_are_found() -> None:
    commands_run = {line.split()[2] for _, block in _cheap_examples() for line in block
                    if "cli.py" in line}
    assert {"spaces", "blocks", "profile", "--version"} <= commands_run


@pytest.mark.e2e
@pytest.mark.parametrize("page,block", _cheap_examples(),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_cheap_shell_examples_run(page: str, block: list[str], tmp_path: Path) -> None:
    python = shlex.quote(sys.executable)
    script = "set -e\n" + "\n".join(
        re.sub(r"^(\.venv/bin/)?python cli\.py", f"{python} {shlex.quote(str(ROOT / 'cli.py'))}",
               line) for line in block)
    proc = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, f"{page}: {block}\n{proc.stderr[-2000:]}"
    assert proc.stdout.strip()


@pytest.mark.e2e
def test_the_site_builds_strictly(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                           str(tmp_path / "site")], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    cli_page = (tmp_path / "site" / "cli" / "index.html").read_text(encoding="utf-8")
    for name in _cli_commands():
        assert name.split()[-1] in cli_page
    api_page = (tmp_path / "site" / "api" / "index.html").read_text(encoding="utf-8")
    assert "run_search" in api_page and "SearchConfig" in api_page  # docstrings rendered
