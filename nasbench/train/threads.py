"""Training threads that never oversubscribe the machine.

PyTorch's OpenMP threads spin and then block at the end of every parallel operation, waiting
for their partners. When another program holds one of the cores, a partner sits descheduled
and every operation waits for it: the small networks of a search train two to four times
slower with two threads than with one beside two busy loops on two cores, while on a quiet
host two threads take 0.7 of one thread's time (``benchmarks/train_threads.py``). OpenMP's
passive wait policy is no way out: with two threads it is slower than one thread on a quiet
host and on a busy one alike.

So training threads are governed, per process (:class:`ThreadGovernor`), by two readings.

- *Is a core idle?* As a training run starts, with fewer threads than its cap, the host's
  idle time since the last reading (``/proc/stat``) shows a free core: the run tries one more.
  Threads are added only there (or in a run whose threads were already dropped), so a run
  on a host whose load holds still keeps one thread count (and the arithmetic of
  ``--threads`` of that count) from start to end.
- *Do our threads get their cores?* Between steps, the process's CPU time over the wall time
  of its steps, per thread (a spinning thread counts as running): below :data:`SHARE_MIN` the
  threads wait for cores other work holds, and the governor drops, mid-run, to the threads
  that share can feed. A try refuted so waits twice as long before the next (up to
  :data:`BACKOFF_MAX_S`).

The cap is the cores this process may use (affinity and cgroup quota,
:func:`usable_cores`) divided among the workers of one command. An explicit thread count
(``--threads N``) is kept as given, with a warning when it oversubscribes.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from dataclasses import dataclass
from typing import Iterator

logger = logging.getLogger(__name__)

SHARE_MIN = 0.8
"""Below this share of a core per training thread (CPU time over wall time of the steps), the
threads wait for cores held by other work."""
IDLE_MIN = 0.8
"""Idle cores (over the last interval, the whole host's affinity set) needed to try one more
thread."""
INTERVAL_S = 0.5
"""Seconds of training steps between two decisions to drop threads."""
IDLE_WINDOW_S = 0.2
"""The shortest span over which idle cores are read (``/proc/stat`` counts in 10 ms ticks)."""
BACKOFF_MIN_S = 1.0
"""Seconds before a refuted try of more threads is tried again; doubled at each refutation."""
BACKOFF_MAX_S = 32.0
"""The longest wait between two tries of more threads."""


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity, bounded by a cgroup CPU quota
    (``cpu.max`` of cgroup v2, ``cpu.cfs_quota_us`` of v1) where one is set."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cores = os.cpu_count() or 1
    quota = _cgroup_quota()
    if quota is not None:
        cores = min(cores, max(1, math.floor(quota)))
    return max(1, cores)


def _cgroup_quota() -> float | None:
    """The cgroup's CPU quota in cores, or ``None`` when none is set (or none is readable)."""
    try:
        with open("/sys/fs/cgroup/cpu.max", encoding="ascii") as handle:
            quota, period = handle.read().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        with open("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", encoding="ascii") as handle:
            quota_us = int(handle.read())
        with open("/sys/fs/cgroup/cpu/cpu.cfs_period_us", encoding="ascii") as handle:
            period_us = int(handle.read())
        return None if quota_us <= 0 else quota_us / period_us
    except (OSError, ValueError):
        return None


def _idle_ticks(cpus: frozenset[int] | None) -> int | None:
    """Idle and I/O-wait clock ticks of the CPUs in ``cpus`` (all when ``None``) from
    ``/proc/stat``; ``None`` where there is no ``/proc/stat``."""
    total = 0
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            for line in handle:
                if not line.startswith("cpu"):
                    break
                name, *values = line.split()
                if name == "cpu" or (cpus is not None and int(name[3:]) not in cpus):
                    continue
                total += int(values[3]) + int(values[4])
    except (OSError, ValueError, IndexError):
        return None
    return total


def _affinity() -> frozenset[int] | None:
    try:
        return frozenset(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


@dataclass(frozen=True)
class ThreadUse:
    """How training used its threads over a span: thread-seconds and wall seconds of steps."""

    thread_s: float = 0.0
    step_s: float = 0.0
    reductions: int = 0
    """Times the governor dropped threads because other work held the cores."""

    def __sub__(self, other: ThreadUse) -> ThreadUse:
        return ThreadUse(self.thread_s - other.thread_s, self.step_s - other.step_s,
                         self.reductions - other.reductions)

    @property
    def mean_threads(self) -> float | None:
        """Threads per step, weighted by the steps' wall time (``None``: no step)."""
        return self.thread_s / self.step_s if self.step_s > 0 else None


class ThreadGovernor:
    """The training threads of one process (see the module's docstring).

    ``cap``: the most threads it runs (default :func:`usable_cores`). ``fixed``: run exactly
    ``cap`` threads (an explicit ``--threads``), only warning when other work holds the cores.
    Call :meth:`begin` as a training run starts (the only moment threads are added, so a run
    on a host whose load does not change uses one thread count throughout, and its arithmetic
    is that of ``--threads`` of that count) and use :meth:`step` around each training or
    evaluation step (it sets torch's thread count, and drops threads the cores cannot feed).
    """

    def __init__(self, cap: int | None = None, fixed: bool = False,
                 interval_s: float = INTERVAL_S) -> None:
        self.cap = max(1, cap if cap is not None else usable_cores())
        self.fixed = fixed
        self.threads = self.cap if fixed else 1
        self.interval_s = interval_s
        self._cpus = _affinity()
        self._hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self._wall = self._cpu = self._thread_s = 0.0
        self._total = ThreadUse()
        self._window: tuple[float, int | None] | None = None
        self._backoff = BACKOFF_MIN_S
        self._next_try = 0.0
        self._trying = False
        self._mixed = False
        self._warned = False
        if fixed and self.cap > usable_cores():
            logger.warning("--threads %d is more than the %d core(s) this process may use: "
                           "training threads will wait for each other at every operation; "
                           "leave --threads out and nasbench chooses", self.cap, usable_cores())

    def usage(self) -> ThreadUse:
        """Thread use so far (subtract two readings for a span)."""
        return ThreadUse(self._total.thread_s + self._thread_s, self._total.step_s + self._wall,
                         self._total.reductions)

    def idle_cores(self, min_window_s: float = IDLE_WINDOW_S) -> float | None:
        """Idle cores of this process's CPUs since the last reading, when that was at least
        ``min_window_s`` ago (the first reading of the process samples that long); ``None``
        without ``/proc/stat`` or before the window is long enough."""
        if self._window is None:
            self._window = (time.perf_counter(), _idle_ticks(self._cpus))
            time.sleep(min_window_s)
        start, ticks = self._window
        now = time.perf_counter()
        if now - start < min_window_s:
            return None
        ticks_now = _idle_ticks(self._cpus)
        self._window = (now, ticks_now)
        if ticks is None or ticks_now is None:
            return None
        return (ticks_now - ticks) / self._hz / (now - start)

    def begin(self, idle: float | None = None) -> int:
        """A training run starts: add threads when a core has been idle (``idle`` cores;
        default: read since the last reading, :meth:`idle_cores`) and no refuted try is
        recent. Returns the threads the run starts with."""
        self._mixed = False
        self._try_more(idle)
        return self.threads

    def _try_more(self, idle: float | None) -> None:
        if self.fixed or self.threads >= self.cap or time.perf_counter() < self._next_try:
            return
        if idle is None:
            idle = self.idle_cores()
        if idle is not None and idle >= IDLE_MIN:
            self.threads = min(self.cap, self.threads + max(1, math.floor(idle + 1 - IDLE_MIN)))
            self._trying = True
            logger.debug("training threads -> %d (%.1f idle cores)", self.threads, idle)

    @contextlib.contextmanager
    def step(self) -> Iterator[None]:
        """One training or evaluation step at the governed thread count."""
        import torch  # deferred: the governor is made by modules that must not load torch

        if torch.get_num_threads() != self.threads:
            torch.set_num_threads(self.threads)
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.observe(time.perf_counter() - wall, time.process_time() - cpu)

    def observe(self, wall_s: float, cpu_s: float) -> None:
        """Count a step of ``wall_s`` seconds in which the process used ``cpu_s`` seconds of
        CPU; after :attr:`interval_s` of steps, decide (:meth:`step` calls it)."""
        self._wall += wall_s
        self._cpu += cpu_s
        self._thread_s += wall_s * self.threads
        if self._wall >= self.interval_s:
            self._decide()

    def _decide(self) -> None:
        """Drop the threads the cores could not feed over the last interval of steps."""
        share = self._cpu / (self._wall * self.threads)
        reductions = 0
        if share < SHARE_MIN and self.threads > 1:
            if self.fixed:
                self._warn(share)
            else:
                reductions = 1
                fed = max(1, math.floor(self.threads * share + 0.05))
                logger.info("training threads %d -> %d: each got %.0f %% of a core (other work "
                            "holds the cores)", self.threads, min(fed, self.threads - 1),
                            100 * share)
                self.threads = min(fed, self.threads - 1)
                if self._trying:  # the try is refuted: wait longer before the next one
                    self._backoff = min(BACKOFF_MAX_S, self._backoff * 2)
                self._next_try = time.perf_counter() + self._backoff
                self._mixed = True
        elif self._trying:  # the try held: its cores are ours
            self._backoff = BACKOFF_MIN_S
        self._trying = False
        if self._mixed and not reductions:  # a run already of two counts may take cores back
            self._try_more(None)
        self._total = ThreadUse(self._total.thread_s + self._thread_s,
                                self._total.step_s + self._wall,
                                self._total.reductions + reductions)
        self._wall = self._cpu = self._thread_s = 0.0

    def _warn(self, share: float) -> None:
        if not self._warned:
            self._warned = True
            logger.warning("training's %d threads (--threads) got %.0f %% of a core each: other "
                           "work holds the cores and every operation waits for a descheduled "
                           "thread; leave --threads out and nasbench adapts", self.threads,
                           100 * share)


def describe(threads: int | None, max_threads: int | None = None, workers: int = 1) -> str:
    """What training's threads will be, for a search's header: ``threads`` fixed, or governed
    up to ``max_threads`` (default: the usable cores) shared by ``workers``."""
    if threads is not None:
        each = max(1, threads // workers)
        return f"{each} training thread(s){' per worker' if workers > 1 else ''} (--threads)"
    cap = max(1, (max_threads or usable_cores()) // workers)
    per = " per worker" if workers > 1 else ""
    return (f"1 training thread{per}" if cap == 1 else
            f"1 to {cap} training threads{per}, as many as the host's load lets run")


_governors: dict[tuple[int | None, bool], ThreadGovernor] = {}


def governor(threads: int | None = None, cap: int | None = None) -> ThreadGovernor:
    """This process's governor for ``threads`` (a fixed count) or, when ``None``, the adaptive
    one capped at ``cap`` (default: the usable cores). One per setting, kept across trials, so
    what it learnt of the host carries over."""
    key = (threads, True) if threads is not None else (cap, False)
    if key not in _governors:
        _governors[key] = (ThreadGovernor(threads, fixed=True) if threads is not None
                           else ThreadGovernor(cap))
    return _governors[key]
