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
