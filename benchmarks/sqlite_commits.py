"""What one Optuna attribute write costs in SQLite: the default rollback journal against the
write-ahead log nasbench uses (``nasbench.study.storage.use_write_ahead_log``), interleaved.

    python benchmarks/sqlite_commits.py [--writes 300] [--repeats 5]

Each repeat writes ``--writes`` user attributes to one trial of a fresh study in each mode, in
a rotating order, and prints the milliseconds per write: median (min-max) over repeats, and the
ratio WAL / default. A search commits about 40 such writes per trial.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def per_write_ms(path: Path, wal: bool, writes: int) -> float:
    """Milliseconds per ``set_user_attr`` on a fresh study at ``path``."""
    import optuna

    from nasbench.study.storage import use_write_ahead_log

    storage = optuna.storages.RDBStorage(f"sqlite:///{path}",
                                         engine_kwargs={"connect_args": {"timeout": 60}})
    if wal:
        use_write_ahead_log(storage.engine)
    study = optuna.create_study(storage=storage, directions=["maximize", "minimize"])
    trial = study.ask()
    start = time.perf_counter()
    for i in range(writes):
        trial.set_user_attr(f"k{i}", i)
    return (time.perf_counter() - start) / writes * 1e3


def main() -> int:
    import optuna

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writes", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    times: dict[str, list[float]] = {"default journal": [], "write-ahead log": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            order = list(times) if r % 2 == 0 else list(reversed(times))
            for mode in order:
                times[mode].append(per_write_ms(Path(tmp) / f"{r}-{mode[0]}.db",
                                                mode == "write-ahead log", args.writes))
    print(f"{args.writes} attribute writes per study, {args.repeats} repeats (rotating order), "
          f"optuna {optuna.__version__}, temp folder {tempfile.gettempdir()}")
    for mode, values in times.items():
        print(f"  {mode:16s} {statistics.median(values):6.2f} ms per write "
              f"({min(values):.2f}-{max(values):.2f})")
    ratio = statistics.median(times["write-ahead log"]) / statistics.median(times["default journal"])
    print(f"  ratio WAL / default: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
