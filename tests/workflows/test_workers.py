"""Many workers on one study (SQLite and a real PostgreSQL server), crashes, the quiet slot."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from nasbench.measure.quiet import QuietSlot

ROOT = Path(__file__).resolve().parents[2]
QUICK = ["--space", "tiny", "--epochs", "1", "--sampler", "random", "--no-confirm"]  # confirmation: tests/study/test_noise.py


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "cli.py", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


def _check_exact(storage: str, study_name: str, budget: int) -> None:
    study = optuna.load_study(study_name=study_name, storage=storage)
    trials = study.get_trials()
    states = [t.state.name for t in trials]
    assert states.count("COMPLETE") == budget, states
    assert "RUNNING" not in states and "WAITING" not in states  # none lost in flight
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers))  # none counted twice
    # Every complete trial carries its own measurements (not half-written).
    for t in trials:
        if t.state.name == "COMPLETE":
            assert {"arch", "params", "macs", "latency"} <= set(t.user_attrs)


@pytest.mark.e2e
def test_three_workers_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    proc = _cli("search", *QUICK, "--budget", "7", "--workers", "3", "--storage", postgres_url,
                "--study", "pg3", "--runs-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "7 complete" in proc.stdout
    _check_exact(postgres_url, "pg3", 7)
    # Another "machine" joins the finished study: nothing more to do, nothing added.
    proc = _cli("worker", "--storage", postgres_url, "--study", "pg3", "--runs-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    _check_exact(postgres_url, "pg3", 7)


@pytest.mark.e2e
def test_three_workers_on_the_local_default(tmp_path: Path) -> None:
    proc = _cli("search", *QUICK, "--budget", "7", "--workers", "3", "--study", "local3",
                "--runs-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    _check_exact(f"sqlite:///{tmp_path / 'local3' / 'study.db'}", "local3", 7)
    assert (tmp_path / "local3" / "results.csv").is_file()


@pytest.mark.e2e
def test_worker_killed_mid_trial_is_detected_and_retried(tmp_path: Path) -> None:
    # 8 epochs (not QUICK's 1): each trial's training lasts long enough for the poll to see it
    # and for the kill to land before it ends (with 1 epoch, a CI run under load once saw none
    # of the 4 in time; with 3 and training threads that get their cores, a trial seen running
    # had once finished when the kill landed).
    args = ("search", *QUICK, "--epochs", "8", "--budget", "5", "--heartbeat", "1", "--study",
            "crash", "--runs-dir", str(tmp_path))
    storage = f"sqlite:///{tmp_path / 'crash' / 'study.db'}"
    log = tmp_path / "search.log"
    with log.open("w") as err:
        proc = subprocess.Popen([sys.executable, "cli.py", *args], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=err)
    victim, study = None, None
    deadline = time.time() + 240
    while time.time() < deadline and victim is None and proc.poll() is None:
        time.sleep(0.05)
        try:
            study = study or optuna.load_study(study_name="crash", storage=storage)
            trials = study.get_trials()
        except Exception:
            continue
        running = [t for t in trials if t.state.name == "RUNNING" and "latency" in t.user_attrs]
        if running and sum(t.state.name == "COMPLETE" for t in trials) >= 1:
            proc.send_signal(signal.SIGKILL)  # mid-trial: measured, now training
            victim = running[0]
    proc.wait()
    assert victim is not None, (proc.returncode, log.read_text()[-2000:])
    study = optuna.load_study(study_name="crash", storage=storage)  # readable after SIGKILL
    before = sum(t.state.name == "COMPLETE" for t in study.get_trials())
    stale = [t for t in study.get_trials() if t.state.name == "RUNNING"]
    assert len(stale) == 1 and "latency" in stale[0].user_attrs, [t.state for t in study.get_trials()]
    victim = stale[0]  # the trial the kill landed in (the one seen running, unless it had ended)
    resumed = _cli(*args)
    assert resumed.returncode == 0, resumed.stderr
    trials = optuna.load_study(study_name="crash", storage=storage).get_trials()
    after = sum(t.state.name == "COMPLETE" for t in trials)
    assert before < 5 and after == 5  # the killed worker's trial was not counted, nor lost
    assert trials[victim.number].state.name == "FAIL"
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == victim.number]
    assert retries and retries[0].user_attrs["arch"] == victim.user_attrs["arch"]


def _take_a_trial_and_die(storage: str, study_name: str) -> int:
    """A worker that takes a trial and dies before its first heartbeat: ``ask`` records none
    (Optuna's heartbeat thread starts after it). Returns the trial's number."""
    script = (f"import optuna; s = optuna.load_study(study_name={study_name!r}, storage={storage!r}); "
              f"print(s.ask().number)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         timeout=120).stdout
    return int(out.strip().splitlines()[-1])


@pytest.mark.e2e
@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_a_worker_killed_before_its_first_heartbeat_is_detected_and_retried(
        db: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Optuna never fails a running trial without any heartbeat, so the other workers waited
    for it for ever (the budget counts it as in flight). Ours fail it once it is older than the
    grace period (3 heartbeats), and retry its architecture."""
    url = (request.getfixturevalue("postgres_url") if db == "postgresql"
           else f"sqlite:///{tmp_path / 'early' / 'study.db'}")
    args = ("search", *QUICK, "--heartbeat", "1", "--study", "early", "--runs-dir", str(tmp_path),
            "--storage", url)
    first = _cli(*args, "--budget", "1")
    assert first.returncode == 0, first.stderr
    dead = _take_a_trial_and_die(url, "early")
    assert optuna.load_study(study_name="early", storage=url).get_trials()[dead].state.name == "RUNNING"
    resumed = subprocess.run([sys.executable, "cli.py", *args, "--budget", "3"], cwd=ROOT,
                             capture_output=True, text=True, timeout=180)
    assert resumed.returncode == 0, resumed.stderr
    trials = optuna.load_study(study_name="early", storage=url).get_trials()
    assert trials[dead].state.name == "FAIL"
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == dead]
    assert len(retries) == 1 and retries[0].state.name == "COMPLETE"
    _check_exact(url, "early", 3)
    if db == "postgresql":
        optuna.delete_study(study_name="early", storage=url)


