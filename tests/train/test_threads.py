"""Training threads that never oversubscribe (nasbench.train.threads), the quiet slot's bounded
wait (nasbench.measure.quiet) and the progress line's ETA."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import torch

from nasbench.nn.build import build_model
from nasbench.train.data import load_dataset
from nasbench.measure.quiet import QuietSlot
from nasbench.cli.text import ProgressLine
from nasbench.train.threads import (BACKOFF_MIN_S, SHARE_MIN, ThreadGovernor, ThreadUse, describe,
                              governor, usable_cores)
from nasbench.train.proxy import train_model
from nasbench.train.recipe import TrainConfig
from search_spaces import DataShape, UniformDraw, get_space


def test_usable_cores_within_the_machine():
    cores = usable_cores()
    assert 1 <= cores <= (os.cpu_count() or 1)
    if hasattr(os, "sched_getaffinity"):
        assert cores <= len(os.sched_getaffinity(0))


def test_adaptive_governor_starts_at_one_thread_and_adds_one_when_a_core_is_idle():
    g = ThreadGovernor(cap=4)
    assert (g.threads, g.fixed) == (1, False)
    assert g.begin(idle=0.3) == 1  # no core idle: stays
    assert g.begin(idle=1.0) == 2  # one core idle: one more
    assert g.begin(idle=2.9) == 4  # two or more idle: up to the cap
    assert g.begin(idle=3.0) == 4


def test_threads_that_do_not_get_their_cores_are_dropped_and_the_next_try_waits():
    g = ThreadGovernor(cap=2, interval_s=0.5)
    assert g.begin(idle=1.0) == 2
    g.observe(0.5, 0.5 * 2 * 0.55)  # each thread got 55 % of a core: two busy loops beside
    assert g.threads == 1 and g.usage().reductions == 1
    assert g.begin(idle=1.5) == 1  # a refuted try is not retried at once
    time.sleep(BACKOFF_MIN_S * 2 + 0.05)  # the refuted try doubled the wait
    assert g.begin(idle=1.5) == 2


def test_threads_that_get_their_cores_are_kept_and_a_run_adds_none_mid_way():
    g = ThreadGovernor(cap=2, interval_s=0.5)
    g.begin(idle=1.0)
    for _ in range(10):
        g.observe(0.1, 0.1 * 2 * 0.97)  # spinning partners count as running
    assert g.threads == 2 and g.usage().reductions == 0
    use = g.usage()
    assert use.mean_threads == pytest.approx(2.0) and use.step_s == pytest.approx(1.0)


def test_a_run_of_one_count_adds_no_thread_mid_way():
    """Threads are added as a run starts, so a run on a steady host has one thread count
    (whatever the host's idle cores now)."""
    g = ThreadGovernor(cap=2, interval_s=0.1)
    assert g.begin(idle=0.0) == 1
    for _ in range(20):
        g.observe(0.1, 0.1)
    assert g.threads == 1 and g.usage().mean_threads == pytest.approx(1.0)


def test_share_between_thresholds_drops_to_what_it_feeds():
    g = ThreadGovernor(cap=8, interval_s=0.5)
    g.begin(idle=7.5)
    assert g.threads == 8
    g.observe(0.5, 0.5 * 8 * 0.66)  # 4 runnable threads of others: 8 x 0.66 = 5.3 fed
    assert g.threads == 5
    g.observe(0.5, 0.5 * 5 * (SHARE_MIN + 0.05))
    assert g.threads == 5


def test_fixed_threads_are_kept_and_a_starved_count_warns_once(caplog):
    g = ThreadGovernor(cap=2, fixed=True, interval_s=0.5)
    assert g.begin(idle=0.0) == 2
    with caplog.at_level("WARNING", logger="nasbench.train.threads"):
        g.observe(0.5, 0.5)
        g.observe(0.5, 0.5)
    assert g.threads == 2
    warnings = [r for r in caplog.records if "leave --threads out" in r.getMessage()]
    assert len(warnings) == 1 and "50 %" in warnings[0].getMessage()


def test_fixed_threads_over_the_usable_cores_warn(caplog):
    with caplog.at_level("WARNING", logger="nasbench.train.threads"):
        ThreadGovernor(cap=usable_cores() + 1, fixed=True)
    assert any("more than the" in r.getMessage() for r in caplog.records)


def test_one_governor_per_setting_per_process():
    assert governor(None, 1) is governor(None, 1)
    assert governor(3) is governor(3) and governor(3).fixed and governor(3).cap == 3
    assert governor(None, 1) is not governor(1)


def test_thread_use_difference():
    span = ThreadUse(6.0, 4.0, 2) - ThreadUse(1.0, 1.0, 1)
    assert (span.thread_s, span.step_s, span.reductions) == (5.0, 3.0, 1)
    assert span.mean_threads == pytest.approx(5 / 3)
    assert ThreadUse().mean_threads is None


def test_describe_for_the_header():
    assert describe(3) == "3 training thread(s) (--threads)"
    assert describe(4, workers=2) == "2 training thread(s) per worker (--threads)"
    assert describe(None, 1) == "1 training thread"
    assert describe(None, 4) == "1 to 4 training threads, as many as the host's load lets run"
    assert describe(None, 4, workers=4) == "1 training thread per worker"


def test_training_records_its_threads_and_sets_them_back():
    digits = load_dataset("digits", cache_dir=None)
    arch = get_space("tiny").sample(UniformDraw(np.random.default_rng(0)), DataShape(8, 1, 10))
    before = torch.get_num_threads()
    fixed = train_model(build_model(arch, seed=0), digits, TrainConfig(epochs=1), seed=0, threads=1)
    assert fixed.threads == pytest.approx(1.0)
    assert torch.get_num_threads() == before
    governed = ThreadGovernor(cap=2)
    auto = train_model(build_model(arch, seed=0), digits, TrainConfig(epochs=1), seed=0,
                       threads=governed)
    assert 1.0 <= auto.threads <= 2.0
    assert torch.get_num_threads() == before
    if auto.threads == 1.0:  # the same thread count: the same arithmetic, the same result
        assert auto.val_accuracy_per_epoch == fixed.val_accuracy_per_epoch


# ------------------------------------------------------------------ real load, real threads

def _work(n: int = 30) -> None:
    x = torch.randn(64, 32, 16, 16)
    conv = torch.nn.Conv2d(32, 32, 3, padding=1)
    for _ in range(n):
        conv(x).sum().backward()


@pytest.mark.timing
@pytest.mark.skipif(usable_cores() < 2, reason="needs two cores")
def test_busy_loops_on_every_core_drop_training_to_one_thread():
    """Two real busy loops on this process's cores: the governor's real readings drop a
    two-thread run to one thread within its first interval."""
    cores = usable_cores()
    loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cores)]
    try:
        time.sleep(0.5)
        g = ThreadGovernor(cap=2, interval_s=0.3)
        g.threads = 2  # as a try that the host then refutes
        deadline = time.monotonic() + 20
        while g.threads == 2 and time.monotonic() < deadline:
            with g.step():
                _work(3)
        assert g.threads == 1, "two threads kept beside busy loops on every core"
        assert g.begin() == 1  # and no core is idle to try again
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()


