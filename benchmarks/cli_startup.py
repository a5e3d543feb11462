"""How fast the commands that only read start, as whole processes: every command's ``--help``,
and ``results`` of a 1,000-trial study.

    python benchmarks/cli_startup.py [--repeats 5] [--trials 1000]

The study is written as ``benchmarks/results_scale.py`` writes it (100 trials of the real
search objective with a synthetic accuracy curve, then jittered copies through the trial
record). Each command runs ``--repeats`` times as ``python cli.py ...`` (interpreter start
included); printed: the median and range, and the modules the process imported that a
reading command never needs (torch, scipy, sklearn, fvcore). Goals: ``results`` of 1,000
trials <= 1.5 s, ``--help`` of any command <= 0.5 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
HEAVY = ("torch", "scipy", "sklearn", "fvcore", "streamlit", "plotly")


def timed(args: list[str], repeats: int) -> tuple[list[float], list[str]]:
    """Seconds of ``python cli.py ARGS`` over ``repeats`` runs, and the heavy modules it imported."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "cli.py", *args], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    probe = ("import sys, runpy; sys.argv = ['cli.py', *sys.argv[1:]]\n"
             "try:\n    runpy.run_path('cli.py', run_name='__main__')\nexcept SystemExit:\n    pass\n"
             f"print(','.join(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", probe, *args], cwd=ROOT, capture_output=True,
                          text=True)
    last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ""
    heavy = [m for m in last.split(",") if m]
    return times, heavy


def main() -> int:
    from nasbench.cli.commands import COMMANDS
    from results_scale import add_copies, seed_study

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--trials", type=int, default=1000)
    args = parser.parse_args()
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}  {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.2f}; {args.repeats} runs each, whole processes", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "big"
        run.mkdir()
        study = seed_study(f"sqlite:///{run / 'study.db'}", "big")
        add_copies(study, args.trials - len(study.trials), seed=1)
        cases = [["--help"], *([c, "--help"] for c in COMMANDS), ["results", str(run)],
                 ["results", str(run), "--pareto"]]
        for case in cases:
            times, heavy = timed(case, args.repeats)
            print(f"{' '.join(case).replace(tmp, 'TMP'):<40} median {statistics.median(times):.2f} s "
                  f"({min(times):.2f}-{max(times):.2f})   heavy imports: {', '.join(heavy) or 'none'}",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
