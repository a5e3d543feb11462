"""One definition of each rule: the trial record, old studies, the exported network, file
writing, global state left alone."""

from __future__ import annotations

import inspect
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pandas as pd
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from nasbench.nn import blocks
from nasbench.nn.build import Network
from nasbench.measure.conditions import Conditions
from nasbench.workflows.export import export_arch, model_source
from nasbench.files import OutputRefused, atomic_write, write_folder
from nasbench.measure.latency import LatencyResult, LatencyStats
from nasbench.study.trial_record import TrialRecord, columns_of
from nasbench.study.results import COLUMNS, results_frame
from nasbench.study.storage import open_run

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures"


def _cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture()
def legacy(tmp_path: Path) -> Path:
    """A copy of a study written by nasbench 0.1 (tiny space, --max-flops, a reused trial)."""
    run = tmp_path / "legacy-v0.1"
    run.mkdir()
    shutil.copy(FIXTURE / "study-v0.1.db", run / "study.db")
    return run


def test_a_study_written_by_version_0_1_opens_unchanged(legacy: Path) -> None:
    frame = results_frame(open_run(str(legacy)))
    old = pd.read_csv(FIXTURE / "results-v0.1.csv")
    assert set(old.columns) <= set(COLUMNS)  # no column of 0.1 was dropped
    # Every column of 0.1's table, value for value (the lists and timestamps are formatted
    # differently in a CSV: the accuracies are compared as lists below).
    for column in old.columns.drop(["val_acc_per_epoch", "datetime_start"]):
        mine, theirs = frame[column], old[column]
        if theirs.dtype.kind == "f" or column == "reused_from":
            pd.testing.assert_series_equal(pd.to_numeric(mine).astype(float), theirs.astype(float),
                                           check_names=False)
        else:
            assert list(mine) == list(theirs), column
    for mine, theirs in zip(frame["val_acc_per_epoch"], old["val_acc_per_epoch"]):
        assert mine == pytest.approx([float(a) for a in str(theirs).split()] if theirs == theirs else [],
                                     abs=5e-5)  # the CSV keeps 4 decimals


@pytest.mark.e2e
def test_a_version_0_1_study_resumes_and_exports(legacy: Path, tmp_path: Path) -> None:
    args = ("search", "--space", "tiny", "--epochs", "1", "--sampler", "random", "--seed", "5",
            "--runs-dir", str(legacy.parent), "--study", legacy.name)
    proc = _cli(*args, "--budget", "6", "--max-flops", "400000")  # the old flag, an alias now
    assert proc.returncode == 0, proc.stderr
    frame = results_frame(open_run(str(legacy)))
    assert (frame["state"] == "COMPLETE").sum() >= 6
    new = frame[frame["number"] >= 5]
    assert (new["feasible"] == (new["macs"] <= 400_000)).all()
    other = _cli(*args, "--budget", "6", "--max-macs", "500000")
    assert other.returncode == 2 and "max_macs=400000" in other.stderr
    out = tmp_path / "export"
    proc = _cli("export", str(legacy), "--out", str(out), "--pick", "latency")
    assert proc.returncode == 0, proc.stderr
    assert (out / "model.py").is_file()


_floats = st.floats(0.001, 1e4, allow_nan=False)


@st.composite
def records(draw: st.DrawFn) -> TrialRecord:
    latency = None
    if draw(st.booleans()):
        stats = LatencyStats(*(draw(_floats) for _ in range(6)), samples=draw(st.integers(1, 999)))
        conditions = Conditions(*(draw(st.text(max_size=8)) for _ in range(3)),
                                draw(st.integers(1, 64)), draw(st.integers(1, 64)),
                                *(draw(st.text(max_size=8)) for _ in range(6)))
        latency = LatencyResult(stats, draw(st.integers(1, 100)), conditions)
    return TrialRecord(
        arch=draw(st.none() | st.text(max_size=20)), params=draw(st.none() | st.integers(0, 10**9)),
        macs=draw(st.none() | st.integers(0, 10**12)), latency=latency,
        val_acc_per_epoch=tuple(draw(st.lists(st.floats(0, 1), max_size=6))),
        train_time_s=draw(st.none() | _floats), measure_time_s=draw(st.none() | _floats),
        reused_from=draw(st.none() | st.integers(0, 999)),
        fail_reason=draw(st.none() | st.text(min_size=1, max_size=20)),
        note=draw(st.none() | st.text(min_size=1, max_size=20)))


