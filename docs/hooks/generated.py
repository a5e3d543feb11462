"""MkDocs hook: the CLI reference page is generated from nasbench's own argument parser at
build time, and the changelog page is the repository's CHANGELOG.md (each page holds a marker
that this replaces)."""

from __future__ import annotations

import sys
from pathlib import Path

MARKER = "<!-- cli-reference -->"
CHANGELOG = "<!-- changelog -->"


def on_page_markdown(markdown: str, page, config, files) -> str:  # noqa: ANN001 (MkDocs' hook signature)
    if CHANGELOG in markdown:  # the changelog lives at the top of the repository
        return (Path(config["docs_dir"]).parent / "CHANGELOG.md").read_text(encoding="utf-8")
    if MARKER not in markdown:
        return markdown
    sys.path.insert(0, str(Path(config["docs_dir"]).parent))
    from nasbench.cli.arguments import build_parser
    from nasbench.cli.commands import COMMANDS
    from nasbench.cli.reference import reference_markdown

    return markdown.replace(MARKER, reference_markdown(build_parser(COMMANDS)))
