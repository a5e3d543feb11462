"""What the CLI prints: the results table within 120 columns with each trial's status, the
progress line within the terminal, and progress with an ETA for long steps."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from nasbench.cli import console, text
from nasbench.cli.commands import main
from nasbench.study.results import results_frame
from nasbench.workflows.search import run_search
from nasbench.workflows.search_study import open_study
from nasbench.workflows.settings import SearchConfig


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real small search with the Pareto pruner on: trials trained fully and stopped early."""
    root = tmp_path_factory.mktemp("runs")
    run_search(SearchConfig(space="tiny", budget=10, epochs=3, sampler="random", seed=4, threads=1,
                            latency_time_s=0.05, runs_dir=str(root), study="s"))
    return root / "s"


def test_an_error_line_quoting_a_huge_input_shows_an_excerpt() -> None:
    """A 10 MB line quoted by an error message: the line printed keeps its start and its end
    (the fix) and says how much it left out."""
    message = "--from archs.txt, line 1: unknown architecture '" + "x" * 10_000_000 + "'; give a reference name"
    line = text.error_line(ValueError(message))
    assert len(line) <= text.ERROR_CHARS
    assert line.startswith("--from archs.txt, line 1: unknown architecture 'xxx")
    assert line.endswith("'; give a reference name") and "characters left out" in line
    assert text.error_line(ValueError("short; fix it")) == "short; fix it"


def test_status_says_what_became_of_each_trial() -> None:
    frame = pd.DataFrame([
        {"state": "COMPLETE", "feasible": True, "stopped_early": None, "reused_from": None},
        {"state": "COMPLETE", "feasible": True, "stopped_early": True, "val_acc_per_epoch": (0.2, 0.3)},
        {"state": "COMPLETE", "feasible": True, "reused_from": 3},
        {"state": "COMPLETE", "feasible": False, "predicted_only": True},
        {"state": "COMPLETE", "feasible": False},
        {"state": "FAIL"}, {"state": "RUNNING"}])
    assert list(text.trial_status(frame)) == ["trained", "stopped @2", "reused #3", "predicted",
                                              "infeasible", "failed", "running"]


def test_results_fit_120_columns_and_show_the_status(run: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["results", str(run)]) == 0
    out = capsys.readouterr().out
    table = out.split("\n\n")[0].splitlines()
    assert max(len(line) for line in out.splitlines()) <= text.WIDTH == 120
    header = table[0].split()
    assert header[:2] == ["number", "status"] and "front" in header
    frame = results_frame(open_study(SearchConfig(space="tiny", epochs=3, sampler="random", seed=4,
                                                  runs_dir=str(run.parent), study="s")))
    stopped = frame[frame["stopped_early"].eq(True)]
    assert not stopped.empty  # the pruner stopped some: their rows say so, with the epoch
    for row in stopped.itertuples():
        line = next(l for l in table[1:] if l.split()[0] == str(row.number))
        assert f"stopped @{len(row.val_acc_per_epoch)}" in line
    assert "status: trained (fully), stopped @k" in out


def test_wide_and_chosen_columns(run: Path, capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    assert main(["results", str(run), "--wide"]) == 0
    wide = capsys.readouterr().out
    assert "val_acc_ci_low" in wide.splitlines()[0] and "status" in wide.splitlines()[0]
    assert main(["results", str(run), "--columns", "number,status,latency_wall_ms"]) == 0
    chosen = capsys.readouterr().out.splitlines()
    assert chosen[0].split() == ["number", "status", "latency_wall_ms"]
    csv = tmp_path / "t.csv"
    assert main(["results", str(run), "--columns", "number,nothing", "--csv", str(csv)]) == 2
    assert "no column 'nothing'" in capsys.readouterr().err and not csv.exists()


def test_the_progress_line_is_cut_at_a_word_within_the_terminal() -> None:
    line = "[######] 3/50 architectures | ETA 1m10s | #7 acc 0.486 lat 1.2 ms (stopped after epoch 1)"
    cut = console.fit_line(line, 60)
    assert len(cut) <= 60 and cut.endswith("…") and line.startswith(cut[:-1])
    assert not re.search(r"\w…$", cut) or line[len(cut) - 1] == " "  # ends at a word's end
    assert console.fit_line(line, 200) == line


def test_steps_print_the_elapsed_time_and_an_eta(capsys: pytest.CaptureFixture,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    now = iter([100.0, 101.0, 104.0, 110.0, 200.0, 200.5])
    monkeypatch.setattr(console.time, "monotonic", lambda: next(now))
    step = console.steps("fit", every_s=2.0)
    step("parts", 0, 10)   # the start: nothing printed (a short step prints only its end)
    step("parts", 1, 10)   # 1 s later: still nothing
    step("parts", 2, 10)   # 4 s for 2: 16 s left
    step("parts", 10, 10)
    step("architectures", 0, 5)
    step("architectures", 5, 5)
    assert capsys.readouterr().err.splitlines() == [
        "fit: parts 2/10, 0m04s, ETA 0m16s", "fit: parts 10/10, 0m10s",
        "fit: architectures 5/5, 0m00s"]


_PROBE = ("import runpy, sys\nsys.argv = ['cli.py', *sys.argv[1:]]\ntry:\n"
          "    runpy.run path('cli.py', run_name='__main__')\nexcept SystemExit:\n    pass\n"
          "print(' '.join(sorted(m for m in ('torch', 'scipy', 'sklearn', 'fvcore', 'pandas', 'optuna')"
          " if m in sys.modules)), file=sys.stderr)").replace("run path", "run_path")


@pytest.mark.e2e
@pytest.mark.parametrize("args,never", [
    (["--help"], {"torch", "pandas", "optuna"}),
    (["results", "--help"], {"torch", "pandas", "optuna"}),
    (["results", "RUN"], {"torch", "scipy", "sklearn", "fvcore"}),
])
def test_reading_commands_do_not_import_what_they_never_need(run: Path, args: list[str],
                                                             never: set[str]) -> None:
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-c", _PROBE, *[str(run) if a == "RUN" else a for a in args]],
                          cwd=root, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    imported = set(proc.stderr.strip().splitlines()[-1].split()) if proc.stderr.strip() else set()
    assert not imported & never, imported & never
