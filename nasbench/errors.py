"""The error every workflow raises for an expected failure."""

from __future__ import annotations


class SearchError(ValueError):
    """A search, bench or study cannot start or go on; the message names the problem and the
    fix (the CLI prints it as one line, exit code 2)."""
