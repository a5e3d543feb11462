"""Real latency: eval + inference mode, fixed threads, warm-up, time-bounded repeats, statistics.

CPU timings time blocks of runs with ``timeit`` and ``time.perf_counter`` (see ``_cpu_block_timer`` for
why not ``torch.utils.benchmark``'s autorange); CUDA timings use CUDA events around the runs and
synchronize on them.
Every result carries the conditions it was measured under.
"""

from __future__ import annotations

import copy
import logging
import time
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from nasbench.measure.conditions import allocator_state, check_device, check_threads, current_conditions
from nasbench.measure.hostload import HostWatch
from nasbench.measure.stats import (CLOCKS, DEFAULT_CLOCK, LatencyResult, LatencyStats,
                                    _quantile, effective_clock, median_interval, precise_enough,
                                    summarize)
from nasbench.measure.quiet import QuietSlot, hold_exclusive

__all__ = ["BURST_S", "CLOCKS", "DEFAULT_CLOCK", "DTYPES", "LatencyResult", "LatencyStats",
           "MAX_BATCH", "MEMORY_FORMATS", "Probe", "ROUNDS", "WARMUP_S", "check_options",
           "check_rounds", "effective_clock", "interleaved", "measure_latency", "median_interval",
           "precise_enough", "prepare", "summarize"]

logger = logging.getLogger(__name__)

DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16,
}
MAX_BATCH = 65_536
"""The largest batch a latency is measured at."""
MEMORY_FORMATS: dict[str, torch.memory_format] = {
    "contiguous": torch.contiguous_format, "channels_last": torch.channels_last,
}
_BLOCK_S = 0.005  # a sample averages enough runs to last about this long (1 run if longer)
def check_options(device: str, threads: int, batch: int, dtype: str, memory_format: str) -> None:
    """Raise ``ValueError`` naming the bad latency option and the fix."""
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; choose one of {', '.join(DTYPES)}")
    if memory_format not in MEMORY_FORMATS:
        raise ValueError(f"unknown memory format {memory_format!r}; choose one of "
                         f"{', '.join(MEMORY_FORMATS)}")
    check_threads(threads)
    if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= MAX_BATCH:
        raise ValueError(f"--batch must be between 1 and {MAX_BATCH}, got {batch}")
    check_device(device)
    if dtype == "float16" and device == "cpu":
        raise ValueError("float16 is for CUDA; on CPU use float32 or bfloat16")


def prepare(model: nn.Module, input_shape: tuple[int, int, int], device: str = "cpu",
            threads: int = 1, batch: int = 1, dtype: str = "float32",
            memory_format: str = "contiguous") -> tuple[nn.Module, torch.Tensor]:
    """A copy of ``model`` in eval mode on ``device`` in ``dtype`` and ``memory_format``, and a
    random input of shape ``(batch, *input_shape)`` in the same: what every latency figure
    times. Raises ``ValueError`` on options that cannot be measured (:func:`check_options`)."""
    check_options(device, threads, batch, dtype, memory_format)
    fmt, torch_dtype = MEMORY_FORMATS[memory_format], DTYPES[dtype]
    net = copy.deepcopy(model).eval().to(device=device, dtype=torch_dtype, memory_format=fmt)
    x = torch.randn((batch, *input_shape), device=device, dtype=torch_dtype).to(memory_format=fmt)
    return net, x


