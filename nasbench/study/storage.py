"""The study storage: opening a study for writing (:func:`open_storage_study`: lock, check,
set-up) and for reading (:func:`open_run`), and cheap questions to it.

Counts by state and the last finished trial: Optuna's storages answer them by loading every
trial; on a relational storage (SQLite, PostgreSQL) one SQL query does, which keeps the
polling of progress lines and worker loops from costing a core on a study of thousands of
trials (a bench holds one per architecture and pass). Other storages fall back to Optuna's API.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import functools
import os
import re
import sqlite3
import tempfile
import time
import warnings
import zlib
from pathlib import Path
from typing import Any, Callable, Iterator

import optuna
import sqlalchemy
from optuna.storages import RDBStorage
from optuna.storages._rdb.models import SCHEMA_VERSION

from nasbench.errors import DamagedValue, SearchError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

_FINISHED = ("COMPLETE", "FAIL", "PRUNED")


def _rdb(study: optuna.Study):  # type: ignore[no-untyped-def]
    """The study's relational storage (``None`` for other storages)."""
    storage = study._storage
    storage = getattr(storage, "_backend", storage)  # a cached storage wraps the RDB one
    return storage if isinstance(storage, RDBStorage) else None


def _engine(study: optuna.Study):  # type: ignore[no-untyped-def]
    rdb = _rdb(study)
    return rdb.engine if rdb is not None else None


def count_states(study: optuna.Study) -> dict[str, int]:
    """Number of trials per state name."""
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
    @sqlalchemy.event.listens_for(engine, "connect")
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
    sidecars = [path.with_name(path.name + end) for end in ("-wal", "-shm")]
    there = {p for p in sidecars if p.exists()}
    con = None
    try:
        try:
            con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
            rows = con.execute("PRAGMA quick_check").fetchall()
        except sqlite3.DatabaseError as exc:
            if "file is not a database" in str(exc):  # SQLITE_NOTADB: the header is not SQLite's
                raise _not_a_database(path, "not SQLite") from None
            if "unable to open" in str(exc) and not _writable(path.parent):
                raise ValueError(f"the run folder {path.parent} is read-only, and SQLite writes "
                                 f"beside a study's database ({path.name}-shm) even to read it; "
                                 f"copy the folder somewhere writable and give that") from None
            raise corrupt(path, str(exc)) from None
        finally:
            if con is not None:
                con.close()
        if rows != [("ok",)]:
            raise corrupt(path, str(rows[0][0])[:120])
    except ValueError:
        # A damaged database is used by no one: the log files this check made SQLite create
        # beside it go again, so that "nothing was written" holds.
        for made in set(sidecars) - there:
            made.unlink(missing_ok=True)
        raise


def check_study_writable(url: str) -> None:
    """Raise ``ValueError`` when the SQLite study at ``url`` cannot be written (a read-only
    file, folder or mount): asked of SQLite itself, by taking its write lock and letting go at
    once, before a command spends time on work it could not store. Other storages pass."""
    path = sqlite_path(url)
    if path is None:
        return
    con = None
    try:
        con = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=30, isolation_level=None)
        con.execute("BEGIN IMMEDIATE")
        con.execute("ROLLBACK")
    except sqlite3.OperationalError as exc:
        raise ValueError(f"the study database {path} cannot be written ({exc}); make it and its "
                         f"folder writable, or copy the run somewhere writable and give that") from None
    finally:
        if con is not None:
            con.close()


def _writable(folder: Path) -> bool:
    """Whether a file can be created in ``folder`` (tried: permissions do not say for root or
    a read-only mount)."""
    try:
        fd, name = tempfile.mkstemp(dir=folder, prefix=".nasbench-probe-")
    except OSError:
        return False
    os.close(fd)
    os.unlink(name)
    return True


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


# ------------------------------------------------------------ opening a study

def engine_options(url: str) -> dict[str, Any]:
    """SQLAlchemy options for a study storage used over a long session (a search, the
    dashboard): wait for a busy SQLite file; check a server connection before use, so a
    restarted server is picked up again, and give up on an unreachable one after 10 s."""
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 60}}
    return {"pool_pre_ping": True, "connect_args": {"connect_timeout": 10}}


def make_storage(url: str, heartbeat_s: int) -> optuna.storages.RDBStorage:
    """An RDB storage with heartbeats: a trial whose worker died (no heartbeat for 3 intervals)
    is failed by the next worker and its architecture retried (twice at most)."""
    if not url.startswith(("sqlite:///", "postgresql://", "postgresql+psycopg://",
                          "postgresql+psycopg2://", "mysql")):
        raise SearchError(f"unsupported storage URL {url!r}; use sqlite:///path/study.db or "
                          f"postgresql://user:password@host/database")
    engine_kwargs = engine_options(url)
    with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        storage = optuna.storages.RDBStorage(
            url, engine_kwargs=engine_kwargs, heartbeat_interval=heartbeat_s,
            grace_period=3 * heartbeat_s,
            heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=2))
    if url.startswith("sqlite"):
        use_write_ahead_log(storage.engine)
    return storage


