"""The tabular benchmark and replay, on a 12-architecture space of the tests' own."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import optuna
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nasbench.workflows.bench_run import run_bench
from nasbench.bench.table import load_bench
from nasbench.workflows.settings import BenchConfig
from nasbench.workflows.replay import replay, replay_once, summarize
from nasbench.study.results import hypervolume, pareto_mask, results_frame
from nasbench.study.storage import open_run
from nasbench.errors import SearchError
from nasbench.workflows.settings import SearchConfig
from search_spaces import SPACES, StageChoices, TinySpace

ROOT = Path(__file__).resolve().parents[2]
_MINI = (
    StageChoices(kinds=("conv", "ds", "ir"), kernels=(3, 5), expansions=(3.0,), se_ratios=(0.0,),
                 depths=(1,), widths=(8,)),
    StageChoices(kinds=("conv", "ds"), kernels=(3,), expansions=(3.0,), se_ratios=(0.0,),
                 depths=(1,), widths=(16,)),
)


@dataclass(frozen=True)
class MiniSpace(TinySpace):
    """Twelve architectures: quick to bench in a test."""

    stages: tuple = _MINI
    name: str = "mini"


QUICK = dict(space="mini", epochs=2, threads=1, latency_time_s=0.05)


@pytest.fixture(scope="module")
def mini(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    SPACES["mini"] = MiniSpace
    root = tmp_path_factory.mktemp("bench")
    config = BenchConfig(**QUICK, runs_dir=str(root))
    import os
    import signal

    import nasbench.workflows.bench_run as bench_module

    calls = {"n": 0}
    real_train = bench_module.train_model

    def train_then_ctrl_c(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 7:  # Ctrl-C while the 4th architecture trains
            os.kill(os.getpid(), signal.SIGINT)
        return real_train(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bench_module, "train_model", train_then_ctrl_c)
        with pytest.raises(KeyboardInterrupt):
            run_bench(config)
    outcome = run_bench(config)  # the same command resumes
    yield config, outcome
    SPACES.pop("mini", None)


def test_bench_evaluates_every_architecture_once(mini) -> None:  # type: ignore[no-untyped-def]
    config, outcome = mini
    study = optuna.load_study(study_name=config.study_name, storage=config.storage_url)
    complete = [t for t in study.get_trials() if t.state.name == "COMPLETE"]
    first = [t for t in complete if t.user_attrs["bench_pass"] == 1]
    assert len(first) == 12 and len({t.user_attrs["arch"] for t in first}) == 12  # none twice
    assert len(complete) == 24
    interrupted = [t for t in study.get_trials() if t.state.name == "FAIL"]
    assert [t.user_attrs["fail_reason"] for t in interrupted] == [
        "interrupted by the user (Ctrl-C); not retried"]  # and its pass was queued again
    table = outcome.table
    assert len(table) == 12 and table["complete"].all()
    for k in (0, 1):
        assert table[f"val_acc_per_epoch_seed{k}"].map(len).eq(2).all()
    assert (table["val_acc_std"] >= 0).all() and table["val_acc_mean"].between(0, 1).all()
    assert (table["latency_ms_pass1"] > 0).all() and (table["latency_ms_pass2"] > 0).all()
    assert np.allclose(table["latency_ms"], (table["latency_ms_pass1"] + table["latency_ms_pass2"]) / 2)
    assert table["test_acc_mean"].between(0, 1).all() and (table["train_time_s"] > 0).all()
    # The passes ran in different orders.
    order = [[t.params["index"] for t in complete if t.params["pass"] == p] for p in (1, 2)]
    assert sorted(order[0]) == sorted(order[1]) and order[0] != order[1]
    expected = pareto_mask(table["val_acc_mean"].to_numpy(), table["latency_ms"].to_numpy(),
                           np.ones(12, bool))
    assert list(table["pareto"]) == list(expected)
    reread, meta = load_bench(config.run_dir)
    assert list(reread["arch"]) == list(table["arch"]) and meta["whole_space"]
    assert meta["reference_point"]["latency_ms"] == pytest.approx(1.1 * table["latency_ms"].max())
    csv = (config.run_dir / "table.csv").read_text()
    assert csv.splitlines()[0].startswith("arch,pareto,")


@pytest.mark.e2e
def test_results_shows_a_bench(mini) -> None:  # type: ignore[no-untyped-def]
    config, outcome = mini
    proc = subprocess.run([sys.executable, "cli.py", "results", str(config.run_dir), "--pareto"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert f"12 of 12 architectures complete, {int(outcome.table['pareto'].sum())} on the exact front" \
        in proc.stdout
    for arch in outcome.table[outcome.table["pareto"]]["arch"]:
        assert arch in proc.stdout


def test_replay_is_deterministic_and_reaches_the_whole_front(mini) -> None:  # type: ignore[no-untyped-def]
    table, meta = load_bench(mini[0].run_dir)
    config = SearchConfig(space="mini", sampler="tpe", seed=3, budget=6)
    a, b = replay_once(table, meta, config, (3,)), replay_once(table, meta, config, (3,))
    assert a.numbers == b.numbers and a.fractions == b.fractions
    assert 0 < a.fractions[6] <= 1 and a.fractions[3] <= a.fractions[6]
    everything = replay_once(table, meta, SearchConfig(space="mini", sampler="random", seed=1,
                                                       budget=12), (6,))
    assert sorted(everything.numbers) == sorted(table["arch"]) and everything.fractions[12] == 1.0
    runs = replay(table, meta, ("random", "nsga2"), budget=12, repeats=2)
    summary = summarize(runs)
    assert set(summary["sampler"]) == {"random", "nsga2"}
    assert (summary.loc[summary["architectures"] == 12, "hv_fraction_median"] == 1.0).all()
    # A constraint: the fraction is of the feasible exact front, and still reaches 1.
    limit = float(table["latency_ms"].median())
    constrained = replay(table, meta, ("random",), budget=12, repeats=1,
                         constraints={"max_latency_ms": limit})
    assert constrained[0].fractions[12] == 1.0


def test_a_sample_bench_is_refused_by_replay(mini, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = BenchConfig(**{**QUICK, "epochs": 1}, sample=3, passes=2, runs_dir=str(tmp_path),
                         latency_threads=1)
    run_bench(config)
    table, meta = load_bench(config.run_dir)
    assert len(table) == 3 and not meta["whole_space"]
    with pytest.raises(SearchError, match="whole enumerable space"):
        replay_once(table, meta, SearchConfig(space="mini", budget=2), (1,))


@given(st.lists(st.tuples(st.integers(1, 10), st.integers(1, 10)), min_size=1, max_size=12))
def test_hypervolume_equals_brute_force_and_optuna(points: list) -> None:
    from optuna._hypervolume import compute_hypervolume

    acc = np.array([p[0] / 10 for p in points])
    lat = np.array([float(p[1]) for p in points])
    ref = 11.0
    # Brute force: count the unit-wide latency columns and 0.1-high accuracy rows dominated.
    cells = sum(0.1 * 1.0 for a in range(1, 11) for t in range(1, 11)
                if any(acc[i] >= a / 10 and lat[i] <= t for i in range(len(points))))
    ours = hypervolume(acc, lat, ref)
    assert ours == pytest.approx(cells)
    losses = np.column_stack([-acc, lat])
    assert ours == pytest.approx(compute_hypervolume(losses, np.array([0.0, ref])))


@pytest.mark.e2e
@pytest.mark.parametrize("args,words", [
    (["bench", "--seeds", "0"], "--seeds must be between 1 and 20"),
    (["bench", "--space", "mixed"], "too many to evaluate all; add --sample N"),
    (["bench", "--sample", "1000"], "--sample 1000 is larger than space 'tiny'"),
    (["replay", "{tmp}/nowhere"], "no bench table at"),
    (["replay", "{tmp}"], "is not a bench table"),
    (["replay", "{bench}", "--budget", "0"], "--budget must be"),
    (["replay", "{bench}", "--sampler", "cmaes"], "unknown sampler cmaes"),
    (["replay", "{bench}", "--epochs", "3"], "--epochs must be between 1 and the table's 2, got 3"),
])
def test_bench_and_replay_bad_input(mini, tmp_path: Path, args: list, words: str) -> None:  # type: ignore[no-untyped-def]
    args = [a.format(tmp=tmp_path, bench=mini[0].run_dir) for a in args]
    if args[0] == "bench":
        args += ["--runs-dir", str(tmp_path / "runs")]
    proc = subprocess.run([sys.executable, "cli.py", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], proc.stderr
    assert not (tmp_path / "runs").exists()  # nothing written


def test_replay_command_prints_json_and_every_repeat(mini, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from nasbench.cli.commands import main

    out = tmp_path / "repeats.csv"
    assert main(["replay", str(mini[0].run_dir), "--sampler", "tpe", "random", "--budget", "6",
                 "--repeats", "3", "--csv", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Hypervolume reference point: val_acc 0" in text and "tpe" in text and "random" in text
    import pandas as pd

    rows = pd.read_csv(out)
    assert set(rows["sampler"]) == {"tpe", "random"} and set(rows["repeat"]) == {0, 1, 2}
    assert main(["replay", str(mini[0].run_dir), "--sampler", "random", "--budget", "12",
                 "--repeats", "2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    final = [r for r in data["summary"] if r["architectures"] == 12]
    assert final and final[0]["hv_fraction_median"] == 1.0


def _brute_hypervolume(rows, ref_latency: float) -> float:  # type: ignore[no-untyped-def]
    """The area (accuracy x ms, reference accuracy 0) dominated by the points, on the grid of
    their own latencies: for each strip between two consecutive latencies, the best accuracy
    of any point at least that fast."""
    acc, lat = rows["val_acc_mean"].to_numpy(float), rows["latency_ms"].to_numpy(float)
    edges = sorted({*lat[lat < ref_latency], ref_latency})
    return sum((hi - lo) * max([a for a, l in zip(acc, lat) if l <= lo] or [0.0])
               for lo, hi in zip(edges, edges[1:]))


def test_dashboard_overlays_the_exact_front_on_a_search(mini) -> None:  # type: ignore[no-untyped-def]
    from streamlit.testing.v1 import AppTest

    from nasbench.workflows.search import run_search

    config, outcome = mini
    runs = Path(config.runs_dir)
    run_search(SearchConfig(space="mini", epochs=2, threads=1, latency_time_s=0.05, budget=4,
                            sampler="random", runs_dir=str(runs), study="mini-search"))
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120)
    at.query_params["source"] = str(runs)
    at.query_params["run"] = "mini-search"
    at.run()
    assert not at.exception
    note = next(i.value for i in at.info if "Hypervolume of this search" in i.value)
    assert "of the exact front of mini" in note and config.study_name in note
    # The fraction shown, against a brute-force one: the area dominated by the search's front
    # (trained fully, feasible) at the table's figures over the area of the whole table's.
    shown = float(note.split("Hypervolume of this search: ")[1].split("%")[0]) / 100
    search = results_frame(open_run(str(runs / "mini-search")))
    found = set(search.loc[(search["state"] == "COMPLETE") & search["reused_from"].isna()
                           & (search["stopped_early"] != True), "arch"])  # noqa: E712
    table, meta = outcome.table, json.loads((runs / config.study_name / "bench.json").read_text())
    ref = meta["reference_point"]["latency_ms"]
    whole = _brute_hypervolume(table[table["complete"]], ref)
    mine = _brute_hypervolume(table[table["complete"] & table["arch"].isin(found)], ref)
    assert shown == pytest.approx(mine / whole, abs=0.0006)  # shown to 0.1 %
    assert shown < 0.999  # 4 of 12 architectures: the old bug showed 100 % here
    chart = json.loads(at.get("plotly_chart")[0].proto.spec)
    exact = next(t for t in chart["data"] if t["name"].startswith("exact front of the space"))
    xs = exact["x"]
    if isinstance(xs, dict):  # Plotly sends numeric arrays as base64 ("bdata")
        import base64

        xs = np.frombuffer(base64.b64decode(xs["bdata"]), dtype=xs["dtype"])
    assert len(xs) == int(outcome.table["pareto"].sum())
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120)
    at.query_params["source"] = str(runs)
    at.query_params["run"] = config.study_name  # the bench itself opens like a run
    at.run()
    assert not at.exception and at.title[0].value == config.study_name
    assert next(m for m in at.metric if m.label == "complete").value == "12"


def test_replay_with_the_pareto_pruner_trains_fewer_epochs(mini) -> None:  # type: ignore[no-untyped-def]
    from nasbench.workflows.replay import hv_fraction

    table, meta = load_bench(mini[0].run_dir)
    plain = summarize(replay(table, meta, ("random",), budget=12, repeats=3, pruner="none"))
    pruned_runs = replay(table, meta, ("random",), budget=12, repeats=3, pruner="pareto")
    pruned = summarize(pruned_runs)
    at = lambda s: s[s["architectures"] == 12].iloc[0]  # noqa: E731
    assert at(plain)["epochs_median"] == 12 * 2  # every architecture trained fully
    assert at(pruned)["epochs_median"] <= at(plain)["epochs_median"]
    assert at(pruned)["simulated_s_median"] <= at(plain)["simulated_s_median"]
    for run in pruned_runs:  # the fraction is of what was trained fully
        assert set(run.trained_fully) <= set(run.numbers)
        assert run.fractions[12] == hv_fraction(run.trained_fully, table, meta)


def test_replay_of_a_shorter_proxy_is_scored_at_the_tables_figures(mini) -> None:  # type: ignore[no-untyped-def]
    from nasbench.workflows.replay import cut_to_epochs, hv_fraction

    table, meta = load_bench(mini[0].run_dir)
    cut = cut_to_epochs(table, meta, 1)
    for k in range(meta["seeds"]):
        column = f"val_acc_per_epoch_seed{k}"
        assert all(len(c) == 1 and c[0] == full[0] for c, full in zip(cut[column], table[column]))
    assert (cut["train_time_s"] == table["train_time_s"] / 2).all()
    assert (cut["val_acc_mean"] == table["val_acc_mean"]).all()  # the truth stays the full one
    assert (cut["latency_ms"] == table["latency_ms"]).all() and (table["epochs"] == 2).all()
    runs = replay(cut, meta, ("random",), budget=12, repeats=2, pruner="pareto")
    for run in runs:  # one epoch each: nothing to stop, and every figure is the table's own
        assert run.epochs[12] == 12 and sorted(run.trained_fully) == sorted(run.numbers)
        assert run.fractions[12] == hv_fraction(run.trained_fully, table, meta) == 1.0
    with pytest.raises(SearchError, match="--epochs must be between 1 and the table's 2, got 0"):
        cut_to_epochs(table, meta, 0)


def test_replay_hypervolume_leaves_out_architectures_stopped_early(mini) -> None:  # type: ignore[no-untyped-def]
    from nasbench.workflows.replay import hv_fraction

    table, meta = load_bench(mini[0].run_dir)
    table = table.copy()
    # Every architecture on the exact front (the slower, the more accurate), so any stopped one
    # is a front architecture. The fastest learns at once; every other one is at chance after
    # epoch 1, so whatever is drawn after the fastest is stopped there.
    rank = table["latency_ms"].rank(method="first").to_numpy()
    table["val_acc_mean"] = 0.5 + 0.4 * rank / len(table)
    table["pareto"] = True
    fastest = table["latency_ms"].idxmin()
    for column in [c for c in table.columns if c.startswith("val_acc_per_epoch_seed")]:
        table[column] = [np.array([0.99 if i == fastest else 0.0, *curve[1:]])
                         for i, curve in zip(table.index, table[column])]
    runs = replay(table, meta, ("random",), budget=12, repeats=4, pruner="pareto")
    with_stops = 0
    for run in runs:
        assert sorted(run.numbers) == sorted(table["arch"])  # all 12 evaluated
        assert table.loc[fastest, "arch"] in run.trained_fully
        stopped = set(run.numbers) - set(run.trained_fully)
        # only those drawn after the fastest (not all of them: each trial's latency is one of
        # the table's passes, where another may happen to beat the fastest's)
        after = run.numbers[run.numbers.index(table.loc[fastest, "arch"]) + 1:]
        assert stopped <= set(after)
        with_stops += bool(stopped)
        assert run.fractions[12] == hv_fraction(run.trained_fully, table, meta)
        assert (run.fractions[12] < 1.0) == bool(stopped)  # a stopped front architecture costs
    assert with_stops  # the fastest is drawn last in every repeat with odds of 1 in 12^4


def test_accuracy_regret_at_latency_limits() -> None:
    """The best accuracy within each limit, minus the best the search has within it."""
    import pandas as pd

    from nasbench.workflows.replay import accuracy_regret, latency_limits

    table = pd.DataFrame({"arch": list("abcde"), "complete": True,
                          "latency_ms": [1.0, 2.0, 3.0, 4.0, 5.0],
                          "val_acc_mean": [0.80, 0.90, 0.85, 0.97, 0.99]})
    assert latency_limits(table, lambda f: np.ones(len(f), bool), (0.0, 0.5, 1.0)) == (1.0, 3.0, 5.0)
    limits = (1.0, 3.0, 5.0)
    assert accuracy_regret(list("abcde"), table, limits) == (0.0, 0.0, 0.0)
    regret = accuracy_regret(["a", "c", "d"], table, limits)
    assert regret == pytest.approx((0.0, 0.05, 0.02))  # b (0.90) and e (0.99) missed
    assert accuracy_regret(["e"], table, limits) == pytest.approx((0.80, 0.90, 0.0))  # nothing within
    # Infeasible architectures are neither the best there is nor found.
    slow = lambda f: f["latency_ms"].to_numpy(float) <= 4.0  # noqa: E731
    assert accuracy_regret(["a", "c", "d", "e"], table, limits, slow) == pytest.approx((0.0, 0.05, 0.0))


def test_replay_reports_the_regret_of_what_was_trained_fully(mini) -> None:  # type: ignore[no-untyped-def]
    from nasbench.workflows.replay import accuracy_regret, latency_limits, runs_frame

    table, meta = load_bench(mini[0].run_dir)
    runs = replay(table, meta, ("random",), budget=12, repeats=2, pruner="pareto")
    limits = latency_limits(table, lambda f: np.ones(len(f), bool))
    for run in runs:
        assert run.regrets[12] == accuracy_regret(run.trained_fully, table, limits)
        assert all(r >= 0 for r in run.regrets[12])
    summary = summarize(runs)
    assert {"regret_q10_mean", "regret_q25_mean", "regret_q50_mean"} <= set(summary.columns)
    assert {"regret_q10", "regret_q25", "regret_q50"} <= set(runs_frame(runs).columns)
    plain = replay(table, meta, ("random",), budget=12, repeats=1, pruner="none")
    assert plain[0].regrets[12] == (0.0, 0.0, 0.0)  # the whole space, trained fully
