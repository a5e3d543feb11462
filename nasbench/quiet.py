"""A machine-wide quiet slot for latency measurement.

Training in another worker on the same machine takes cores, caches and memory bandwidth and
would inflate latency figures. So every nasbench process on a machine shares one lock file:
a latency measurement holds it exclusively; training and evaluation hold it shared, one step at
a time. A measurement therefore waits for the steps in flight to finish and runs alone; a
turnstile lock keeps new training steps from starving a waiting measurement. Uncontended, the
locks cost a few system calls per step. POSIX ``flock``; elsewhere the slot is a no-op.

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


class QuietSlot:
    """Exclusive (measure) and shared (train) holds on a machine-wide lock.

    ``directory`` holds the lock files (default: the temp folder, so every process of this
    user on the machine shares them).
    """

    def __init__(self, directory: str | Path | None = None) -> None:
        root = Path(directory or tempfile.gettempdir())
        user = os.getuid() if hasattr(os, "getuid") else 0
        self.data_path = root / f"nasbench-{user}-quiet.lock"
        self.turnstile_path = root / f"nasbench-{user}-turnstile.lock"
        self._depth = 0
        self._files: tuple[int, int] | None = None
        self.waited_s = 0.0
        """Seconds this process's measurements waited for work elsewhere on the machine
        (training steps of other nasbench processes) before they could run alone."""

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
        fcntl.flock(turnstile, fcntl.LOCK_EX)
        try:
            if exclusive:  # keep the turnstile while waiting: no new shared holders get in
                fcntl.flock(data, fcntl.LOCK_EX)
        finally:
            fcntl.flock(turnstile, fcntl.LOCK_UN)
        if exclusive:
            self.waited_s += time.monotonic() - asked
        if not exclusive:
            fcntl.flock(data, fcntl.LOCK_SH)
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            fcntl.flock(data, fcntl.LOCK_UN)

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
