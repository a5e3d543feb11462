"""The CLI reference as Markdown, generated from the argument parser itself (the docs build
calls :func:`reference_markdown`, so the reference cannot drift from the CLI)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction | None:
    return next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)


def commands(parser: argparse.ArgumentParser, prefix: str = "") -> Iterator[tuple[str, str, argparse.ArgumentParser]]:
    """Every command and sub-action of ``parser`` (``"latency-model fit"``…), with its one-line
    help and its parser, in the order the CLI lists them."""
    sub = _subparsers(parser)
    if sub is None:
        return
    helps = {a.dest: a.help or "" for a in sub._choices_actions}
    for name, child in sub.choices.items():
        full = f"{prefix}{name}"
        yield full, helps.get(name, ""), child
        yield from commands(child, full + " ")


def _flags(action: argparse.Action) -> str:
    if not action.option_strings:
        return f"`{action.metavar or action.dest}`"
    metavar = ""
    if action.nargs != 0:
        shown = action.metavar or (("{" + ",".join(map(str, action.choices)) + "}") if action.choices
                                   else action.dest.upper())
        metavar = f" {shown}" if isinstance(shown, str) else " " + " ".join(shown)
        if action.nargs in ("*", "+"):
            metavar += " …"
    return ", ".join(f"`{flag}{metavar}`" for flag in action.option_strings)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _options(parser: argparse.ArgumentParser) -> list[str]:
    rows = []
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        if action.help is argparse.SUPPRESS:
            continue
        help_text = action.help or ""
        if action.choices and not action.help:
            help_text = "one of " + ", ".join(f"`{c}`" for c in action.choices)
        if (action.nargs != 0 and action.default not in (None, argparse.SUPPRESS, [], "")
                and "default" not in help_text):
            help_text += f" (default `{action.default}`)"
        rows.append(f"| {_flags(action)} | {_cell(help_text)} |")
    return (["| option | meaning |", "|---|---|"] + rows) if rows else []


def reference_markdown(parser: argparse.ArgumentParser) -> str:
    """Markdown for every command of ``parser``: a heading, its help, its usage line and a table
    of its options. Global options come first."""
    out = [f"```text\n{parser.format_usage().strip()}\n```", "", *_options(parser), ""]
    for name, help_text, child in commands(parser):
        level = "###" if " " in name else "##"
        out += [f"{level} `{name}`", "", _cell(help_text[:1].upper() + help_text[1:]) + ".", "",
                f"```text\n{child.format_usage().strip()}\n```", "", *_options(child), ""]
    return "\n".join(out)
