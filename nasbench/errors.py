"""The errors every workflow raises for an expected failure."""

from __future__ import annotations


class SearchError(ValueError):
    """A search, bench or study cannot start or go on; the message names the problem and the
    fix (the CLI prints it as one line, exit code 2)."""


class LatencyModelError(ValueError):
    """A latency model cannot be read or used here; the message names the problem and the fix."""


class DamagedValue(ValueError):
    """A value stored in a study is not what nasbench wrote (changed outside it): reading it
    again will not help. The message names the value and what to do."""

    def __init__(self, where: str) -> None:
        super().__init__(f"the study holds a damaged value ({where}), not what nasbench wrote "
                         f"there; nothing was written. Restore the study from a copy, or start "
                         f"another --study")
