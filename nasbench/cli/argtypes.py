"""The types of the command line's values: each turns a string into a value or refuses it in
words argparse prints as the one line of a usage error."""

from __future__ import annotations

import argparse
import ipaddress
import re


def whole(raw: str, low: int, wanted: str) -> int:
    """``raw`` as a whole number of at least ``low``; ``wanted`` says what was expected."""
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {wanted}, got {raw!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"expected {wanted if low else '0 or more'}, got {value}")
    return value


def positive_int(raw: str) -> int:
    return whole(raw, 1, "a positive integer")


def non_negative_int(raw: str) -> int:
    """A whole number, 0 or more."""
    return whole(raw, 0, "a whole number")


def train_samples(raw: str) -> int:
    """A positive number of training images, or ``all`` (0: the whole training split)."""
    if raw.strip().lower() == "all":
        return 0
    try:
        return positive_int(raw)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'all', got {raw!r}") from None


def training_threads(raw: str) -> int | None:
    """A positive number of training threads, or ``auto`` (``None``: governed by the host's
    load)."""
    if raw.strip().lower() == "auto":
        return None
    try:
        return positive_int(raw)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'auto', got {raw!r}") from None


def rounds(raw: str) -> int:
    """Interleaved rounds, 2 to 1000 (the interval of a median needs several)."""
    value = whole(raw, 2, "a number of rounds from 2 to 1000")
    if value > 1000:
        raise argparse.ArgumentTypeError(f"expected a number of rounds from 2 to 1000, got {value}")
    return value


def port(raw: str) -> int:
    """A TCP port, 1 to 65535."""
    value = whole(raw, 1, "a port from 1 to 65535")
    if value > 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 1 to 65535, got {value}")
    return value


HOSTNAME = re.compile(r"(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*")


def address(raw: str) -> str:
    """An address to bind: an IPv4 or IPv6 address or a host name, never empty (an empty
    address would bind every interface)."""
    value = raw.strip()
    if not value:
        raise argparse.ArgumentTypeError("expected an address (an empty one binds every interface; "
                                         "give 0.0.0.0 to mean that)")
    if ":" in value or re.fullmatch(r"[0-9.]+", value):  # written as an IP address: must be one
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an IP address or a host name, got {raw!r}") from None
        return value
    if not HOSTNAME.fullmatch(value):
        raise argparse.ArgumentTypeError(f"expected an IP address or a host name, got {raw!r}")
    return value
