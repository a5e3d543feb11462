"""The search end to end on a real SQLite Optuna storage."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nasbench.train.data import load_dataset
from nasbench.study.results import pareto_mask, results_frame
from nasbench.errors import SearchError
from nasbench.workflows.search import run_search
from nasbench.workflows.search_study import open_study
from nasbench.workflows.settings import SearchConfig
from nasbench.train.proxy import TrainingDiverged, train_model
from nasbench.train.recipe import TrainConfig
from nasbench.nn.build import build_model
from search_spaces import SPACES, DataShape, TinySpace

ROOT = Path(__file__).resolve().parents[2]
QUICK = dict(space="tiny", epochs=1, latency_time_s=0.05, threads=1)


@pytest.fixture(scope="module")
def digits():  # type: ignore[no-untyped-def]
    return load_dataset("digits", cache_dir=None)


def _cli(*args: str, **kwargs) -> subprocess.Popen:  # type: ignore[no-untyped-def]
    return subprocess.Popen([sys.executable, "cli.py", *args], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)


def _complete(db: Path, polling: bool = False) -> int:
    if polling:  # read-only SQL: opening it with Optuna would race the search creating tables
        import sqlite3

        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
                return con.execute(
                    "SELECT COUNT(*) FROM trials t WHERE t.state = 'COMPLETE' AND NOT EXISTS (SELECT 1 "
                    "FROM trial_user_attributes a WHERE a.trial_id = t.trial_id AND "
                    "a.key = 'reused_from')").fetchone()[0]
        except sqlite3.Error:
            return 0
    study = optuna.load_study(study_name=db.parent.name, storage=f"sqlite:///{db}")
    return sum(t.state.name == "COMPLETE" and "reused_from" not in t.user_attrs
               for t in study.get_trials())  # what the budget counts


def _training(db: Path, exclude: set[int]) -> bool:
    """Whether a trial (not in ``exclude``) is running with its latency measured: training now."""
    import sqlite3

    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
            rows = con.execute("SELECT t.number FROM trials t JOIN trial_user_attributes a ON "
                               "a.trial_id = t.trial_id WHERE t.state = 'RUNNING' AND a.key = "
                               "'latency'").fetchall()
    except sqlite3.Error:
        return False
    return any(number not in exclude for (number,) in rows)


@pytest.mark.e2e
def test_search_budget_3_end_to_end(tmp_path: Path) -> None:
    proc = _cli("search", "--budget", "3", "--space", "tiny", "--epochs", "1",
                "--runs-dir", str(tmp_path), "--study", "e2e")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert "Pareto front" in out and "3 complete, 0 failed" in out
    assert "3/3 architectures, 3 trained fully" in err and "front" in err
    assert "Confirming" in err and "interleaved latency rounds" in err  # on by default
    assert "Confirmed" in out and "[95% interval]" in out
    table = pd.read_csv(tmp_path / "e2e" / "results.csv")
    assert table.loc[table["pareto"], "confirmed"].any()
    assert (table.loc[table["confirmed"], "latency_search_ms"] > 0).all()
    assert len(table) == 3 and set(table["state"]) == {"COMPLETE"}
    for column in ("arch", "params", "macs", "latency_ms", "latency_p90_ms", "val_acc",
                   "train_time_s", "feasible", "pareto", "device_name", "torch_version"):
        assert table[column].notna().all(), column
    assert table["val_acc"].between(0, 1).all() and (table["latency_ms"] > 0).all()
    listing = _cli("results", str(tmp_path / "e2e"), "--pareto")
    out, err = listing.communicate(timeout=60)
    assert listing.returncode == 0 and "Pareto front" in out and "[95% interval]" in out
    again = _cli("search", "--budget", "3", "--space", "tiny", "--epochs", "1",
                 "--runs-dir", str(tmp_path), "--study", "e2e", "--json")
    out, err = again.communicate(timeout=120)  # already complete: nothing to run
    summary = json.loads(out)
    assert summary["complete"] == 3 and summary["pareto_front"]
    assert {r["number"] for r in summary["pareto_front"]} == set(table[table["pareto"]]["number"])


@pytest.mark.e2e
def test_resume_after_kill_and_ctrl_c(tmp_path: Path) -> None:
    args = ("search", "--budget", "6", "--space", "tiny", "--epochs", "1", "--runs-dir",
            str(tmp_path), "--study", "resume", "--no-confirm")
    db = tmp_path / "resume" / "study.db"
    proc = _cli(*args)
    deadline = time.time() + 240
    while time.time() < deadline and not (db.exists() and _complete(db, polling=True) >= 2):
        time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    before = _complete(db)
    assert 2 <= before < 6  # readable after SIGKILL, and not finished
    study = optuna.load_study(study_name="resume", storage=f"sqlite:///{db}")
    stale = {t.number for t in study.get_trials() if t.state.name == "RUNNING"}  # the killed one
    # Ctrl-C in the middle of a trial (measured, now training): clean stop, study intact,
    # exit 130, the interrupted trial says what happened.
    proc = _cli(*args)
    deadline = time.time() + 240
    while time.time() < deadline and _complete(db, polling=True) <= before:
        time.sleep(0.1)
    while time.time() < deadline and not _training(db, stale):
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "run the same command again to resume" in err and "Traceback" not in err
    middle = _complete(db)
    assert before < middle < 6
    trials = optuna.load_study(study_name="resume", storage=f"sqlite:///{db}").get_trials()
    assert {t.number for t in trials if t.state.name == "RUNNING"} <= stale
    interrupted = [t for t in trials if t.state.name == "FAIL" and t.number not in stale]
    assert [t.user_attrs["fail_reason"] for t in interrupted] == [
        "interrupted by the user (Ctrl-C); not retried"]
    proc = _cli(*args)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert _complete(db) == 6
    # A larger budget extends the study.
    proc = _cli(*args[:2], "8", *args[3:])
    proc.communicate(timeout=300)
    assert _complete(db) == 8


@dataclass(frozen=True)
class FailingSpace(TinySpace):
    """The tiny space, but stage-0 kernel 7 raises: a real failure inside a trial."""

    name: str = "failing"

    def sample(self, trial, shape):  # type: ignore[no-untyped-def]
        arch = super().sample(trial, shape)
        if arch.stages[0].kernel == 7:
            raise RuntimeError("injected failure for kernel 7")
        return arch


def test_failing_trials_are_recorded_and_the_search_goes_on(tmp_path: Path, digits,  # type: ignore[no-untyped-def]
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(SPACES, "failing", FailingSpace)
    config = SearchConfig(**{**QUICK, "space": "failing"}, budget=5, sampler="random", seed=3,
                          runs_dir=str(tmp_path))
    outcome = run_search(config, data=digits)
    assert outcome.complete == 5 and outcome.failed >= 1
    frame = results_frame(open_study(config))
    failed = frame[frame["state"] == "FAIL"]
    assert len(failed) == outcome.failed
    assert failed["fail_reason"].str.contains("RuntimeError: injected failure").all()
    assert not failed["pareto"].any()


def test_every_trial_failing_stops_with_a_clear_error(tmp_path: Path, digits,  # type: ignore[no-untyped-def]
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    @dataclass(frozen=True)
    class Broken(TinySpace):
        def sample(self, trial, shape):  # type: ignore[no-untyped-def]
            raise RuntimeError("always broken")

    monkeypatch.setitem(SPACES, "broken", Broken)
    config = SearchConfig(**{**QUICK, "space": "broken"}, budget=3, runs_dir=str(tmp_path))
    with pytest.raises(SearchError, match="always broken"):
        run_search(config, data=digits, max_failures=4)


def test_nan_loss_is_a_training_failure(digits) -> None:  # type: ignore[no-untyped-def]
    arch = TinySpace().enumerate(DataShape(8, 1, 10))[0]
    with pytest.raises(TrainingDiverged, match="loss became"):
        train_model(build_model(arch), digits, TrainConfig(epochs=3, optimizer="sgd", lr=1e12))


def test_training_is_seeded(digits) -> None:  # type: ignore[no-untyped-def]
    """The same seed and thread count give the same training, bit for bit (a thread count
    changes how sums are split, see docs/concepts/threads.md)."""
    arch = TinySpace().enumerate(DataShape(8, 1, 10))[5]
    a = train_model(build_model(arch, seed=4), digits, TrainConfig(epochs=1), seed=4, threads=1)
    b = train_model(build_model(arch, seed=4), digits, TrainConfig(epochs=1), seed=4, threads=1)
    assert a.val_accuracy_per_epoch == b.val_accuracy_per_epoch and a.history == b.history


@pytest.mark.parametrize("optimizer", ["adamw", "sgd"])
def test_the_multi_tensor_optimizer_trains_the_same_weights(digits, optimizer: str,  # type: ignore[no-untyped-def]
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Training updates all parameters at once (``foreach``): the weights are those of
    PyTorch's per-parameter loop, bit for bit."""
    import torch

    arch = TinySpace().enumerate(DataShape(8, 1, 10))[7]
    config = TrainConfig(epochs=1, optimizer=optimizer, lr=0.05 if optimizer == "sgd" else 1e-2)
    fast = build_model(arch, seed=2)
    train_model(fast, digits, config, seed=2, threads=1)
    kind = torch.optim.AdamW if optimizer == "adamw" else torch.optim.SGD
    seen = []

    def loop(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(kwargs.pop("foreach"))
        return kind(*args, foreach=False, **kwargs)

    monkeypatch.setattr(torch.optim, "AdamW" if optimizer == "adamw" else "SGD", loop)
    slow = build_model(arch, seed=2)
    train_model(slow, digits, config, seed=2, threads=1)
    assert seen == [True]
    for (name, a), b in zip(fast.state_dict().items(), slow.state_dict().values()):
        assert torch.equal(a, b), name


def test_constraints_hold(tmp_path: Path, digits) -> None:  # type: ignore[no-untyped-def]
    archs = TinySpace().enumerate(DataShape(8, 1, 10))
    from nasbench.nn.build import count_params

    sizes = sorted(count_params(build_model(a)) for a in archs[::4])  # a limit near the median
    limit = sizes[len(sizes) // 2]
    config = SearchConfig(**QUICK, budget=8, sampler="random", seed=1, runs_dir=str(tmp_path),
                          max_params=limit)
    run_search(config, data=digits)
    study = open_study(config)
    frame = results_frame(study)
    complete = frame[frame["state"] == "COMPLETE"]
    assert (complete["feasible"] == (complete["params"] <= limit)).all()
    assert not complete[~complete["feasible"].astype(bool)]["pareto"].any()
    assert all(t.user_attrs["params"] <= limit for t in study.best_trials)
    assert {t.number for t in study.best_trials} >= set(complete[complete["pareto"]]["number"])


def test_duplicates_are_reused_not_retrained(tmp_path: Path, digits,  # type: ignore[no-untyped-def]
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A second draw of an architecture copies the first one's figures: it is not timed or
    trained again (both counted where the search calls them), and not counted in the budget."""
    import nasbench.workflows.objective as objective

    calls = {"train": 0, "time": 0}
    real_train, real_time = objective.train_model, objective.measure_latency

    def counting(name, real):  # type: ignore[no-untyped-def]
        def call(*args, **kwargs):  # type: ignore[no-untyped-def]
            calls[name] += 1
            return real(*args, **kwargs)
        return call

    monkeypatch.setattr(objective, "train_model", counting("train", real_train))
    monkeypatch.setattr(objective, "measure_latency", counting("time", real_time))
    config = SearchConfig(**QUICK, budget=3, sampler="random", runs_dir=str(tmp_path))
    study = open_study(config)
    params = {"s0_kind": "ds", "s0_kernel": 5, "s0_depth": 1, "s1_kind": "conv",
              "s1_kernel": 3, "s1_depth": 2}
    for _ in range(2):
        study.enqueue_trial(params)
    run_search(config, data=digits)
    trials = [t for t in open_study(config).get_trials() if t.state.name == "COMPLETE"]
    reused = [t for t in trials if t.user_attrs.get("reused_from") is not None]
    assert trials[1].user_attrs["reused_from"] == 0
    assert trials[1].values == trials[0].values
    assert trials[1].user_attrs["arch"] == trials[0].user_attrs["arch"]
    assert trials[1].user_attrs["measure_time_s"] == 0.0
    assert len(trials) - len(reused) == config.budget == calls["train"] == calls["time"]
    frame = results_frame(open_study(config))
    assert not frame.loc[1, "pareto"]


def test_resuming_with_other_settings_is_refused(tmp_path: Path) -> None:
    open_study(SearchConfig(**QUICK, runs_dir=str(tmp_path), study="s"))
    with pytest.raises(SearchError, match="other settings: space='tiny' \\(now 'mixed'\\)"):
        open_study(SearchConfig(**{**QUICK, "space": "mixed"}, runs_dir=str(tmp_path), study="s"))


@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6), st.booleans()), max_size=30))
def test_pareto_flags_equal_brute_force(points: list) -> None:
    acc = np.array([p[0] / 6 for p in points], float)
    lat = np.array([p[1] + 1.0 for p in points], float)
    ok = np.array([p[2] for p in points], bool)
    expected = [bool(ok[i]) and not any(
        ok[j] and acc[j] >= acc[i] and lat[j] <= lat[i] and (acc[j] > acc[i] or lat[j] < lat[i])
        for j in range(len(points))) for i in range(len(points))]
    assert list(pareto_mask(acc, lat, ok)) == expected


def test_results_frame_pareto_matches_brute_force_on_a_real_study(tmp_path: Path, digits) -> None:  # type: ignore[no-untyped-def]
    """The front of a real study, brute force from the stored trials: among the complete
    trials that evaluated an architecture themselves (not a reuse), trained fully (not stopped
    early) and feasible, those no other such trial dominates."""
    config = SearchConfig(**{**QUICK, "epochs": 3}, budget=8, sampler="random", seed=7,
                          pruner="pareto", max_params=20_000, runs_dir=str(tmp_path))
    study = open_study(config)
    study.enqueue_trial({"s0_kind": "ds", "s0_kernel": 3, "s0_depth": 1, "s1_kind": "ds",
                         "s1_kernel": 3, "s1_depth": 1})
    study.enqueue_trial({"s0_kind": "ds", "s0_kernel": 3, "s0_depth": 1, "s1_kind": "ds",
                         "s1_kernel": 3, "s1_depth": 1})  # a reuse
    run_search(config, data=digits)
    trials = open_study(config).get_trials()
    candidates = {t.number: (t.values[0], t.values[1]) for t in trials
                  if t.state.name == "COMPLETE" and t.user_attrs.get("reused_from") is None
                  and not t.user_attrs.get("stopped_early")
                  and all(v <= 0 for v in t.constraints.values())}
    front = {n for n, (acc, lat) in candidates.items()
             if not any(a >= acc and l <= lat and (a > acc or l < lat) for a, l in candidates.values())}
    frame = results_frame(open_study(config))
    assert set(frame.loc[frame["pareto"], "number"]) == front
    assert any(t.user_attrs.get("reused_from") is not None for t in trials)
    assert any(not all(v <= 0 for v in t.constraints.values()) for t in trials if t.state.name == "COMPLETE")
    assert (tmp_path / config.study_name / "results.csv").is_file()


def test_a_resumed_search_continues_the_exploration(tmp_path: Path, digits) -> None:  # type: ignore[no-untyped-def]
    """Resuming (here: a larger budget) draws new architectures; the budget counts distinct ones."""
    base = dict(**QUICK, sampler="random", seed=2, runs_dir=str(tmp_path))
    run_search(SearchConfig(**base, budget=3), data=digits)
    run_search(SearchConfig(**base, budget=6), data=digits)
    trials = open_study(SearchConfig(**base, budget=6)).get_trials()
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    fresh = [t for t in complete if "reused_from" not in t.user_attrs]
    assert len(fresh) == 6 and len({t.user_attrs["arch"] for t in fresh}) == 6
    # From scratch, the same command gives the same study as before.
    again = dict(base, runs_dir=str(tmp_path / "again"))
    run_search(SearchConfig(**again, budget=3), data=digits)
    first = [t.user_attrs["arch"] for t in complete[:3]]
    assert [t.user_attrs["arch"] for t in open_study(SearchConfig(**again, budget=3)).get_trials()] == first


def test_sampler_streams_differ_per_worker_and_resume() -> None:
    from nasbench.study.samplers import sampler_seed

    config = SearchConfig(seed=4)
    assert sampler_seed(config, 0) == 4  # from scratch: seeded as before
    seeds = {sampler_seed(config, n) for n in range(20)} | {
        sampler_seed(SearchConfig(seed=4, worker_index=w), 0) for w in range(1, 8)}
    assert len(seeds) == 27


def test_an_exhausted_space_stops_with_a_clear_error(tmp_path: Path, digits, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    @dataclass(frozen=True)
    class Two(TinySpace):
        """Only two architectures."""

        def sample(self, trial, shape):  # type: ignore[no-untyped-def]
            archs = TinySpace().enumerate(shape)[:2]
            return archs[trial.suggest_int("i", 0, 1)]

    monkeypatch.setitem(SPACES, "two", Two)
    monkeypatch.setattr("nasbench.workflows.search.REPEATS_BEFORE_EXHAUSTED", 40)  # 200: 0.2 s each here
    config = SearchConfig(**{**QUICK, "space": "two"}, budget=3, sampler="random", runs_dir=str(tmp_path))
    with pytest.raises(SearchError, match="drew 40 architectures in a row .* nearly exhausted; lower --budget"):
        run_search(config, data=digits)
    assert sum(t.state.name == "COMPLETE" for t in open_study(config).get_trials()) >= 40


@pytest.mark.e2e
def test_a_process_reopening_its_study_keeps_its_commits_when_another_closes(tmp_path: Path) -> None:
    """A search reopens its study (as ``finish_search`` does) while its first connection is open,
    and a reader in another process (``results``, the dashboard, a second worker) then closes its
    own: our next commit must land. The database check on reopening once read the file's header
    with a plain open() and close(), which dropped this process's SQLite locks; the reader, sure
    it was the last, then deleted the write-ahead log, and the commit was lost (CI saw it as one
    of two joining processes exiting on a "disk I/O error")."""
    config = SearchConfig(**QUICK, budget=1, runs_dir=str(tmp_path), study="wal")
    study = open_study(config)
    trial = study.ask()  # this process's connection stays open, as in a running search
    open_study(config)  # the check on reopening
    db = tmp_path / "wal" / "study.db"
    reader = (f"import sqlite3; c = sqlite3.connect({str(db)!r}); "
              f"c.execute('SELECT COUNT(*) FROM trials').fetchall(); c.close()")
    subprocess.run([sys.executable, "-c", reader], check=True, timeout=60)
    assert (tmp_path / "wal" / "study.db-wal").exists()  # the reader knew it was not the last
    study.tell(trial, [0.5, 1.0])
    states = (f"import sqlite3; c = sqlite3.connect({str(db)!r}); "
              f"print(c.execute('SELECT state FROM trials').fetchall()); c.close()")
    seen = subprocess.run([sys.executable, "-c", states], capture_output=True, text=True, check=True,
                          timeout=60).stdout.strip()
    assert seen == "[('COMPLETE',)]", seen


@pytest.mark.e2e
def test_two_processes_joining_at_once_draw_different_architectures(tmp_path: Path) -> None:
    """Two ``search`` processes on one study, started at the same moment (the README's way to add
    a machine): their first trials come from different sampler streams."""
    start = time.time() + 6.0
    script = (f"import sys, time; sys.path.insert(0, {str(ROOT)!r}); "
              f"from nasbench.workflows.search import run_search; from nasbench.workflows.search_study import open_study; "
              f"from nasbench.workflows.settings import SearchConfig; "
              f"c = SearchConfig(space='tiny', epochs=1, threads=1, latency_time_s=0.05, "
              f"sampler='random', budget=2, runs_dir={str(tmp_path)!r}, study='pair'); "
              f"open_study(c); time.sleep(max(0.0, {start} - time.time())); run_search(c)")
    procs = [subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    trials = optuna.load_study(study_name="pair", storage=f"sqlite:///{tmp_path / 'pair' / 'study.db'}").get_trials()
    assert trials[0].user_attrs["arch"] != trials[1].user_attrs["arch"]


def test_each_trial_records_its_training_threads_and_waits(tmp_path, digits):
    """Governed threads (the default): every trained trial says how many threads its steps ran
    and how long it waited for other nasbench processes, in the results table."""
    from nasbench.measure.quiet import QuietSlot
    from nasbench.train.threads import usable_cores

    config = SearchConfig(**{**QUICK, "threads": None}, budget=4, sampler="random", seed=3,
                          runs_dir=str(tmp_path))
    outcome = run_search(config, data=digits, slot=QuietSlot(tmp_path))
    trained = outcome.table[outcome.table["train_time_s"].notna()]
    assert len(trained) >= 4
    assert trained["train_threads"].between(1.0, usable_cores()).all()
    assert (trained["wait_s"] >= 0).all() and (trained["wait_s"] < 30).all()
    assert not trained["wait_timed_out"].fillna(False).astype(bool).any()
