"""Many architectures measured together: ``profile --from FILE``.

Every architecture is built once and timed in rounds, each round visiting every one in a
fresh random order (:func:`nasbench.measure.latency.interleaved`), so that all of them see the same
states of the machine; an architecture's latency is the median of its round medians, with the
order-statistics 95 % interval of that median.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from nasbench.spec.arch import Arch
from nasbench.nn.build import build_model
from nasbench.measure.conditions import allocator_state, current_conditions
from nasbench.measure.hostload import HostWatch
from nasbench.measure.latency import (BURST_S, WARMUP_S, Probe, check_rounds, effective_clock, interleaved,
                              median_interval)
from nasbench.nn.memory import check_arch
from nasbench.measure.profiling import LatencyOptions
from nasbench.measure.quiet import QuietSlot
from nasbench.spec.references import load_arch
from nasbench.study.results import results_frame
from nasbench.study.rules import measured_mask
from nasbench.study.storage import open_run

MAX_ARCHS = 2000
"""The most architectures one ``profile --from`` measures."""


@dataclass(frozen=True)
class Profiled:
    """Every architecture's interleaved latency, and what it was measured under."""

    rows: list[dict[str, Any]]
    rounds: int
    seconds: float
    conditions: dict[str, Any] = field(default_factory=dict)
    host: dict[str, Any] = field(default_factory=dict)

    def to_list(self) -> list[dict[str, Any]]:
        """The JSON of ``profile --from --json``: one object per architecture, with the
        conditions and the host's load on each."""
        return [{**row, "rounds": self.rounds, "conditions": self.conditions, "host": self.host}
                for row in self.rows]


def read_archs(source: str | Path, runs_dir: str | Path = "runs") -> list[Arch]:
    """The architectures of ``source``: a file with one architecture per line (a string, a
    reference name or a JSON file; blank lines and ``#`` comments are skipped), or a run
    folder (or study name, or storage URL): every complete trial's architecture, once each, in
    trial order. Raises ``ValueError`` naming the problem (and the line) and the fix."""
    path = Path(source)
    if "://" in str(source) or path.is_dir() or (not path.exists() and (Path(runs_dir) / str(source)).is_dir()):
        frame = results_frame(open_run(str(source), runs_dir=runs_dir))
        done = frame[measured_mask(frame)] if not frame.empty else frame
        if done.empty:
            raise ValueError(f"{source} has no complete trial to measure; run or resume its search "
                             f"first")
        return [load_arch(a) for a in dict.fromkeys(done["arch"])]
    if not path.is_file():
        raise ValueError(f"--from {source}: no such file or run folder; give a file with one "
                         f"architecture per line, or a run folder")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"--from {source} cannot be read ({exc}); give a text file") from None
    archs = []
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            archs.append(load_arch(text))
        except ValueError as exc:
            raise ValueError(f"--from {source}, line {number}: {exc}") from None
        if len(archs) > MAX_ARCHS:
            raise ValueError(f"--from {source} holds more than {MAX_ARCHS} architectures; split it")
    if not archs:
        raise ValueError(f"--from {source} holds no architecture; give one per line")
    return archs


def profile_many(archs: list[Arch], options: LatencyOptions, rounds: int = 10, seed: int = 0,
                 slot: QuietSlot | None = None, memory_check: bool = True,
                 on_round: Callable[[str, int, int], None] | None = None) -> Profiled:
    """Measure every architecture of ``archs`` interleaved, ``rounds`` rounds (see the module's
    docstring); duplicates are measured once. Raises ``ValueError`` before anything is built
    on bad rounds or an architecture the machine cannot hold."""
    check_rounds(rounds)
    unique = list({a.to_string(): a for a in archs}.values())
    if memory_check:
        for arch in unique:
            check_arch(arch, options.batch, training=False, device=options.device)
    start = time.perf_counter()
    probes = {a.to_string(): Probe(build_model(a, seed=0), (a.in_channels, a.resolution, a.resolution),
                                   options.device, options.threads, options.batch, options.dtype,
                                   options.memory_format, options.clock) for a in unique}
    walls: dict[str, list[float]] = {k: [] for k in probes}

    def record_walls(done: int, total: int) -> None:
        for key, probe in probes.items():
            if probe.last_wall_ms is not None and len(walls[key]) < done:
                walls[key].append(probe.last_wall_ms)
        if on_round is not None:
            on_round("rounds", done, total)

    with HostWatch() as watch:
        for probe in probes.values():  # the first runs of a fresh model are slower: not timed
            probe.burst(min_time_s=0.01, warmup_s=0.01, min_samples=2)
        medians = interleaved(probes, rounds, BURST_S, WARMUP_S, seed, slot, record_walls)
    clock = effective_clock(options.device, options.clock)
    rows = []
    for key, values in medians.items():
        ordered = sorted(values)
        low, high = median_interval(ordered)
        wall = float(np.median(walls[key])) if walls[key] else math.nan
        rows.append({"arch": key, "latency_ms": float(np.median(ordered)),
                     "latency_ci_low_ms": float(low), "latency_ci_high_ms": float(high),
                     "latency_wall_ms": wall, "round_ms": [float(v) for v in values]})
    ratio = (float(np.median([r["latency_wall_ms"] / r["latency_ms"] for r in rows]))
             if clock == "cpu" else None)
    conditions = current_conditions(options.device, options.threads, options.batch, options.dtype,
                                    options.memory_format, allocator_state(), clock).to_dict()
    return Profiled(rows, rounds, time.perf_counter() - start, conditions,
                    watch.load(ratio, clock).to_dict())


def profile_file(source: str | None, options: LatencyOptions, rounds: int = 10,
                 slot: QuietSlot | None = None, memory_check: bool = True,
                 on_round: Callable[[str, int, int], None] | None = None,
                 runs_dir: str | Path = "runs") -> Profiled:
    """``profile --from``: the architectures of ``source`` (:func:`read_archs`) measured
    interleaved (:func:`profile_many`). Raises ``ValueError`` on bad rounds or a bad source
    before anything is timed."""
    check_rounds(rounds)
    return profile_many(read_archs(source, runs_dir), options, rounds, slot=slot,
                        memory_check=memory_check, on_round=on_round)
