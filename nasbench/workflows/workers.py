"""Several processes on one study: workers started here, and a worker that joins a study
(a search's or a bench's) from this machine or another."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import optuna

from nasbench.workflows.bench_run import run_bench
from nasbench.errors import SearchError
from nasbench.measure.quiet import QuietSlot
from nasbench.workflows.search import run_search
from nasbench.workflows.settings import bench_config_of, search_config_of
from nasbench.study.study_record import StudyRecord
from nasbench.measure.conditions import check_workers
from nasbench.train.threads import usable_cores
from nasbench.study.storage import count_states, finished, join_storage_study, last_finished

Callback = Callable[[optuna.Study, optuna.trial.FrozenTrial], None]


def run_workers(config: Any, workers: int, study: optuna.Study, finish: Callable[[], Any],
                on_progress: Callback | None = None, poll_s: float = 1.0) -> Any:
    """Work on ``study`` (a search's or a bench's) with ``workers`` processes on this machine.

    Each worker is ``python -m nasbench worker`` (so this works from an installed package),
    with ``config.threads // workers`` training threads when threads are fixed, else governed
    threads up to its share of the usable cores (:mod:`nasbench.train.threads`). ``on_progress(study, trial)`` is
    called when a trial finishes; ``finish()`` gives the result once all workers are done.
    Ctrl-C is passed on to the workers, which leave the study intact, and raised again here.
    Raises :class:`SearchError` when a worker fails.
    """
    try:
        check_workers(workers)
    except ValueError as exc:
        raise SearchError(str(exc)) from None
    storage = config.storage_url
    if storage.startswith("sqlite:///") and not storage.startswith("sqlite:////"):
        storage = "sqlite:///" + str(Path(storage[len("sqlite:///"):]).resolve())
    if config.threads is not None:
        threads = ["--threads", str(max(1, config.threads // workers))]
    else:
        threads = ["--max-threads", str(max(1, (config.max_threads or usable_cores()) // workers))]
    procs = [subprocess.Popen([sys.executable, "-m", "nasbench", "worker", "--storage", storage,
                               "--study", config.study_name, "--runs-dir", config.runs_dir,
                               *threads, "--worker-index", str(i + 1), "--quiet"])
             for i in range(workers)]
    seen = -1
    try:
        while any(p.poll() is None for p in procs):
            done = finished(count_states(study))  # one SQL count, not every trial
            if on_progress is not None and done and done != seen:
                seen = done
                last = last_finished(study)
                if last is not None:
                    on_progress(study, last)
            time.sleep(poll_s)
    except KeyboardInterrupt:
        for p in procs:
            p.send_signal(signal.SIGINT)
        for p in procs:
            p.wait()
        raise
    bad = [p.returncode for p in procs if p.returncode != 0]
    if bad:
        raise SearchError(f"{len(bad)} worker(s) exited with an error (codes {bad}); run the same "
                          f"command again to resume")
    return finish()


def join_study(storage: str, study_name: str, runs_dir: str = "runs", threads: int | None = None,
               worker_index: int = 1, slot: QuietSlot | None = None, max_threads: int | None = None,
               progress: Callable[[int, int], Callable[[optuna.Study, Any], None]] | None = None) -> None:
    """Work on an existing search or bench study until it is done (a worker, from this
    machine or another). ``progress(budget, done)`` makes a search's progress callback."""
    study = join_storage_study(storage, study_name, 10)
    record = StudyRecord.of(study)
    where = dict(storage=storage, runs_dir=runs_dir, threads=threads, worker_index=worker_index,
                 max_threads=max_threads)
    if record.is_bench:
        run_bench(bench_config_of(record, study_name, **where), slot=slot)
    else:
        config = search_config_of(record, study_name, **where)
        run_search(config, callbacks=[progress(config.budget, 0)] if progress else [], slot=slot)
