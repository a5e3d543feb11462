"""Cheap questions to a study's storage: counts by state, the last finished trial.

Optuna's storages answer them by loading every trial; on a relational storage (SQLite,
PostgreSQL) one SQL query does, which keeps the polling of progress lines and worker loops
from costing a core on a study of thousands of trials (a bench holds one per architecture
and pass). Other storages fall back to Optuna's API.
"""

from __future__ import annotations

import contextlib
import os
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    import optuna

_FINISHED = ("COMPLETE", "FAIL", "PRUNED")


def _rdb(study: optuna.Study):  # type: ignore[no-untyped-def]
    """The study's relational storage (``None`` for other storages)."""
    from optuna.storages import RDBStorage

    storage = study._storage
    storage = getattr(storage, "_backend", storage)  # a cached storage wraps the RDB one
    return storage if isinstance(storage, RDBStorage) else None


def _engine(study: optuna.Study):  # type: ignore[no-untyped-def]
    rdb = _rdb(study)
    return rdb.engine if rdb is not None else None


def count_states(study: optuna.Study) -> dict[str, int]:
    """Number of trials per state name."""
    import sqlalchemy

    engine = _engine(study)
    if engine is None:
        counts: dict[str, int] = {}
        for trial in study.get_trials(deepcopy=False):
            counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
        return counts
    with engine.connect() as con:
        rows = con.execute(sqlalchemy.text("SELECT state, COUNT(*) FROM trials WHERE study_id = :s "
                                           "GROUP BY state"), {"s": study._study_id}).all()
    return {str(getattr(state, "name", state)): int(n) for state, n in rows}


def last_finished(study: optuna.Study) -> optuna.trial.FrozenTrial | None:
    """The trial that finished last (``None`` when none has)."""
    import sqlalchemy

    engine = _engine(study)
    if engine is None:
        done = [t for t in study.get_trials(deepcopy=False) if t.state.is_finished()]
        return max(done, key=lambda t: t.datetime_complete or t.datetime_start) if done else None
    with engine.connect() as con:
        row = con.execute(sqlalchemy.text(
            "SELECT trial_id FROM trials WHERE study_id = :s AND state IN ('COMPLETE', 'FAIL', "
            "'PRUNED') ORDER BY datetime_complete DESC, trial_id DESC LIMIT 1"),
            {"s": study._study_id}).first()
    return study._storage.get_trial(row[0]) if row else None


def finished(counts: dict[str, int]) -> int:
    """Finished trials in ``counts`` (complete, failed or pruned)."""
    return sum(counts.get(state, 0) for state in _FINISHED)


def fail_dead_trials(study: optuna.Study) -> None:
    """Fail the trials of workers that died, so that their architectures are retried (by the
    storage's stale-trial callback, as Optuna does): Optuna's stale trials (no heartbeat for
    the storage's grace period) and the ones Optuna leaves running for ever, started more than
    a grace period ago and without any heartbeat: a worker killed between taking a trial and
    its first heartbeat. Start times are the workers' clocks: the machines' clocks must agree
    to well within the grace period."""
    import copy
    import datetime
    import warnings

    import optuna
    import sqlalchemy

    with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    rdb = _rdb(study)
    if rdb is None or rdb.heartbeat_interval is None:
        return
    grace_s = rdb.grace_period or 2 * rdb.heartbeat_interval  # Optuna's own default
    with rdb.engine.connect() as con:
        ids = [int(row[0]) for row in con.execute(sqlalchemy.text(
            "SELECT t.trial_id FROM trials t LEFT JOIN trial_heartbeats h ON h.trial_id = t.trial_id "
            "WHERE t.study_id = :s AND t.state = 'RUNNING' AND h.trial_id IS NULL"),
            {"s": study._study_id})]
    if not ids:
        return
    storage = study._storage
    cutoff = datetime.datetime.now() - datetime.timedelta(seconds=grace_s)
    failed = []
    for trial_id in ids:
        started = storage.get_trial(trial_id).datetime_start
        if started is None or started > cutoff:
            continue  # just taken: its first heartbeat is on its way
        try:
            if storage.set_trial_state_values(trial_id, state=optuna.trial.TrialState.FAIL):
                failed.append(trial_id)
        except optuna.exceptions.UpdateFinishedTrialError:  # another worker failed it first
            pass
    callback = storage.get_heartbeat_stale_trial_callback()
    if callback is not None:
        for trial_id in failed:
            callback(study, copy.deepcopy(storage.get_trial(trial_id)))


