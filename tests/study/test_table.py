"""The incremental results table (``nasbench.study.reader``, ``ResultsTable``): the same table as a
full read, reading only what changed, consistent while workers write, and an unreachable
storage said in one line and recovered from. SQLite and a real PostgreSQL server."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from nasbench.study.study_record import Confirmation
from nasbench.study.results import _row, annotate, COLUMNS, ResultsTable
from nasbench.study.storage import open_run
from nasbench.workflows.search import run_search
from nasbench.workflows.search_study import open_study
from nasbench.workflows.settings import SearchConfig
from nasbench.study.reader import StorageUnreachable, TrialReader

ROOT = Path(__file__).resolve().parents[2]
BASE = dict(space="tiny", epochs=1, threads=1, latency_time_s=0.05, sampler="random")


def _full_read(study: optuna.Study) -> pd.DataFrame:
    """The table from Optuna's own full read (how it was built before the reader)."""
    attrs = study.user_attrs
    rows = [_row(t, attrs.get("space", ""), attrs.get("dataset", ""))
            for t in study.get_trials(deepcopy=False)]
    return annotate(pd.DataFrame(rows, columns=list(COLUMNS)), attrs.get("n_val"),
                    Confirmation.from_attr(attrs.get("confirmation")))


def _same_table(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.reset_index(drop=True).astype(object),
                                  b.reset_index(drop=True).astype(object), check_dtype=False)


def _fresh(url: str, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=url)


@pytest.fixture(params=["sqlite", "postgresql"])
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        return request.getfixturevalue("postgres_url")
    return f"sqlite:///{tmp_path}/study.db"


def test_same_table_as_a_full_read_and_only_changes_are_read(storage_url: str,
                                                             tmp_path: Path) -> None:
    name = f"incremental-{time.monotonic_ns()}"
    config = SearchConfig(**BASE, budget=4, storage=storage_url, study=name,
                          runs_dir=str(tmp_path), max_params=12_000)
    run_search(config)
    table = ResultsTable(open_run(storage_url, name))
    first = table.refresh()
    assert len(first) == 4 and table.reader.refresh().read == 0  # finished trials: never again
    _same_table(first, _full_read(_fresh(storage_url, name)))
    assert table.refresh() is first  # nothing changed: the same frame, nothing rebuilt

    # A trial that runs: read while running, and once more when it finishes.
    study = open_study(config)
    running = study.ask()
    running.set_user_attr("arch", "res8_in1_cls10:stem_c8_k3_s1_arelu:head")
    frame = table.refresh()
    assert len(frame) == 5 and frame["state"].iloc[-1] == "RUNNING"
    assert table.reader.refresh().read == 1  # only the running one
    running.set_user_attr("note", "still going")
    assert table.reader.refresh().read == 1
    study.tell(running, state=optuna.trial.TrialState.FAIL)
    frame = table.refresh()
    assert frame["state"].iloc[-1] == "FAIL"
    assert table.reader.refresh().read == 0

    # The search goes on: only its new trials are read; the table matches a full read again.
    run_search(SearchConfig(**BASE, budget=6, storage=storage_url, study=name,
                            runs_dir=str(tmp_path), max_params=12_000))
    before = set(table.reader.trials)
    done = table.reader.refresh()
    assert set(done.trial_ids).isdisjoint(before) and done.read == len(table.reader.trials) - 5
    _same_table(table.refresh(), _full_read(_fresh(storage_url, name)))