def open_storage_study(url: str, name: str, heartbeat_s: int, directions: list[str],
                       sampler: optuna.samplers.BaseSampler, run_dir: Path | None,
                       set_up: Callable[[optuna.Study], None]) -> optuna.Study:
    """Create or load study ``name`` in the storage at ``url`` (making ``run_dir`` first for
    the default SQLite file), then ``set_up(study)`` (record or check its settings), all under
    the study's creation lock so that processes starting one new study at once see it whole.
    Every storage failure becomes a :class:`SearchError`."""
    if run_dir is not None:
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SearchError(f"cannot create {run_dir} ({exc.strerror}); choose a writable "
                              f"--runs-dir") from None
        if not os.access(run_dir, os.W_OK):
            raise SearchError(f"{run_dir} is not writable; choose a writable --runs-dir")
    try:
        with creation_lock(url, name):
            try:
                check_database(url)  # never write into a damaged database
            except ValueError as exc:
                raise SearchError(str(exc)) from None
            for attempt in range(3):  # two studies' first use of one new PostgreSQL database
                try:                  # can collide in Optuna's schema set-up
                    study = optuna.create_study(study_name=name, storage=make_storage(url, heartbeat_s),
                                                directions=directions, sampler=sampler,
                                                load_if_exists=True)
                    break
                except Exception as exc:
                    if attempt == 2 or not any(w in str(exc) for w in ("already exists", "UNIQUE",
                                                                       "duplicate key")):
                        raise
                    time.sleep(0.5)
            set_up(study)
            return study
    except (SearchError, DamagedValue):
        raise
    except ImportError:
        raise SearchError(f"no database driver for {url.split(':', 1)[0]}; "
                          f"pip install 'psycopg[binary]' (PostgreSQL) or use sqlite:///") from None
    except Exception as exc:  # storage errors come in many types (SQLAlchemy, OS, Optuna)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise SearchError(f"cannot open storage {url}: {type(exc).__name__}: "
                          f"{first[:200]}; check --storage") from None


def check_results_folder(url: str, run_dir: Path, name: str) -> None:
    """Raise :class:`SearchError` when ``run_dir``, where study ``name`` at ``url`` writes its
    tables, holds another study's database, or is its database's folder but the database
    holds other studies only (a renamed folder): that study's tables would be overwritten
    with this one's rows; or holds an imported table (``bench-import``: its ``bench.json``
    without a study), which a study there would hide."""
    own = sqlite_path(url)
    there = run_dir / "study.db"
    if not there.exists():
        if (run_dir / "bench.json").is_file():  # bench.files.META_FILE, a layer above this one
            raise SearchError(f"{run_dir} holds an imported table, which a study there would "
                              f"hide; choose another --study name or --runs-dir")
        return
    if own is None or own.resolve() != there.resolve():
        raise SearchError(f"{run_dir} holds another study's database ({there}), whose tables this "
                          f"study's would overwrite; choose another --study name or --runs-dir")
    try:
        check_database(url)
        con = sqlite3.connect(f"file:{there}?mode=ro", uri=True, timeout=30)
        try:
            names = [row[0] for row in con.execute("SELECT study_name FROM studies")]
        finally:
            con.close()
    except (ValueError, sqlite3.Error):
        return  # not a study database (yet): opening it says what is wrong
    if names and name not in names:
        raise SearchError(f"{there} holds study {', '.join(map(repr, names))}, not {name!r}; give "
                          f"--study {names[0]} to resume it, or another --study name")


def find_runs(runs_dir: str | Path) -> list[Path]:
    """Run folders under ``runs_dir`` (holding a ``study.db``, or an imported table's
    ``bench.json`` and ``table.parquet``), most recently changed first."""
    root = Path(runs_dir)
    if not root.is_dir():
        return []

    def marker(p: Path) -> Path | None:
        for name in ("study.db", "bench.json"):
            if (p / name).is_file() and (name == "study.db" or (p / "table.parquet").is_file()):
                return p / name
        return None
    runs = [(p, m) for p in root.iterdir() if (m := marker(p)) is not None]
    return [p for p, m in sorted(runs, key=lambda pm: pm[1].stat().st_mtime, reverse=True)]