@given(records())
def test_trial_record_round_trips_through_user_attributes(record: TrialRecord) -> None:
    import json

    attrs = json.loads(json.dumps(record.to_attrs()))  # what the storage keeps
    assert TrialRecord.from_attrs(attrs) == record
    row = record.columns("COMPLETE")
    assert tuple(row) == TrialRecord.column_names()
    assert set(row) <= set(COLUMNS)
    # The table derives rows from the stored attributes directly: the same row, field by field.
    assert columns_of(attrs, "COMPLETE") == row
    latency = record.latency
    assert row["latency_ms"] == (latency.stats.median_ms if latency else None)
    assert row["latency_cv"] == (latency.stats.cv if latency else None)
    assert row["cpu_model"] == (latency.conditions.cpu_model if latency else None)
    assert row["epochs_trained"] == (len(record.val_acc_per_epoch) or None)
    assert row["fail_reason"] == (record.fail_reason or record.note)


def test_table_columns_derive_from_the_record() -> None:
    from dataclasses import fields

    for f in fields(Conditions):
        assert f.name in COLUMNS
    for f in fields(LatencyStats):
        assert ("latency_ms" if f.name == "median_ms" else f"latency_{f.name}") in COLUMNS
    for f in fields(TrialRecord):
        assert f.name in COLUMNS or f.name in ("latency", "note")
    measured = {f.name for f in fields(TrialRecord) if f.metadata.get("measured")}
    assert measured == {"params", "macs", "latency", "val_acc_per_epoch", "train_time_s",
                        "stopped_early", "stop_reason", "latency_predicted_ms", "predicted_only"}


def test_exported_module_is_the_library_definition() -> None:
    from nasbench.spec.arch import decode

    source = model_source(decode("res8_in1_cls10:stem_c8_k3_s1_arelu:ir_r1_k3_s1_e3_c8_arelu:head"))
    defined = [obj for obj in vars(blocks).values()
               if (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__ == blocks.__name__]
    assert len(defined) >= 8
    for obj in [*defined, Network]:
        assert inspect.getsource(obj) in source, obj.__name__  # copied, not rewritten


def test_training_leaves_the_global_random_state_alone() -> None:
    from nasbench.spec.arch import decode
    from nasbench.nn.build import build_model
    from nasbench.train.data import load_dataset
    from nasbench.train.proxy import train_model
    from nasbench.train.recipe import TrainConfig

    data = load_dataset("digits", cache_dir=None)
    torch.manual_seed(123)
    state = torch.get_rng_state()
    arch = decode("res8_in1_cls10:stem_c8_k3_s1_arelu:conv_r1_k3_s2_c8_arelu:head_d0.2")
    first = train_model(build_model(arch, seed=1), data, TrainConfig(epochs=1), seed=1)
    assert torch.equal(torch.get_rng_state(), state)
    torch.manual_seed(999)  # another global state: the training is the same
    again = train_model(build_model(arch, seed=1), data, TrainConfig(epochs=1), seed=1)
    assert first.val_accuracy_per_epoch == again.val_accuracy_per_epoch


def test_atomic_write_keeps_the_old_file_on_failure_and_follows_the_umask(tmp_path: Path) -> None:
    path = tmp_path / "table.csv"
    path.write_text("old")

    def broken(tmp: Path) -> None:
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(path, broken)
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["table.csv"]
    old_mask = os.umask(0o022)
    try:
        atomic_write(path, lambda tmp: tmp.write_text("new"))
    finally:
        os.umask(old_mask)
    assert path.read_text() == "new" and path.stat().st_mode & 0o777 == 0o644


def test_an_export_replaces_a_folder_as_a_whole(tmp_path: Path) -> None:
    from nasbench.spec.arch import decode
    from nasbench.nn.build import build_model

    first = decode("res8_in1_cls10:stem_c8_k3_s1_arelu:conv_r1_k3_s2_c8_arelu:head")
    second = decode("res8_in1_cls10:stem_c8_k3_s1_arelu:ds_r1_k5_s2_c16_arelu:head")
    out = tmp_path / "export"
    export_arch(first, out, state_dict=build_model(first).state_dict())
    assert (out / "weights.pt").is_file()
    with pytest.raises(OutputRefused, match="already holds files"):
        export_arch(second, out)
    export_arch(second, out, overwrite=True)
    assert not (out / "weights.pt").exists()  # the other architecture's weights are gone
    assert "ds_r1_k5" in (out / "model.py").read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["export"]  # no temporary folder left
    with pytest.raises(RuntimeError):
        write_folder(out, lambda tmp: (_ for _ in ()).throw(RuntimeError("fail")), overwrite=True)
    assert "ds_r1_k5" in (out / "model.py").read_text()


def test_force_never_replaces_what_export_did_not_write(tmp_path: Path) -> None:
    """``--force`` replaces a previous export, never a run (its study.db), a runs folder (its
    run folders), nor a folder with any file an export does not write; the refusal comes
    before anything is built, and everything stays."""
    from nasbench.spec.arch import decode

    arch = decode("res8_in1_cls10:stem_c8_k3_s1_arelu:conv_r1_k3_s2_c8_arelu:head")
    run = tmp_path / "runs" / "a-study"
    run.mkdir(parents=True)
    (run / "study.db").write_bytes(b"SQLite format 3\x00")
    (run / "results.csv").write_text("number\n0\n")
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "model.py").write_text("mine")
    (notes / "thesis.tex").write_text("mine")
    for target in (run, tmp_path / "runs", notes, tmp_path):
        before = sorted(str(p) for p in target.rglob("*"))
        with pytest.raises(OutputRefused, match="--force replaces only a previous output"):
            export_arch(arch, target, overwrite=True)
        assert sorted(str(p) for p in target.rglob("*")) == before
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(OutputRefused, match="is a file"):
        export_arch(arch, tmp_path / "a_file", overwrite=True)


