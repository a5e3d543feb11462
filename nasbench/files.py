"""Writing files so that a reader never sees half of one: write beside, then rename.

Files and folders written here follow the user's umask, like any file a program creates.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it into place.

    On any failure the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_folder(dest: str | Path, fill: Callable[[Path], object], overwrite: bool = False) -> Path:
    """Fill a new folder with ``fill(tmp_dir)`` beside ``dest``, then rename it to ``dest``.

    ``dest`` must not exist or be empty unless ``overwrite``; with ``overwrite`` its old content
    is replaced as a whole (no stale file survives). On failure ``dest`` is left as it was.
    """
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise FileExistsError(f"{dest} exists and is not a folder")
    if dest.is_dir() and any(dest.iterdir()) and not overwrite:
        raise FileExistsError(f"{dest} is not empty")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp"))
    old = dest.parent / f".{dest.name}.old-{os.getpid()}"
    try:
        os.chmod(tmp, 0o777 & ~_umask())
        fill(tmp)
        if dest.is_dir():
            os.replace(dest, old)
        os.replace(tmp, dest)
    except BaseException:
        if old.is_dir() and not dest.exists():
            os.replace(old, dest)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return dest


class OutputRefused(ValueError):
    """An output path that cannot be written, or must not be replaced; the message names the
    problem and the fix."""


def _existing_ancestor(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def probe_writable(folder: Path, option: str) -> None:
    """Raise :class:`OutputRefused` unless a file can be created in ``folder`` (or, when it does
    not exist yet, in the nearest folder above it that does): tried for real, since
    permissions alone do not say (root, read-only mounts)."""
    where = _existing_ancestor(folder)
    if not where.is_dir():
        raise OutputRefused(f"{option} {folder}: {where} is a file, not a folder; choose another {option}")
    try:
        fd, name = tempfile.mkstemp(dir=where, prefix=".nasbench-probe-")
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise OutputRefused(f"cannot write to {where} ({exc.strerror or exc}); choose another "
                            f"{option}") from None


def check_output_file(path: str | Path, option: str, suffixes: tuple[str, ...] = ()) -> Path:
    """Check before any work that ``path`` can be written as a file: not a folder, a name the
    file system takes, one of ``suffixes`` (when given), its folder writable. Raises
    :class:`OutputRefused` naming the problem and the fix."""
    path = Path(path)
    if suffixes and path.suffix.lower() not in suffixes:
        raise OutputRefused(f"{option} {path} must end in {' or '.join(suffixes)}")
    _check_name(path, option)
    if path.is_dir():
        raise OutputRefused(f"{option} {path} is a folder; give a file name such as "
                            f"{path / ('out' + (suffixes[0] if suffixes else ''))}")
    probe_writable(path.parent, option)
    return path


def _check_name(path: Path, option: str) -> None:
    limit = os.pathconf(_existing_ancestor(path.parent), "PC_NAME_MAX") if hasattr(os, "pathconf") else 255
    for part in path.parts:
        if len(part.encode()) > limit:
            raise OutputRefused(f"{option}: the name {part[:40]}… is longer than this file system's "
                                f"{limit} bytes; choose a shorter one")


def check_output_folder(dest: str | Path, option: str, overwrite: bool,
                        owned: frozenset[str] = frozenset()) -> Path:
    """Check before any work that :func:`write_folder` can write ``dest``: not a file, new or
    empty, or (with ``overwrite``) holding only files named in ``owned``, what a previous run
    of the same command wrote there; its parent writable. ``--force`` never replaces a study,
    a runs folder or any folder the command did not make. Raises :class:`OutputRefused`
    naming the problem and the fix."""
    dest = Path(dest)
    _check_name(dest, option)
    if dest.exists() and not dest.is_dir():
        raise OutputRefused(f"{option} {dest} is a file; choose a folder")
    entries = sorted(p.name for p in dest.iterdir()) if dest.is_dir() else []
    if entries and not overwrite:
        raise OutputRefused(f"{option} {dest} already holds files; choose an empty {option}, or "
                            f"add --force to replace a previous output of this command there")
    foreign = [name for name in entries if name not in owned or (dest / name).is_dir()]
    if entries and foreign:
        raise OutputRefused(f"--force replaces only a previous output of this command; {dest} "
                            f"holds {', '.join(foreign[:3])}{' …' if len(foreign) > 3 else ''}, "
                            f"which it did not write: choose another {option}")
    probe_writable(dest.parent, option)
    return dest