@pytest.mark.e2e
def test_a_bench_worker_killed_before_its_first_heartbeat_is_retried(tmp_path: Path) -> None:
    """The same for a bench, whose trials are queued: the architecture the dead worker took is
    evaluated by the resumed bench, and the bench finishes."""
    url = f"sqlite:///{tmp_path / 'b' / 'study.db'}"
    args = ("bench", "--space", "tiny", "--sample", "2", "--seeds", "1", "--epochs", "1",
            "--heartbeat", "1", "--study", "b", "--runs-dir", str(tmp_path))
    script = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); from nasbench.workflows.bench_run import open_bench; "
              f"from nasbench.workflows.settings import BenchConfig; from nasbench.workflows.loading import load_search_data; c = BenchConfig(space='tiny', "
              f"sample=2, seeds=1, epochs=1, heartbeat_s=1, study='b', runs_dir={str(tmp_path)!r}); "
              f"open_bench(c, load_search_data(c))")
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    queued = len(optuna.load_study(study_name="b", storage=url).get_trials())
    dead = _take_a_trial_and_die(url, "b")
    resumed = subprocess.run([sys.executable, "cli.py", *args], cwd=ROOT, capture_output=True,
                             text=True, timeout=180)
    assert resumed.returncode == 0, resumed.stderr
    trials = optuna.load_study(study_name="b", storage=url).get_trials()
    assert trials[dead].state.name == "FAIL"
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == dead]
    assert len(retries) == 1 and retries[0].state.name == "COMPLETE"
    assert retries[0].params == trials[dead].system_attrs["fixed_params"]  # the queued architecture
    assert sum(t.state.name == "COMPLETE" for t in trials) == queued


@pytest.mark.e2e
def test_quiet_slot_excludes_training_while_measuring(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", f"""
import time, sys
sys.path.insert(0, {str(ROOT)!r})
from nasbench.measure.quiet import QuietSlot
slot = QuietSlot({str(tmp_path)!r})
with slot.shared():
    print("held", flush=True)
    time.sleep(1.5)
"""], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    slot = QuietSlot(tmp_path)
    start = time.perf_counter()
    with slot.exclusive():
        waited = time.perf_counter() - start
    holder.wait()
    assert waited > 0.8  # the measurement waited for the training step in flight
    start = time.perf_counter()
    with slot.exclusive():
        pass
    assert time.perf_counter() - start < 0.5