@pytest.mark.e2e
def test_profile_waits_for_training_elsewhere_on_the_machine(tmp_path: Path) -> None:
    """``profile`` holds the machine's quiet slot while timing, like the search does."""
    holder = subprocess.Popen([sys.executable, "-c", f"""
import sys, time
sys.path.insert(0, {str(ROOT)!r})
from nasbench.measure.quiet import QuietSlot
with QuietSlot().shared():
    print("held", flush=True)
    time.sleep(4)
"""], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    start = time.perf_counter()
    proc = _cli("profile", "res8_in1_cls10:stem_c8_k3_s1_arelu:conv_r1_k3_s2_c8_arelu:head",
                "--min-time", "0.05")
    waited = time.perf_counter() - start
    holder.wait()
    assert proc.returncode == 0, proc.stderr
    assert waited > 3.0, waited


def test_ctrl_c_is_held_outside_safe_zones() -> None:
    import signal

    from nasbench.interrupts import SafeInterrupts

    before = signal.getsignal(signal.SIGINT)  # Python's default, or SIG_IGN in a background job
    with SafeInterrupts().installed() as interrupts:
        os.kill(os.getpid(), signal.SIGINT)  # in a storage write, say: held
        time.sleep(0.05)
        assert interrupts.pending
        with pytest.raises(KeyboardInterrupt):
            interrupts.check()
        with pytest.raises(KeyboardInterrupt):
            with interrupts.allowed():  # training: raised at once
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(1)
        with interrupts.allowed():
            interrupts.held(os.kill)(os.getpid(), signal.SIGINT)  # an epoch's write: held
            time.sleep(0.05)
        with pytest.raises(KeyboardInterrupt):
            interrupts.check()
    assert signal.getsignal(signal.SIGINT) is before  # restored


_OPENERS = {  # (set-up, the call that opens the study)
    "search": ("from nasbench.workflows.search_study import open_study; "
               "from nasbench.workflows.settings import SearchConfig",
               "open_study(SearchConfig(space='tiny', runs_dir=RUNS, storage=URL, study='race'))"),
    "bench": ("from nasbench.workflows.bench_run import open_bench; from nasbench.workflows.settings import BenchConfig; "
              "from nasbench.train.data import load_dataset; data = load_dataset()",
              "open_bench(BenchConfig(space='tiny', sample=10, runs_dir=RUNS, storage=URL, "
              "study='race'), data)"),
}


def _race(kind: str, runs: Path, url: str | None, processes: int = 4) -> None:
    """``processes`` processes open the same new study of ``kind`` at the same moment."""
    set_up, call = _OPENERS[kind]
    script = (f"import sys, time; sys.path.insert(0, {str(ROOT)!r}); RUNS, URL = {str(runs)!r}, {url!r}; "
              f"{set_up}; time.sleep(max(0.0, {time.time() + 8.0} - time.time())); {call}")
    procs = [subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True)
             for _ in range(processes)]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * processes, errors


@pytest.mark.e2e
@pytest.mark.parametrize("kind", ["search", "bench"])
def test_processes_creating_one_new_sqlite_study_at_once_do_not_collide(kind: str, tmp_path: Path) -> None:
    """Each opens the database while the others create it: none may read it half-made, and a
    bench queues its trials once."""
    _race(kind, tmp_path, None)
    study = open_run(str(tmp_path / "race"))
    assert study.user_attrs["kind"] == kind
    assert len(study.get_trials()) == (20 if kind == "bench" else 0)  # 10 archs x 2 passes


@pytest.mark.e2e
@pytest.mark.parametrize("kind", ["search", "bench"])
def test_processes_creating_one_new_postgresql_study_at_once_do_not_collide(
        kind: str, tmp_path: Path, postgres_url: str) -> None:
    _race(kind, tmp_path, postgres_url)
    study = optuna.load_study(study_name="race", storage=postgres_url)
    assert study.user_attrs["kind"] == kind
    assert len(study.get_trials()) == (20 if kind == "bench" else 0)
    optuna.delete_study(study_name="race", storage=postgres_url)
