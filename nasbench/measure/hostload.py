"""How busy the host was while a latency was measured, read from ``/proc`` and ``getrusage``.

On a host with more runnable threads than cores, the measuring thread sits preempted part of
the time, and wall time then measures the neighbours; thread CPU time does not. Each figure
records what the host was doing (load average, runnable threads, CPU steal, the measuring
thread's involuntary context switches, wall over CPU time per inference), and
:attr:`HostLoad.busy` says when the host was too busy for a faithful wall-time figure.
"""

from __future__ import annotations

import logging
import os
import resource
from dataclasses import asdict, dataclass
from typing import Any

logger = logging.getLogger(__name__)

BUSY_WALL_OVER_CPU = 1.15
"""Wall time per inference more than this many times its CPU time: the thread was preempted."""
BUSY_STEAL = 0.05
"""A share of CPU time stolen by the hypervisor above this: the host is oversubscribed."""


@dataclass(frozen=True)
class HostLoad:
    """The host around one measurement."""

    load_1m: float | None
    """The 1-minute load average (runnable and waiting threads, all cores)."""
    run_queue: int | None
    """Threads runnable when the measurement ended (``procs_running``, this one included)."""
    cores: int
    steal: float | None
    """The share of CPU time stolen by the hypervisor during the measurement."""
    preempted: int
    """Involuntary context switches of the measuring thread during the measurement."""
    wall_over_cpu: float | None
    """Median wall time over median CPU time per inference (``None``: timed in wall time only)."""

    @property
    def busy(self) -> bool:
        """More runnable threads than cores, CPU stolen, or wall time inflated by preemption:
        a wall-time figure would measure the neighbours."""
        return bool((self.run_queue is not None and self.run_queue - 1 > self.cores)
                    or (self.steal is not None and self.steal > BUSY_STEAL)
                    or (self.wall_over_cpu is not None and self.wall_over_cpu > BUSY_WALL_OVER_CPU))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with the ``busy`` flag."""
        return {**asdict(self), "busy": self.busy}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> HostLoad | None:
        """The inverse of :meth:`to_dict` (``None`` for a measurement that did not record it)."""
        if not data:
            return None
        return cls(load_1m=data.get("load_1m"), run_queue=data.get("run_queue"),
                   cores=int(data.get("cores") or 1), steal=data.get("steal"),
                   preempted=int(data.get("preempted") or 0),
                   wall_over_cpu=data.get("wall_over_cpu"))

    def summary(self) -> str:
        """One line for logs and warnings."""
        parts = [f"{self.run_queue} runnable threads on {self.cores} cores" if self.run_queue
                 else f"{self.cores} cores"]
        if self.load_1m is not None:
            parts.append(f"load {self.load_1m:.1f}")
        if self.steal:
            parts.append(f"{100 * self.steal:.0f} % stolen")
        if self.wall_over_cpu is not None:
            parts.append(f"wall {self.wall_over_cpu:.2f}x CPU time")
        return ", ".join(parts)


def _proc_stat() -> tuple[int | None, tuple[int, int] | None]:
    """``procs_running`` and (steal, total) CPU ticks from ``/proc/stat``; ``None`` elsewhere."""
    running, ticks = None, None
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("cpu "):
                    values = [int(v) for v in line.split()[1:]]
                    ticks = (values[7] if len(values) > 7 else 0, sum(values[:8]))
                elif line.startswith("procs_running"):
                    running = int(line.split()[1])
    except (OSError, ValueError):
        pass
    return running, ticks


def _switches() -> int:
    try:
        return resource.getrusage(resource.RUSAGE_THREAD).ru_nivcsw
    except (AttributeError, OSError):  # not Linux
        return resource.getrusage(resource.RUSAGE_SELF).ru_nivcsw


class HostWatch:
    """Read the host before and after a measurement (in the measuring thread):
    ``with HostWatch() as watch: ...`` then ``watch.load(wall_over_cpu)``."""

    def __enter__(self) -> HostWatch:
        self._switches = _switches()
        self._ticks = _proc_stat()[1]
        return self

    def __exit__(self, *exc: object) -> None:
        self._switches_after = _switches()
        self._running, self._ticks_after = _proc_stat()

    def load(self, wall_over_cpu: float | None, clock: str = "cpu") -> HostLoad:
        """The host over the measurement, with the measurement's wall over CPU time (the
        figure was taken on ``clock``: said in the warning of a busy host)."""
        steal = None
        if self._ticks is not None and self._ticks_after is not None:
            total = self._ticks_after[1] - self._ticks[1]
            steal = (self._ticks_after[0] - self._ticks[0]) / total if total > 0 else 0.0
        try:
            load_1m: float | None = os.getloadavg()[0]
        except OSError:
            load_1m = None
        load = HostLoad(load_1m=load_1m, run_queue=self._running, cores=os.cpu_count() or 1,
                        steal=steal, preempted=self._switches_after - self._switches,
                        wall_over_cpu=wall_over_cpu)
        _warn_once(load, clock)
        return load


_warned = False


def _warn_once(load: HostLoad, clock: str) -> None:
    """Say once per process, clearly, that the host is too busy for a faithful wall time."""
    global _warned
    if load.busy and not _warned:
        _warned = True
        what = ("latency is taken as CPU time (the time with a core to itself)" if clock == "cpu"
                else "these wall-time figures are not faithful: measure with the cpu clock or "
                     "on a quiet machine")
        logger.warning("the host is busy (%s): wall time there measures the neighbours; %s. "
                       "Every figure taken while busy is flagged host_busy", load.summary(), what)
