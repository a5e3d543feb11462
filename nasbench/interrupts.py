"""Ctrl-C where it is safe: while training or timing, or between trials, never in the middle of
a write to the study's storage (an interrupted SQLite write can hold its lock for minutes).

:class:`SafeInterrupts` installs a SIGINT handler for the duration of a search or bench. A
Ctrl-C inside :meth:`~SafeInterrupts.allowed` (training, timing) raises ``KeyboardInterrupt`` at
once; anywhere else it is held, and raised at the next :meth:`~SafeInterrupts.allowed` or
:meth:`~SafeInterrupts.check`. Off the main thread (where no handler can be installed) it
does nothing and Ctrl-C behaves as usual.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Any, Callable, Iterator


class SafeInterrupts:
    """Holds Ctrl-C outside the zones marked safe."""

    def __init__(self) -> None:
        self.safe = False
        self.pending = False

    def _handle(self, signum: int, frame: Any) -> None:
        if self.safe:
            self.safe = False
            raise KeyboardInterrupt
        self.pending = True

    @contextlib.contextmanager
    def installed(self) -> Iterator[SafeInterrupts]:
        """Install the handler (main thread only), restoring the previous one after."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = signal.signal(signal.SIGINT, self._handle)
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)

    def check(self) -> None:
        """Raise a held Ctrl-C now."""
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def allowed(self) -> Iterator[None]:
        """A zone where Ctrl-C is raised at once (training, timing)."""
        self.check()
        outer, self.safe = self.safe, True
        try:
            yield
        finally:
            self.safe = outer

    def held(self, call: Callable[..., Any]) -> Callable[..., Any]:
        """``call`` wrapped so that Ctrl-C is held while it runs (a storage write in a safe zone)."""
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            outer, self.safe = self.safe, False
            try:
                return call(*args, **kwargs)
            finally:  # a Ctrl-C held meanwhile is raised at the next allowed() or check()
                self.safe = outer
        return wrapped