@pytest.mark.e2e
def test_reader_while_workers_write_shows_no_half_written_trial(storage_url: str,
                                                                tmp_path: Path) -> None:
    """Two worker processes write a study while the table is refreshed as fast as it can be:
    no error, and every row whose state says complete has all its figures."""
    name = f"busy-{time.monotonic_ns()}"
    proc = subprocess.Popen([sys.executable, "cli.py", "search", "--space", "tiny", "--epochs", "1",
                             "--sampler", "random", "--budget", "5", "--workers", "2",
                             "--no-confirm", "--storage", storage_url, "--study", name,
                             "--runs-dir", str(tmp_path)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    table = None
    refreshes, seen_running = 0, False
    try:
        while proc.poll() is None:
            if table is None:
                try:
                    table = ResultsTable(open_run(storage_url, name))
                except ValueError:  # the study is not created yet
                    time.sleep(0.05)
                    continue
            frame = table.refresh()
            refreshes += 1
            time.sleep(0.01)  # leave the workers a core
            seen_running |= bool((frame["state"] == "RUNNING").any())
            complete = frame[frame["state"] == "COMPLETE"]
            for column in ("arch", "params", "macs", "latency_ms", "val_acc", "train_time_s"):
                assert complete[column].notna().all(), (column, complete)
    finally:
        _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert table is not None and refreshes > 5 and seen_running
    final = table.refresh()
    assert (final["state"] == "COMPLETE").sum() == 5
    _same_table(final, _full_read(_fresh(storage_url, name)))


def test_sqlite_file_gone_then_back(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    run_search(SearchConfig(**BASE, budget=2, runs_dir=str(runs), study="gone"))
    db = runs / "gone" / "study.db"
    table = ResultsTable(open_run(str(runs / "gone")))
    frame = table.refresh()
    shutil.move(db, tmp_path / "away.db")
    with pytest.raises(StorageUnreachable, match="gone"):
        table.refresh()
    assert not db.exists()  # reading never creates an empty database
    assert table.last_frame is frame
    shutil.move(tmp_path / "away.db", db)
    assert len(table.refresh()) == 2


def test_postgresql_down_then_back_in_the_table_and_the_dashboard(tmp_path: Path) -> None:
    from postgres import PostgresServer, server_bin

    if server_bin() is None:
        pytest.skip("needs Debian's postgresql package (bash setup.sh --test installs it)")
    server = PostgresServer()
    try:
        run_search(SearchConfig(**BASE, budget=2, storage=server.url, study="flaky",
                                runs_dir=str(tmp_path)))
        table = ResultsTable(open_run(server.url, "flaky"))
        assert len(table.refresh()) == 2
        app = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120)
        app.query_params["source"] = server.url
        app.run()
        assert not app.exception and not app.warning
        server.stop()
        with pytest.raises(StorageUnreachable, match="cannot read"):
            table.refresh()
        app.run()
        assert not app.exception
        warnings = [w.value for w in app.warning]
        assert len(warnings) == 1 and "\n" not in warnings[0]
        assert "cannot read the study's storage" in warnings[0] and "retrying" in warnings[0]
        assert any(m.label == "complete" and m.value == "2" for m in app.metric)  # last figures
        server.start()
        assert len(table.refresh()) == 2
        app.run()
        assert not app.exception and not app.warning
    finally:
        server.remove()


def test_reader_of_a_storage_without_sql_uses_optunas_api() -> None:
    study = optuna.create_study(directions=["maximize", "minimize"])  # in memory
    trial = study.ask()
    trial.set_user_attr("arch", "x")
    study.tell(trial, [0.5, 1.0])
    reader = TrialReader(study)
    done = reader.refresh()
    assert done.read == 1 and done.changed
    assert not reader.refresh().changed
    assert len(ResultsTable(study).refresh()) == 1


def test_a_reader_skips_optunas_schema_check_only_for_the_current_schema(tmp_path: Path) -> None:
    import sqlite3

    from nasbench.study.storage import alembic_head, open_run, schema_is_current

    url = f"sqlite:///{tmp_path / 'study.db'}"
    optuna.create_study(storage=url, study_name="s")
    assert alembic_head() and schema_is_current(url)
    assert open_run(str(tmp_path)).study_name == "s"
    with sqlite3.connect(tmp_path / "study.db") as con:  # a schema from a newer Optuna
        con.execute("UPDATE alembic_version SET version_num = 'v9.9.9.a'")
    assert not schema_is_current(url)
    with pytest.raises(ValueError, match="cannot read storage"):  # Optuna's own check refuses it
        open_run(str(tmp_path))
    assert not schema_is_current(f"sqlite:///{tmp_path / 'none.db'}")
