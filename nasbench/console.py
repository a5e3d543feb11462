"""What the CLI shows while it works: progress lines, step counters, interruption notes.

Output for the terminal only (stderr); the library reports through the callbacks these make.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, Callable


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def quiet_optuna(level: int = logging.WARNING) -> None:
    """Optuna logs at INFO by default (and configures that on first use): quieten it."""
    import optuna  # deferred: not every command needs Optuna

    optuna.logging.set_verbosity(level)


def slot() -> Any:
    """This process's handle on the machine's quiet measurement slot."""
    from nasbench.quiet import QuietSlot  # deferred: keeps --help fast

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
        end, rendered = ("", "\r" + rendered[:150].ljust(150)) if self.tty else ("\n", rendered)
        print(rendered, end=end, file=sys.stderr, flush=True)


def work(config: Any, workers: int, study: Any, finish: Any, progress: Live, alone: Any) -> Any:
    """Run a study's work here (``alone()``) or in ``workers`` processes; ``None`` after
    Ctrl-C, which leaves the study intact."""
    from nasbench.workers import run_workers  # deferred: imports the whole search

    try:
        outcome = run_workers(config, workers, study, finish, progress) if workers > 1 else alone()
    except KeyboardInterrupt:
        print(f"\nInterrupted: the study is intact in {config.storage_url}; run the same command "
              f"again to resume.", file=sys.stderr)
        return None
    if progress.tty:
        print(file=sys.stderr)
    return outcome


def confirming(rounds: int, seeds: int) -> Callable[[int], None]:
    """Says on stderr what a confirmation of ``count`` trials measures."""
    return lambda count: print(
        f"Confirming {count} trial(s) (the front and those on it within noise): {rounds} "
        f"interleaved latency rounds" + (f", {seeds - 1} more training seed(s) each" if seeds > 1
                                          else ""), file=sys.stderr)


def interruptible(confirm: Any) -> Any:
    """``confirm()``; ``None`` after Ctrl-C, which leaves the study as it was."""
    try:
        return confirm()
    except KeyboardInterrupt:
        print("\nConfirmation interrupted: the study is unchanged; run python cli.py confirm "
              "RUN to confirm later.", file=sys.stderr)
        return None


def steps(what: str) -> Callable[[str, int, int], None]:
    """A progress callback printing ``what: phase done/total`` on stderr now and then."""
    last = {"t": 0.0}

    def step(phase: str, done: int, total: int) -> None:
        now = time.monotonic()
        if done == total or now - last["t"] > 2:
            last["t"] = now
            print(f"{what}: {phase} {done}/{total}", file=sys.stderr, flush=True)
    return step
