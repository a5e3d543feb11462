"""The conditions a measurement was taken under: device, CPU model, threads, batch, dtype…"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import os
import platform
from dataclasses import asdict, dataclass

logger = logging.getLogger(__name__)

# glibc mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's maximum on 64-bit systems
_TRIM_THRESHOLD = 1024 * 1024 * 1024


@dataclass(frozen=True)
class Conditions:
    """Everything a latency figure depends on, recorded with it."""

    device: str
    device_name: str
    cpu_model: str
    threads: int
    batch: int
    dtype: str
    memory_format: str
    torch_version: str
    allocator: str
    python: str
    machine: str
    clock: str = "wall"
    """What a latency is: ``cpu`` (the measuring threads' CPU time) or ``wall`` (elapsed time;
    what every figure was before the clock was recorded)."""

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return asdict(self)

    def summary(self) -> str:
        """One line for tables and logs."""
        return (f"{self.device_name}, {self.threads} thread(s), batch {self.batch}, {self.dtype}, "
                f"{self.memory_format}, {self.clock} time, torch {self.torch_version}, "
                f"allocator {self.allocator}")


@functools.lru_cache(maxsize=1)
def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo where there is one)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


_allocator_label: str | None = None


def allocator_state() -> str:
    """The allocator label: what :func:`tune_allocator` did in this process, if it ran."""
    if os.environ.get("LD_PRELOAD", "").find("jemalloc") >= 0:
        return "jemalloc"
    return _allocator_label or "default (not tuned)"


def tune_allocator() -> str:
    """Stop glibc from mapping and unmapping large activations on every call.

    With glibc's default malloc, buffers above a dynamic threshold are ``mmap``-ed and returned
    to the kernel on free, so every forward pass pays page faults and the timing depends on the
    process's history. Raising the mmap and trim thresholds (``mallopt``) keeps them in the
    heap. Applied once per process; returns a label recorded in the conditions.

    Process-wide, so it is applied at entry points only: the CLI (every ``nasbench`` command and
    worker) calls it once at start. A program that measures latency through the library calls
    it once itself; :func:`allocator_state` records whether it did.
    """
    global _allocator_label
    if _allocator_label is None:
        _allocator_label = _mallopt()
    return allocator_state()


def _mallopt() -> str:
    if os.environ.get("LD_PRELOAD", "").find("jemalloc") >= 0:
        return "jemalloc"
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return "system default"
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        ok = libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD) and \
            libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)
    except (OSError, AttributeError):
        ok = 0
    if not ok:
        logger.warning("could not raise glibc's mmap/trim thresholds; latency may be noisier")
        return "glibc default"
    return "glibc mmap/trim thresholds raised"


def check_device(device: str) -> None:
    """Raise ``ValueError`` unless ``device`` is ``cpu``, or ``cuda`` with a CUDA GPU present.

    The one place this rule lives: latency, training, search and the CLI all call it.
    """
    if not (device == "cpu" or device == "cuda" or device.startswith("cuda:")):
        raise ValueError(f"unknown device {device!r}; use cpu or cuda")
    if device != "cpu":
        import torch  # deferred: env is read by modules that must not load torch

        if not torch.cuda.is_available():
            raise ValueError("--device cuda was asked for but no CUDA GPU is available; "
                             "use --device cpu")


def current_conditions(device: str, threads: int, batch: int, dtype: str, memory_format: str,
                       allocator: str, clock: str = "cpu") -> Conditions:
    """Describe the machine and settings of a measurement about to be taken (``clock``: as
    :func:`nasbench.measure.latency.effective_clock` resolves it)."""
    import torch  # deferred: env is read by modules that must not load torch

    if device.startswith("cuda"):
        device_name = torch.cuda.get_device_name(torch.device(device))
    else:
        device_name = f"CPU: {cpu_model()}"
    return Conditions(
        device=device, device_name=device_name, cpu_model=cpu_model(), threads=threads,
        batch=batch, dtype=dtype, memory_format=memory_format, torch_version=torch.__version__,
        allocator=allocator, python=platform.python_version(), machine=platform.machine(),
        clock="wall" if device.startswith("cuda") else clock,
    )


WORKERS = (1, 64)
"""The least and most ``--workers`` of one command."""


def check_workers(workers: int) -> None:
    """Raise ``ValueError`` unless ``workers`` is within :data:`WORKERS`."""
    low, high = WORKERS
    if isinstance(workers, bool) or not isinstance(workers, int) or not low <= workers <= high:
        raise ValueError(f"--workers must be between {low} and {high}, got {workers}")


MAX_THREADS = 1024
"""The most CPU threads any option may ask for (torch takes the count as a C int)."""


def check_threads(threads: int, option: str = "--threads") -> None:
    """Raise ``ValueError`` unless ``threads`` is a whole number from 1 to :data:`MAX_THREADS`."""
    if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= MAX_THREADS:
        raise ValueError(f"{option} must be between 1 and {MAX_THREADS}, got {threads}")