def measure_latency(model: nn.Module, input_shape: tuple[int, int, int], *, device: str = "cpu",
                    threads: int = 1, batch: int = 1, dtype: str = "float32",
                    memory_format: str = "contiguous", min_time_s: float = 1.0,
                    max_time_s: float = 10.0, min_samples: int = 20,
                    warmup_s: float = 0.3, precision: float | None = None,
                    clock: str = DEFAULT_CLOCK) -> LatencyResult:
    """Measure the forward latency of ``model`` on inputs of shape ``(batch, *input_shape)``.

    The model is copied (the caller's is untouched), put in eval mode and run under
    ``torch.inference_mode``. After ``warmup_s`` of warm-up, samples are taken until at least
    ``min_time_s`` has passed and ``min_samples`` were collected, or ``max_time_s`` ran out.
    Each sample is the mean of a block of runs lasting about 5 ms (one run for models of 5 ms
    or more); on CUDA blocks are timed with CUDA events. With ``precision`` (e.g. 0.02),
    sampling also stops as soon as ``min_samples`` were taken and the 95 % interval of the
    median lies within ± that fraction of it: ``min_time_s`` is then a cap, not a fixed cost.
    ``threads`` fixes torch's intra-op thread count for the measurement. The allocator is recorded as it is (see
    :func:`nasbench.measure.conditions.tune_allocator`, which entry points apply once). Each block is timed
    on ``clock`` (see :data:`CLOCKS`) and on the wall; the result carries both medians and the
    host's load over the measurement (:class:`nasbench.measure.hostload.HostLoad`).
    """
    clock = effective_clock(device, clock)
    allocator = "cuda caching allocator" if device != "cpu" else allocator_state()
    net, x = prepare(model, input_shape, device, threads, batch, dtype, memory_format)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.inference_mode(), HostWatch() as watch:
            timer = (_cpu_block_timer(net, x, clock, threads) if device == "cpu"
                     else _cuda_block_timer(net, x))
            sync = None if device == "cpu" else torch.cuda.synchronize
            times_ms, wall_ms, number = _sample(lambda: net(x), timer, sync, min_time_s, max_time_s,
                                                min_samples, warmup_s, precision)
    finally:
        torch.set_num_threads(previous_threads)
    conditions = current_conditions(device, threads, batch, dtype, memory_format, allocator, clock)
    stats = summarize(times_ms)
    wall = _quantile(sorted(wall_ms), 0.5)
    host = watch.load(wall / stats.median_ms if clock == "cpu" and stats.median_ms > 0 else None,
                      clock)
    return LatencyResult(stats, number, conditions, wall, host)


def _sample(run: Callable[[], object], time_block: Callable[[int], tuple[float, float]],
            sync: Callable[[], object] | None, min_time_s: float, max_time_s: float,
            min_samples: int, warmup_s: float,
            precision: float | None = None) -> tuple[list[float], list[float], int]:
    """Warm up, size the blocks to about 5 ms, then time blocks until the stop rule holds.

    ``time_block(number)`` runs the model ``number`` times and returns the seconds it took on
    the measurement's clock and on the wall. Returns the per-run times in ms on each (one per
    block) and the runs per block. The stop rule's time is the wall's.
    """
    start = time.perf_counter()
    count, single = 0, 0.0
    while count < 3 or time.perf_counter() - start < warmup_s:
        t0 = time.perf_counter()
        run()
        if sync is not None:
            sync()
        single = time.perf_counter() - t0
        count += 1
    number = max(1, round(_BLOCK_S / max(single, 1e-9)))
    times_ms: list[float] = []
    wall_ms: list[float] = []
    start = time.perf_counter()
    while True:
        clock_s, wall_s = time_block(number)
        times_ms.append(clock_s / number * 1e3)
        wall_ms.append(wall_s / number * 1e3)
        elapsed = time.perf_counter() - start
        if (elapsed >= min_time_s and len(times_ms) >= min_samples) or elapsed >= max_time_s:
            return times_ms, wall_ms, number
        if (precision is not None and len(times_ms) >= min_samples and len(times_ms) % 5 == 0
                and precise_enough(times_ms, precision)):
            return times_ms, wall_ms, number


class Probe:
    """One model ready to be timed again and again in one session (copied, in eval mode, on
    its device, with its input), for interleaved measurements: each :meth:`burst` warms it up
    briefly and returns the median of a few blocks, as :func:`measure_latency` would."""

    def __init__(self, model: nn.Module, input_shape: tuple[int, int, int], device: str = "cpu",
                 threads: int = 1, batch: int = 1, dtype: str = "float32",
                 memory_format: str = "contiguous", clock: str = DEFAULT_CLOCK) -> None:
        self.clock = effective_clock(device, clock)
        self.net, self.x = prepare(model, input_shape, device, threads, batch, dtype, memory_format)
        self.device, self.threads = device, threads
        self.timer = (_cpu_block_timer(self.net, self.x, self.clock, threads) if device == "cpu"
                      else _cuda_block_timer(self.net, self.x))
        self.last_wall_ms: float | None = None
        """The median wall time of the last burst (the burst's own figure on ``wall``)."""

    def burst(self, min_time_s: float = 0.05, warmup_s: float = 0.02, min_samples: int = 5) -> float:
        """Median ms of one forward pass over ``min_time_s`` of blocks, after ``warmup_s``."""
        previous_threads = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            with torch.inference_mode():
                sync = None if self.device == "cpu" else torch.cuda.synchronize
                times_ms, wall_ms, _ = _sample(lambda: self.net(self.x), self.timer, sync,
                                               min_time_s, 10 * min_time_s, min_samples, warmup_s)
        finally:
            torch.set_num_threads(previous_threads)
        self.last_wall_ms = _quantile(sorted(wall_ms), 0.5)
        return _quantile(sorted(times_ms), 0.5)


