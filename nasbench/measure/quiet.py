"""A machine-wide quiet slot for latency measurement.

Training in another worker on the same machine takes cores, caches and memory bandwidth and
would inflate latency figures. So every nasbench process on a machine shares one lock file:
a latency measurement holds it exclusively; training and evaluation hold it shared, one step at
a time. A measurement therefore waits for the steps in flight to finish and runs alone; a
turnstile lock keeps new training steps from starving a waiting measurement. A measurement
waits at most :attr:`QuietSlot.max_wait_s` (a step of another process that runs longer, a
process stopped in a debugger): then it is taken beside the work and counted in
:attr:`QuietSlot.timeouts`, which the trial records. Uncontended, the locks cost a few system
calls per step. POSIX ``flock``; elsewhere the slot is a no-op.

There is no global slot: whoever measures or trains is handed one (the CLI makes one per
process, ``QuietSlot()``), and code given ``None`` coordinates with no one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path
from typing import Iterator

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


MAX_WAIT_S = 30.0
"""The longest a measurement waits for the slot before it is taken beside other work."""
_POLL_S = 0.005


class QuietSlot:
    """Exclusive (measure) and shared (train) holds on a machine-wide lock.

    ``directory`` holds the lock files (default: the temp folder, so every process of this
    user on the machine shares them); ``max_wait_s`` bounds a measurement's wait.
    """

    def __init__(self, directory: str | Path | None = None, max_wait_s: float = MAX_WAIT_S) -> None:
        root = Path(directory or tempfile.gettempdir())
        user = os.getuid() if hasattr(os, "getuid") else 0
        self.data_path = root / f"nasbench-{user}-quiet.lock"
        self.turnstile_path = root / f"nasbench-{user}-turnstile.lock"
        self._depth = 0
        self._files: tuple[int, int] | None = None
        self.max_wait_s = max_wait_s
        self.waited_s = 0.0
        """Seconds this process's measurements waited for work elsewhere on the machine
        (training steps of other nasbench processes) before they could run alone."""
        self.shared_waited_s = 0.0
        """Seconds this process's training steps waited for measurements of other nasbench
        processes."""
        self.timeouts = 0
        """Measurements taken beside other work after waiting :attr:`max_wait_s`."""

    def _open(self) -> tuple[int, int]:
        if self._files is None:
            flags = os.O_RDWR | os.O_CREAT
            self._files = (os.open(self.data_path, flags, 0o600), os.open(self.turnstile_path, flags, 0o600))
        return self._files

    @contextlib.contextmanager
    def _hold(self, exclusive: bool) -> Iterator[None]:
        if fcntl is None or self._depth:  # no flock here, or already held by this process
            yield
            return
        data, turnstile = self._open()
        asked = time.monotonic()
        held = True
        fcntl.flock(turnstile, fcntl.LOCK_EX)
        try:
            if exclusive:  # keep the turnstile while waiting: no new shared holders get in
                held = self._wait_exclusive(data, asked)
        finally:
            fcntl.flock(turnstile, fcntl.LOCK_UN)
        if exclusive:
            self.waited_s += time.monotonic() - asked
        else:
            fcntl.flock(data, fcntl.LOCK_SH)
            self.shared_waited_s += time.monotonic() - asked
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if held:
                fcntl.flock(data, fcntl.LOCK_UN)

    def _wait_exclusive(self, data: int, asked: float) -> bool:
        """Take the data lock alone, waiting at most :attr:`max_wait_s`; ``False`` (counted in
        :attr:`timeouts`) when the wait ran out."""
        while True:
            try:
                fcntl.flock(data, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() - asked >= self.max_wait_s:
                    self.timeouts += 1
                    return False
                time.sleep(_POLL_S)

    def exclusive(self) -> contextlib.AbstractContextManager[None]:
        """Hold the slot alone (latency measurement): waits for steps in flight elsewhere."""
        return self._hold(exclusive=True)

    def shared(self) -> contextlib.AbstractContextManager[None]:
        """Hold the slot with others (one training or evaluation step)."""
        return self._hold(exclusive=False)

    def close(self) -> None:
        """Close the lock files."""
        if self._files is not None:
            for fd in self._files:
                os.close(fd)
            self._files = None


def hold_exclusive(slot: QuietSlot | None) -> contextlib.AbstractContextManager[None]:
    """``slot.exclusive()``, or nothing when there is no slot."""
    return slot.exclusive() if slot is not None else contextlib.nullcontext()


def hold_shared(slot: QuietSlot | None) -> contextlib.AbstractContextManager[None]:
    """``slot.shared()``, or nothing when there is no slot."""
    return slot.shared() if slot is not None else contextlib.nullcontext()