def use_write_ahead_log(engine) -> None:  # type: ignore[no-untyped-def]
    """Make an SQLite engine commit cheaply: write-ahead logging, synced at checkpoints.

    Optuna commits every parameter and attribute of a trial on its own (about 40 commits per
    trial); in SQLite's default rollback journal each commit syncs the file several times. In
    WAL mode with ``synchronous=NORMAL`` a commit appends to ``study.db-wal`` and syncs only at
    checkpoints: a killed process loses nothing committed, readers never block the writer, and
    SQLite folds the log back into ``study.db`` when the last connection closes. The mode is
    stored in the file, so every later reader and writer uses it. (WAL needs a local disk,
    not a network file system.) Read the file through SQLite only: a plain ``open()`` and
    ``close()`` in a process drops all its SQLite locks on the file (POSIX locks), and another
    process closing its last connection then deletes the log under it.
    """
    import sqlite3

    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _pragmas(connection, _record) -> None:  # type: ignore[no-untyped-def]
        cursor = connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError:  # another process holds it; it will be WAL next time
            pass
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    engine.dispose()  # connections opened before the listener are closed


def sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL (``None`` for other storages)."""
    if not url.startswith("sqlite:///"):
        return None
    return Path(url[len("sqlite:///"):])


def corrupt(path: Path, detail: str) -> ValueError:
    """The one-line error for a damaged study database, with how to recover."""
    return ValueError(f"the study database {path} is damaged ({detail}); nothing was written to it. "
                      f"Recover what can be read with: sqlite3 {path} .recover | sqlite3 "
                      f"{path.with_name('recovered.db')}, then use --storage "
                      f"sqlite:///{path.with_name('recovered.db')}")


def check_database(url: str, must_exist: bool = False) -> None:
    """Raise ``ValueError`` when an SQLite storage is not a database or fails SQLite's own
    integrity check (``PRAGMA quick_check``); other storages pass. Reads only."""
    import sqlite3

    path = sqlite_path(url)
    if path is None:
        return
    if not path.exists():
        if must_exist:
            raise ValueError(f"no study database at {path}; give a run folder or the storage URL "
                             f"of an existing study")
        return
    if path.stat().st_size == 0:
        raise _not_a_database(path, "empty")
    # Only through SQLite: a plain open() and close() of the file here would drop every POSIX
    # lock this process's SQLite connections hold on it, and another process closing its last
    # connection would then delete the write-ahead log under them (their commits lost).
    con = None
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        rows = con.execute("PRAGMA quick_check").fetchall()
    except sqlite3.DatabaseError as exc:
        if "file is not a database" in str(exc):  # SQLITE_NOTADB: the header is not SQLite's
            raise _not_a_database(path, "not SQLite") from None
        raise corrupt(path, str(exc)) from None
    finally:
        if con is not None:
            con.close()
    if rows != [("ok",)]:
        raise corrupt(path, str(rows[0][0])[:120])


def _not_a_database(path: Path, what: str) -> ValueError:
    return ValueError(f"{path} is not a study database ({what}); give a run folder written by "
                      f"nasbench, or another --storage")


@contextlib.contextmanager
def creation_lock(url: str, name: str) -> Iterator[None]:
    """Serialize the creation and first set-up of study ``name`` between processes: an SQLite
    storage takes a file lock on the database's folder, a PostgreSQL one an advisory lock keyed by
    the study's name. Without it, two processes starting the same new study can collide in
    Optuna's schema set-up, read a database file that is still being written, or both record
    the study's settings (a bench would queue its trials twice)."""
    path = sqlite_path(url)
    if path is not None and fcntl is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path.parent, os.O_RDONLY)  # the database's folder: no lock file left behind
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        return
    if url.startswith("postgresql"):
        import sqlalchemy

        key = zlib.crc32(f"nasbench-study:{name}".encode())
        engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool,
                                          connect_args={"connect_timeout": 10})
        try:
            with engine.connect() as con:
                con.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": key})
                try:
                    yield
                finally:
                    con.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
        finally:
            engine.dispose()
        return
    yield