def _cpu_block_timer(net: nn.Module, x: torch.Tensor, clock: str,
                     threads: int) -> Callable[[int], tuple[float, float]]:
    """Blocks of runs timed on ``clock`` and on the wall (``time.perf_counter``).

    The CPU clock is ``time.thread_time`` with one thread (torch runs the model in the calling
    thread) and ``time.process_time`` with several (its pool's threads too).
    ``torch.utils.benchmark``'s ``blocked_autorange`` sizes blocks so that timer overhead stays
    under 0.01%, which for sub-millisecond models means blocks of 100 runs and a handful of
    samples per second, and its ``timeit`` adds two warm-up runs to every call. Blocks of about
    5 ms keep the timer overhead under 0.1% and give many samples for the median and spread.
    """
    cpu = time.thread_time if threads == 1 else time.process_time
    wall = time.perf_counter

    def time_block(number: int) -> tuple[float, float]:
        if clock == "wall":
            w0 = wall()
            for _ in range(number):
                net(x)
            elapsed = wall() - w0
            return elapsed, elapsed
        c0, w0 = cpu(), wall()
        for _ in range(number):
            net(x)
        return cpu() - c0, wall() - w0
    return time_block


def _cuda_block_timer(net: nn.Module, x: torch.Tensor) -> Callable[[int], tuple[float, float]]:
    """Blocks of runs between two CUDA events, synchronized on the end event (wall time on the
    GPU, returned as both of a block's figures)."""
    def time_block(number: int) -> tuple[float, float]:
        begin = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        begin.record()
        for _ in range(number):
            net(x)
        end.record()
        end.synchronize()
        elapsed = begin.elapsed_time(end) / 1e3
        return elapsed, elapsed
    return time_block


ROUNDS = (2, 1000)
"""The least and most rounds of an interleaved measurement (two at least: the interval of a
median, and the two halves of a ceiling, need several)."""
BURST_S = 0.05
"""Seconds of timed runs per model per round of an interleaved measurement."""
WARMUP_S = 0.02
"""Seconds of untimed runs before each burst."""


def check_rounds(rounds: int, option: str = "--rounds") -> None:
    """Raise ``ValueError`` unless ``rounds`` is a whole number within :data:`ROUNDS`."""
    low, high = ROUNDS
    if isinstance(rounds, bool) or not isinstance(rounds, int) or not low <= rounds <= high:
        raise ValueError(f"{option} must be between {low} and {high}, got {rounds}")


def interleaved(probes: dict[Any, Probe], rounds: int, burst_s: float = BURST_S,
                warmup_s: float = WARMUP_S, seed: int = 0, slot: QuietSlot | None = None,
                on_round: Callable[[int, int], None] | None = None) -> dict[Any, list[float]]:
    """The one protocol for comparing models: ``rounds`` rounds, each timing every probe for a
    burst of ``burst_s`` after ``warmup_s``, in a fresh random order (seeded by ``seed``), all
    in this session, holding the machine's quiet ``slot`` alone during each burst. Every
    model so sees the same states of the machine. Returns each probe's burst medians, in
    round order (:meth:`Probe.last_wall_ms` holds the last burst's wall time)."""
    rng = np.random.default_rng(seed)
    keys = list(probes)
    medians: dict[Any, list[float]] = {k: [] for k in keys}
    for r in range(rounds):
        for i in rng.permutation(len(keys)):
            key = keys[int(i)]
            with hold_exclusive(slot):
                medians[key].append(probes[key].burst(min_time_s=burst_s, warmup_s=warmup_s,
                                                      min_samples=2))
        if on_round is not None:
            on_round(r + 1, rounds)
    return medians