def run_location(run: str, runs_dir: str | Path = "runs",
                 study_name: str | None = None) -> tuple[str, Path]:
    """The storage URL and the run folder of ``run``: a run folder, a study name under
    ``runs_dir`` or a storage URL (whose folder is ``runs_dir/<study_name>``, where its
    results are written). Raises ``ValueError`` when a folder holds no study."""
    if "://" in run:
        return run, Path(runs_dir) / (study_name or "study")
    path = Path(run)
    if not path.is_dir() and (Path(runs_dir) / run).is_dir():
        path = Path(runs_dir) / run
    db = path / "study.db"
    if not db.is_file():
        raise ValueError(f"no study found at {run} (expected {db}); give a run folder such as "
                         f"runs/<study>, a study name under {runs_dir}/, or a storage URL")
    return f"sqlite:///{db}", path


@functools.lru_cache(maxsize=1)
def alembic_head() -> str | None:
    """The newest schema revision of the installed Optuna, read from its migration scripts'
    text (importing alembic to ask it takes a third of a second), or ``None``."""
    folder = Path(optuna.storages.__file__).parent / "_rdb" / "alembic" / "versions"
    revisions, downs = set(), set()
    for path in folder.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        revision = re.search(r'^revision = "([^"]+)"', text, re.M)
        down = re.search(r'^down_revision = "([^"]+)"', text, re.M)
        if revision:
            revisions.add(revision.group(1))
        if down:
            downs.add(down.group(1))
    heads = revisions - downs
    return heads.pop() if len(heads) == 1 else None


def schema_is_current(url: str) -> bool:
    """Whether the SQLite database at ``url`` is at the installed Optuna's schema (its version
    and newest revision), read with two plain queries: then opening it for reading can skip
    Optuna's own check. ``False`` whenever it cannot tell (Optuna's check then runs and says
    what is wrong)."""
    head = alembic_head()
    path = url.removeprefix("sqlite:///")
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as con:
            version = con.execute("SELECT schema_version FROM version_info").fetchone()
            revision = con.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error:
        return False
    return (head is not None and version is not None and revision is not None
            and version[0] == SCHEMA_VERSION and revision[0] == head)


def open_run(run: str, study_name: str | None = None, runs_dir: str | Path = "runs") -> optuna.Study:
    """Open a study for reading from a run folder, a study name under ``runs_dir`` or a
    storage URL (see :func:`run_location`); never creates one.

    Raises ``ValueError`` naming the problem and the fix.
    """
    storage, _ = run_location(run, runs_dir, study_name)
    if storage.startswith("sqlite:"):
        check_database(storage, must_exist=True)  # never create a database where there is none
    try:
        current = storage.startswith("sqlite:") and schema_is_current(storage)
        opened = optuna.storages.get_storage(optuna.storages.RDBStorage(  # once: each opening
            storage, engine_kwargs=engine_options(storage),  # checks the schema, unless
            skip_compatibility_check=current, skip_table_creation=current))  # checked here
        names = optuna.get_all_study_names(opened)
    except Exception as exc:  # SQLAlchemy and Optuna raise many kinds
        check_database(storage)  # explains a damaged SQLite file
        raise ValueError(f"cannot read storage {storage}: {type(exc).__name__}; check the path or "
                         f"URL") from None
    if study_name is None:
        if len(names) != 1:
            raise ValueError(f"{storage} holds {len(names)} studies ({', '.join(names) or 'none'}); "
                             f"choose one with --study")
        study_name = names[0]
    elif study_name not in names:
        raise ValueError(f"no study {study_name!r} in {storage}; it holds: {', '.join(names) or 'none'}")
    try:
        study = optuna.load_study(study_name=study_name, storage=opened)
        count_states(study)  # read now (one cheap query): a damaged database says so here
    except Exception as exc:
        check_database(storage)
        raise ValueError(f"cannot read study {study_name!r} in {storage}: {type(exc).__name__}; "
                         f"check the storage") from None
    return study


def join_storage_study(url: str, name: str, heartbeat_s: int) -> optuna.Study:
    """Open the existing study ``name`` at ``url`` for a worker that joins it (heartbeats on,
    nothing set up). Raises :class:`SearchError` when there is no such study."""
    try:
        storage = make_storage(url, heartbeat_s)
        names = optuna.get_all_study_names(storage)
    except SearchError:
        raise
    except Exception as exc:  # storage errors come in many types (SQLAlchemy, OS, Optuna)
        raise SearchError(f"cannot open storage {url}: {type(exc).__name__}; check --storage") from None
    if name not in names:
        raise SearchError(f"no study {name!r} in {url} (it holds: {', '.join(names) or 'none'}); "
                          f"start it with python cli.py search --storage … --study {name}")
    return optuna.load_study(study_name=name, storage=storage)