@pytest.mark.timing
@pytest.mark.skipif(usable_cores() < 2, reason="needs two cores")
def test_a_quiet_host_gets_two_threads():
    """Nothing else running (the timing phase runs alone): a core is idle, the governor takes
    it, and two threads get their cores."""
    g = ThreadGovernor(cap=2, interval_s=0.3)
    idle = g.idle_cores(0.3)  # the first reading samples 0.3 s
    if idle is not None and idle < 1.5:
        pytest.skip(f"the host is not quiet ({idle:.1f} of 2 cores idle): run alone, as "
                    f"tests/run.sh runs the timing tests")
    time.sleep(0.3)
    assert g.begin() == 2
    for _ in range(20):
        with g.step():
            _work(3)
    assert g.threads == 2 and g.usage().reductions == 0


# ------------------------------------------------------------------------- the quiet slot

def _hold_shared(directory: str, seconds: float, started: multiprocessing.Event) -> None:
    slot = QuietSlot(directory)
    with slot.shared():
        started.set()
        time.sleep(seconds)


def test_a_measurement_waits_at_most_max_wait_then_is_taken_and_counted(tmp_path):
    """Another process holds a training step for 5 s: a measurement with a 0.3 s bound goes
    ahead after 0.3 s and counts the timeout."""
    started = multiprocessing.get_context("spawn").Event()
    other = multiprocessing.get_context("spawn").Process(target=_hold_shared,
                                                         args=(str(tmp_path), 5.0, started))
    other.start()
    try:
        assert started.wait(30)
        slot = QuietSlot(tmp_path, max_wait_s=0.3)
        start = time.monotonic()
        with slot.exclusive():
            waited = time.monotonic() - start
        assert 0.3 <= waited < 3.0
        assert slot.timeouts == 1 and slot.waited_s >= 0.3
    finally:
        other.terminate()
        other.join()


def test_a_measurement_waits_for_a_step_in_flight_and_training_waits_for_it(tmp_path):
    measurer, trainer = QuietSlot(tmp_path), QuietSlot(tmp_path)
    holding, release = threading.Event(), threading.Event()

    def step() -> None:
        with trainer.shared():
            holding.set()
            release.wait(10)

    first = threading.Thread(target=step)
    first.start()
    assert holding.wait(10)
    threading.Timer(0.3, release.set).start()
    with measurer.exclusive():  # waits for the step in flight
        first.join()
        late = threading.Thread(target=_one_step, args=(trainer,))
        late.start()  # a step asked for now waits for the measurement
        time.sleep(0.3)
    late.join(10)
    assert measurer.waited_s >= 0.25 and measurer.timeouts == 0
    assert trainer.shared_waited_s >= 0.25


def _one_step(slot: QuietSlot) -> None:
    with slot.shared():
        pass


# ---------------------------------------------------------------------------- the ETA

def test_eta_follows_the_recent_pace():
    line = ProgressLine(budget=40, done=0)
    start = line.started
    for k in range(1, 11):  # ten architectures at 1 s each
        line.eta(k, start + k)
    assert line.eta(10, start + 10) == pytest.approx(30.0)
    t = start + 10
    for k in range(11, 19):  # then the host gets busy: 5 s each
        t += 5
        eta = line.eta(k, t)
    assert eta == pytest.approx(5.0 * (40 - 18))  # the last 8 set the pace, not the mean


def test_eta_unknown_before_the_first_architecture():
    line = ProgressLine(budget=10, done=3)
    assert line.eta(3, line.started + 5) != line.eta(3, line.started + 5)  # NaN
    assert line.eta(4, line.started + 2) == pytest.approx(2.0 * 6)
