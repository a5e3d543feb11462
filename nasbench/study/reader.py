"""Reading a study's trials in time that grows with what changed, for the results table.

Optuna's ``study.get_trials()`` loads every trial through its ORM (every parameter, attribute
and value as an object), which at 10,000 trials takes seconds, and the dashboard asks again
every few seconds. A finished trial never changes, so :class:`TrialReader` keeps what it read
and, on each :meth:`~TrialReader.refresh`, reads only:

- trials it has not seen (by ``trial_id``), and
- trials it saw unfinished (running or waiting): their attributes grow while they run.

On a relational storage (SQLite, PostgreSQL) it reads with a handful of plain SQL queries over
Optuna's tables, inside one read transaction (a snapshot: a trial is never read half-written,
and one whose state says complete has all it wrote before it finished). Other storages fall
back to Optuna's API (everything, every time).

The trials come back as Optuna :class:`~optuna.trial.FrozenTrial` objects, so the table's rows
are derived by the same code whichever way they were read.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import gc
import json
import math
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import optuna
import sqlalchemy
from optuna.trial import FrozenTrial, TrialState

from nasbench.errors import DamagedValue
from nasbench.study.storage import _engine as storage_engine

_UNFINISHED = ("RUNNING", "WAITING")


class StorageUnreachable(RuntimeError):
    """The storage could not be read (server down, file gone); the reader keeps what it had."""


@dataclass
class Refresh:
    """What one :meth:`TrialReader.refresh` did."""

    read: int = 0
    """Trials read from the storage this time."""
    total: int = 0
    """Trials known after it."""
    changed: bool = False
    """Whether any trial or study attribute changed since the previous refresh."""
    trial_ids: list[int] = field(default_factory=list)
    """Storage ids of the trials read this time."""


class TrialReader:
    """The trials of one study, kept in memory and brought up to date incrementally.

    Thread-safe: the dashboard shares one reader between its sessions.
    """

    def __init__(self, study: optuna.Study) -> None:
        self.study = study
        self.trials: dict[int, optuna.trial.FrozenTrial] = {}  # by trial_id
        self.user_attrs: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._attrs_key = ""

    def refresh(self) -> Refresh:
        """Read what is new or unfinished since the last refresh (everything the first time).

        Raises :class:`StorageUnreachable` when the storage cannot be read; what was read
        before stays, and the next refresh tries again.
        """
        with self._lock, _collector_paused():
            try:
                engine = _engine(self.study)
                if engine is None:
                    return self._refresh_api()
                return self._refresh_sql(engine)
            except (StorageUnreachable, DamagedValue):
                raise
            except json.JSONDecodeError as exc:  # Optuna's own reads of a damaged value
                raise DamagedValue(f"a stored attribute is not JSON: {exc}") from None
            except Exception as exc:  # SQLAlchemy, the DB driver, Optuna: many kinds
                raise StorageUnreachable(f"cannot read the study's storage: "
                                         f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
                                         ) from exc

    # ----------------------------------------------------------------------------- reading

    def _refresh_api(self) -> Refresh:
        trials = self.study.get_trials(deepcopy=False)
        attrs = dict(self.study.user_attrs)
        before = {t._trial_id: t for t in self.trials.values()}
        self.trials = {t._trial_id: t for t in trials}
        changed = (self._set_attrs(attrs) or len(before) != len(trials)
                   or any(before.get(t._trial_id) is not t for t in trials))
        return Refresh(read=len(trials), total=len(trials), changed=changed,
                       trial_ids=[t._trial_id for t in trials])

    def _refresh_sql(self, engine: Any) -> Refresh:
        if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
            if not Path(engine.url.database).is_file():  # connecting would create an empty one
                raise StorageUnreachable(f"the study file {engine.url.database} is gone")
        study_id = self.study._study_id
        with engine.connect() as con:  # every query below in one snapshot of the storage
            if con.dialect.name == "postgresql":
                con = con.execution_options(isolation_level="REPEATABLE READ")
            elif con.dialect.name == "sqlite":  # the driver would not begin a read transaction
                con.exec_driver_sql("BEGIN")
            try:
                rows = con.execute(sqlalchemy.text(
                    "SELECT trial_id, state FROM trials WHERE study_id = :s"), {"s": study_id}).all()
                wanted = [int(tid) for tid, state in rows
                          if int(tid) not in self.trials or _name(state) in _UNFINISHED
                          or self.trials[int(tid)].state.name != _name(state)]
                read = _read_trials(con, study_id, wanted, max(self.trials, default=0))
                attrs = {k: json.loads(v) for k, v in con.execute(sqlalchemy.text(
                    "SELECT key, value_json FROM study_user_attributes WHERE study_id = :s"),
                    {"s": study_id}).all()}
            finally:
                con.rollback()  # read only: end the snapshot
        changed = self._set_attrs(attrs)
        gone = set(self.trials) - {int(tid) for tid, _ in rows}
        for tid in gone:  # deleted behind our back (a copied study, a test): forget them
            del self.trials[tid]
        for trial in read:
            old = self.trials.get(trial._trial_id)
            if old is None or not _same(old, trial):
                changed = True
            self.trials[trial._trial_id] = trial
        return Refresh(read=len(read), total=len(self.trials), changed=changed or bool(gone),
                       trial_ids=[t._trial_id for t in read])

    def _set_attrs(self, attrs: dict[str, Any]) -> bool:
        key = json.dumps(attrs, sort_keys=True, default=str)
        changed = key != self._attrs_key
        self.user_attrs, self._attrs_key = attrs, key
        return changed


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector paused while a read allocates its many small objects (a
    first read of 10,000 trials: hundreds of thousands, and the collector would sweep them again
    and again); nothing read holds cycles. Restored afterwards as it was."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _engine(study: optuna.Study) -> Any:

    return storage_engine(study)


def _name(state: Any) -> str:
    return str(getattr(state, "name", state))


def _same(a: optuna.trial.FrozenTrial, b: optuna.trial.FrozenTrial) -> bool:
    return (a.state == b.state and a.values == b.values and a.user_attrs == b.user_attrs
            and a.system_attrs == b.system_attrs)


def _read_trials(con: Any, study_id: int, ids: list[int],
                 known_max: int) -> list[optuna.trial.FrozenTrial]:
    """The trials ``ids`` of study ``study_id`` as frozen trials (without parameters: nasbench
    keeps the architecture in the ``arch`` attribute), with four queries.

    Ids above ``known_max`` are read by range (the first read: all of them), the others
    (running trials, and trials another worker committed late under a lower id) by list.
    """
    if not ids:
        return []
    listed = sorted(i for i in ids if i <= known_max)
    where = "t.study_id = :s AND (t.trial_id > :after"
    bind: dict[str, int] = {"s": study_id, "after": known_max}
    if listed:
        where += " OR t.trial_id IN (" + ", ".join(f":i{k}" for k in range(len(listed))) + ")"
        bind.update({f"i{k}": tid for k, tid in enumerate(listed)})
    where += ")"

    cursor = con.connection.dbapi_connection.cursor()  # plain tuples: no SQLAlchemy rows
    if con.dialect.name != "sqlite":  # sqlite3 takes :name; psycopg and others %(name)s
        where = re.sub(r":(\w+)", r"%(\1)s", where)

    def query(sql: str) -> list[Any]:
        cursor.execute(sql.replace("WHERE_T", where), bind)
        return cursor.fetchall()

    def attributes(table: str) -> dict[int, dict[str, Any]]:
        rows = query(f"SELECT a.trial_id, a.key, a.value_json FROM {table} a JOIN trials t ON "
                     f"a.trial_id = t.trial_id WHERE WHERE_T")
        try:
            decoded = json.loads("[" + ",".join(r[2] for r in rows) + "]")  # one parse, not one per row
        except json.JSONDecodeError:
            for tid, key, value in rows:  # which one: said in the message
                try:
                    json.loads(value)
                except json.JSONDecodeError:
                    raise DamagedValue(f"trial id {tid}, attribute {key!r} is not JSON") from None
            raise
        out: dict[int, dict[str, Any]] = {}
        for (tid, key, _), value in zip(rows, decoded):
            out.setdefault(tid, {})[key] = value
        return out

    user = attributes("trial_user_attributes")
    system = attributes("trial_system_attributes")
    values: dict[int, dict[int, float]] = {}
    for tid, objective, value, kind in query("SELECT v.trial_id, v.objective, v.value, v.value_type "
                                             "FROM trial_values v JOIN trials t ON v.trial_id = "
                                             "t.trial_id WHERE WHERE_T"):
        values.setdefault(tid, {})[int(objective)] = _value(value, kind)
    wanted = set(ids)
    return [_frozen(tid, number, _name(state), start, complete, values.get(tid), user.get(tid, {}),
                    system.get(tid, {}))
            for tid, number, state, start, complete in query(
                "SELECT t.trial_id, t.number, t.state, t.datetime_start, t.datetime_complete "
                "FROM trials t WHERE WHERE_T")
            if tid in wanted]


def _value(value: float | None, kind: Any) -> float:
    kind = _name(kind)
    if kind == "INF_POS":
        return math.inf
    if kind == "INF_NEG":
        return -math.inf
    return float(value) if value is not None else math.nan


def _local(stamp: Any) -> datetime.datetime | None:
    """A naive-UTC stamp from the database (SQLite gives text) as naive local time, as Optuna
    shows it."""
    if stamp is None:
        return None
    if isinstance(stamp, str):
        stamp = datetime.datetime.fromisoformat(stamp)
    return stamp + _utc_offset(stamp.replace(minute=0, second=0, microsecond=0))


@functools.lru_cache(maxsize=4096)
def _utc_offset(hour: datetime.datetime) -> datetime.timedelta:
    """The local time zone's offset from UTC at a UTC hour (clocks change on the hour)."""
    local = hour.replace(tzinfo=datetime.timezone.utc).astimezone()
    return local.utcoffset() or datetime.timedelta(0)


def _frozen(trial_id: int, number: int, state: str, start: Any, complete: Any,
            values: dict[int, float] | None, user_attrs: dict[str, Any],
            system_attrs: dict[str, Any]) -> optuna.trial.FrozenTrial:
    return FrozenTrial(number=number, state=TrialState[state], value=None,
                       values=[values[k] for k in sorted(values)] if values else None,
                       datetime_start=_local(start), datetime_complete=_local(complete),
                       params={}, distributions={}, user_attrs=user_attrs,
                       system_attrs=system_attrs, intermediate_values={}, trial_id=trial_id)
