"""What the CLI shows while it works: progress lines, step counters, interruption notes.

Output for the terminal only (stderr); the library reports through the callbacks these make.
"""

from __future__ import annotations

import importlib
import json
import logging
import shutil
import sys
import time
from typing import Any, Callable


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def quiet_optuna(level: int = logging.WARNING) -> None:
    """Optuna logs at INFO by default (and configures that on first use): quieten it."""
    import optuna  # deferred: not every command needs Optuna

    optuna.logging.set_verbosity(level)


class Deferred:
    """A module imported when first used: the CLI's ``--help`` and argument errors must not
    pay for what the commands print with (pandas, Optuna)."""

    def __init__(self, name: str) -> None:
        self._name, self._module = name, None

    def __getattr__(self, attr: str) -> Any:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attr)


def slot() -> Any:
    """This process's handle on the machine's quiet measurement slot."""
    from nasbench.measure.quiet import QuietSlot  # deferred: keeps --help fast

    return QuietSlot()


class Live:
    """A progress line (``text.ProgressLine`` & co.) printed on stderr after each trial:
    rewritten in place on a terminal, one line per trial otherwise. ``read(study)`` reads what
    the line shows (the complete trials of a search, the complete count of a bench)."""

    tty = sys.stderr.isatty()

    def __init__(self, line: Any, read: Any) -> None:
        self.line, self.read = line, read

    def __call__(self, study: Any, trial: Any) -> None:
        rendered = self.line.render(self.read(study), trial)
        if self.tty:  # one line the width of the terminal, cut at a word with an ellipsis
            width = max(40, shutil.get_terminal_size((120, 24)).columns - 1)
            rendered = "\r" + fit_line(rendered, width).ljust(width)
        print(rendered, end="" if self.tty else "\n", file=sys.stderr, flush=True)


def fit_line(line: str, width: int) -> str:
    """``line`` within ``width`` characters: cut at the last space that fits, with ``…``."""
    if len(line) <= width:
        return line
    cut = line[:width - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > width // 2 else cut).rstrip(" |,") + "…"


def work(config: Any, workers: int, study: Any, finish: Any, progress: Live, alone: Any) -> Any:
    """Run a study's work here (``alone()``) or in ``workers`` processes; ``None`` after
    Ctrl-C, which leaves the study intact."""
    from nasbench.workflows.workers import run_workers  # deferred: imports the whole search

    try:
        outcome = run_workers(config, workers, study, finish, progress) if workers > 1 else alone()
    except KeyboardInterrupt:
        print(f"\nInterrupted: the study is intact in {config.storage_url}; run the same command "
              f"again to resume.", file=sys.stderr)
        return None
    if progress.tty:
        print(file=sys.stderr)
    return outcome


def confirming(rounds: int, seeds: int) -> Callable[[int], Callable[[int, int], None]]:
    """Says on stderr what a confirmation of ``count`` trials measures, and returns the
    callback that reports its rounds with an ETA."""
    def start(count: int) -> Callable[[int, int], None]:
        print(f"Confirming {count} trial(s) (the front and those on it within noise): {rounds} "
              f"interleaved latency rounds" + (f", then {seeds - 1} more training seed(s) each"
                                               if seeds > 1 else ""), file=sys.stderr, flush=True)
        step = steps("confirm")
        return lambda done, total: step("latency rounds", done, total)
    return start


def interruptible(confirm: Any) -> Any:
    """``confirm()``; ``None`` after Ctrl-C, which leaves the study as it was."""
    try:
        return confirm()
    except KeyboardInterrupt:
        print("\nConfirmation interrupted: the study is unchanged; run python cli.py confirm "
              "RUN to confirm later.", file=sys.stderr)
        return None


def steps(what: str, every_s: float = 2.0) -> Callable[[str, int, int], None]:
    """A progress callback printing ``what: phase done/total, elapsed, ETA`` on stderr at most
    every ``every_s`` seconds and at the end of each phase; the ETA is the phase's elapsed
    time over what is done, times what is left."""
    state: dict[str, Any] = {"t": 0.0, "phase": None, "start": 0.0}

    def step(phase: str, done: int, total: int) -> None:
        now = time.monotonic()
        if phase != state["phase"]:  # a step shorter than every_s prints only its end
            state.update(phase=phase, start=now, t=now)
        if done == total or now - state["t"] >= every_s:
            state["t"] = now
            elapsed = now - state["start"]
            eta = (f", ETA {_clock(elapsed / done * (total - done))}" if 0 < done < total
                   else "")
            print(f"{what}: {phase} {done}/{total}, {_clock(elapsed)}{eta}", file=sys.stderr,
                  flush=True)
    return step


def _clock(seconds: float) -> str:
    """``1m05s``."""
    seconds = max(0, round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s"
