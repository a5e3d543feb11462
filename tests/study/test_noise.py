"""Noise-aware fronts: intervals, the front within noise, the interleaved confirmation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nasbench.workflows.confirm import candidates, confirm_study, remeasure
from nasbench.study.study_record import Confirmation, StudyRecord
from nasbench.study.noise import noise_front_mask, seeds_interval, wilson_interval
from nasbench.study.results import annotate, pareto_mask, results_frame, select_trial
from nasbench.workflows.search import run_search
from nasbench.workflows.search_study import open_study
from nasbench.workflows.settings import SearchConfig

ROOT = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------------------ pure functions

def test_wilson_interval_matches_the_textbook() -> None:
    low, high = wilson_interval(np.array([0.5, 0.98, 1.0, np.nan]), 100)
    assert low[0] == pytest.approx(0.4038, abs=1e-4) and high[0] == pytest.approx(0.5962, abs=1e-4)
    assert low[1] == pytest.approx(0.9300, abs=1e-4) and high[1] == pytest.approx(0.9945, abs=1e-4)
    assert high[2] == 1.0 and low[2] == pytest.approx(0.9630, abs=1e-4)  # never past 1
    assert np.isnan(low[3]) and np.isnan(high[3])
    # The issue's own example: 0.98 on 359 images is about ±1.4 %.
    low, high = wilson_interval(np.array([0.98]), 359)
    assert 0.012 < (high[0] - low[0]) / 2 < 0.016
    wide, _ = wilson_interval(np.array([0.9]), 36)
    narrow, _ = wilson_interval(np.array([0.9]), 3600)
    assert wide[0] < narrow[0]  # fewer images: wider


def test_seeds_interval_widens_with_the_seeds_spread() -> None:
    calm = seeds_interval(0.9, 0.0, 3, 360)
    shaky = seeds_interval(0.9, 0.05, 3, 360)
    assert calm[0] < 0.9 < calm[1] and shaky[0] < calm[0] and shaky[1] > calm[1]


def test_noise_front_by_hand() -> None:
    # 0: fast, accurate. 1: slower and far worse: dominated beyond noise.
    # 2: slower and slightly worse, intervals overlap: within noise. 3: not eligible.
    acc = np.array([0.95, 0.60, 0.94, 0.99])
    lat = np.array([1.00, 2.00, 1.05, 0.50])
    half_acc, half_lat = 0.02, 0.03
    mask = noise_front_mask(acc - half_acc, acc + half_acc, lat - half_lat, lat + half_lat,
                            np.array([True, True, True, False]))
    assert mask.tolist() == [True, False, True, False]
    assert pareto_mask(acc, lat, np.array([True, True, True, False])).tolist() == [True, False, False, False]


@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0.1, 10), st.floats(0, 0.2), st.floats(0, 2)),
                min_size=1, max_size=25))
def test_the_point_front_is_within_noise_and_zero_width_intervals_give_the_point_front(rows: list) -> None:
    acc = np.array([r[0] for r in rows])
    lat = np.array([r[1] for r in rows])
    da = np.array([r[2] for r in rows])
    dl = np.array([r[3] for r in rows])
    ok = np.ones(len(rows), bool)
    front = pareto_mask(acc, lat, ok)
    noisy = noise_front_mask(acc - da, acc + da, lat - dl, lat + dl, ok)
    assert not (front & ~noisy).any()  # no point-front trial is dominated beyond noise
    exact = noise_front_mask(acc, acc, lat, lat, ok)
    # With no noise, "not dominated" is the Pareto front (ties in both objectives kept by both).
    assert (exact == front).all()
    wider = noise_front_mask(acc - 2 * da, acc + 2 * da, lat - 2 * dl, lat + 2 * dl, ok)
    assert not (noisy & ~wider).any()  # wider intervals never shrink the set


@given(st.lists(st.tuples(st.integers(0, 6), st.integers(1, 6), st.integers(0, 2), st.integers(0, 2),
                          st.booleans()), min_size=1, max_size=30))
def test_noise_front_equals_the_definition_pair_by_pair(rows: list) -> None:
    """The sweep against the definition checked on every pair (integers: many exact ties)."""
    acc = np.array([r[0] for r in rows], float)
    lat = np.array([r[1] for r in rows], float)
    da = np.array([r[2] for r in rows], float)
    dl = np.array([r[3] for r in rows], float)
    ok = np.array([r[4] for r in rows])
    a_lo, a_hi, l_lo, l_hi = acc - da, acc + da, lat - dl, lat + dl
    expected = np.array([ok[i] and not any(
        ok[j] and a_lo[j] >= a_hi[i] and l_hi[j] <= l_lo[i] and (a_lo[j] > a_hi[i] or l_hi[j] < l_lo[i])
        for j in range(len(rows))) for i in range(len(rows))])
    assert (noise_front_mask(a_lo, a_hi, l_lo, l_hi, ok) == expected).all()


def _frame() -> pd.DataFrame:
    """A results table of four trials, in the columns :func:`annotate` reads."""
    from nasbench.study.results import COLUMNS

    rows = [dict(number=i, state="COMPLETE", val_acc=a, feasible=True, latency_ms=l,
                 latency_median_ci_low_ms=l * 0.98, latency_median_ci_high_ms=l * 1.02,
                 stopped_early=False, reused_from=None, arch="x")
            for i, (a, l) in enumerate([(0.95, 1.0), (0.94, 1.5), (0.60, 2.0), (0.96, 3.0)])]
    return pd.DataFrame(rows, columns=list(COLUMNS))


def test_annotate_uses_confirmed_figures_for_the_front() -> None:
    plain = annotate(_frame(), 360)
    assert plain["pareto"].tolist() == [True, False, False, True]
    assert plain["pareto_noise"].tolist() == [True, True, False, True]  # 1 is within noise of 0
    assert not plain["confirmed"].any() and plain["val_acc_ci_low"].notna().all()
    # Re-measured interleaved, trial 0 is in truth slower than trial 1: the front changes.
    confirmation = Confirmation(rounds=15, seeds=2, seconds=1.0, conditions={}, trials={
        0: {"latency_ms": 2.5, "ci_low_ms": 2.4, "ci_high_ms": 2.6, "round_ms": [2.5] * 15,
            "val_acc_seeds": [0.95, 0.93]},
        1: {"latency_ms": 1.4, "ci_low_ms": 1.35, "ci_high_ms": 1.45, "round_ms": [1.4] * 15}})
    frame = annotate(_frame(), 360, confirmation)
    assert frame["confirmed"].tolist() == [True, True, False, False]
    assert frame.loc[0, "latency_ms"] == 2.5 and frame.loc[0, "latency_search_ms"] == 1.0
    assert frame.loc[0, "val_acc"] == pytest.approx(0.94) and frame.loc[0, "val_acc_search"] == 0.95
    assert frame.loc[0, "val_acc_seeds"] == (0.95, 0.93)
    assert frame["pareto"].tolist() == [False, True, False, True]
    pick = select_trial(frame, pick="knee")
    assert bool(pick["confirmed"])  # the knee is chosen among confirmed trials


def test_interleaving_alternates_the_candidates_in_fresh_orders() -> None:
    import torch

    calls: list[object] = []

    class Probe(torch.nn.Module):
        def __init__(self, key: int) -> None:
            super().__init__()
            self.key = key  # survives the copy measure_latency makes

        def forward(self, x):  # type: ignore[no-untyped-def]
            calls.append(self.key)
            return x

    models = {k: Probe(k) for k in range(4)}
    medians = remeasure(models, (1, 2, 2), SearchConfig(), rounds=5, seed=0,
                          on_round=lambda r, n: calls.append("end"))
    assert all(len(v) == 5 for v in medians.values())
    rounds, current = [], []
    for c in calls:
        if c == "end":
            rounds.append([k for i, k in enumerate(current) if i == 0 or current[i - 1] != k])
            current = []
        else:
            current.append(c)
    assert len(rounds) == 5
    assert all(sorted(r) == [0, 1, 2, 3] for r in rounds)  # round robin: each once per round
    assert len({tuple(r) for r in rounds}) > 1  # in fresh random orders


# ------------------------------------------------------------------------- on a real study

@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> SearchConfig:
    root = tmp_path_factory.mktemp("noise")
    config = SearchConfig(space="tiny", epochs=2, threads=1, latency_time_s=0.05, budget=6,
                          sampler="random", seed=3, runs_dir=str(root), study="noisy")
    run_search(config)
    return config


def test_confirmation_is_stored_and_used(searched: SearchConfig) -> None:
    study = open_study(searched)
    assert study.user_attrs["n_val"] == 360
    before = results_frame(study)
    chosen = candidates(before)
    assert len(chosen) >= 1 and chosen["pareto"].sum() == before["pareto"].sum()
    result = confirm_study(study, before, rounds=6, seeds=2)
    assert set(result.trials) == set(chosen["number"])
    for figures in result.trials.values():
        assert len(figures["round_ms"]) == 6
        assert figures["ci_low_ms"] <= figures["latency_ms"] <= figures["ci_high_ms"]
        assert len(figures["val_acc_seeds"]) == 2
    assert StudyRecord.of(open_study(searched)).confirmation == result
    after = results_frame(open_study(searched))
    assert after.loc[after["number"].isin(result.trials), "confirmed"].all()
    assert (after.loc[after["confirmed"], "latency_ms"].to_numpy()
            == [result.trials[n]["latency_ms"] for n in after.loc[after["confirmed"], "number"]]).all()
    assert (after["val_acc_search"] == before["val_acc_search"]).all()  # first figures kept
    # Not stored: a session to compare (benchmarks/front_stability.py) leaves the study as is.
    confirm_study(study, after, rounds=5, store=False)
    assert StudyRecord.of(open_study(searched)).confirmation == result


@pytest.mark.e2e
def test_confirm_command_and_results_show_intervals(searched: SearchConfig) -> None:
    run = str(Path(searched.runs_dir) / "noisy")
    proc = subprocess.run([sys.executable, "cli.py", "confirm", run, "--confirm-rounds", "5"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Confirming" in proc.stderr and "Confirmed in" in proc.stdout
    assert "more on it within noise" in proc.stdout and "[95% interval]" in proc.stdout
    table = pd.read_csv(Path(run) / "results.csv")
    assert {"val_acc_ci_low", "latency_ci_high_ms", "pareto_noise", "confirmed"} <= set(table.columns)
    assert table["confirmed"].any()
    proc = subprocess.run([sys.executable, "cli.py", "results", run, "--pareto"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "Wilson 95 % interval on 360 validation images" in proc.stdout
