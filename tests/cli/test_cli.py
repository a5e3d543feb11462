"""The command line as users run it: ``python cli.py …`` in a subprocess."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "cli.py", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.e2e
def test_python_dash_m_is_the_same_command() -> None:
    module = subprocess.run([sys.executable, "-m", "nasbench", "spaces", "--json"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert module.returncode == 0, module.stderr
    assert json.loads(module.stdout) == json.loads(run("spaces", "--json").stdout)
    bad = subprocess.run([sys.executable, "-m", "nasbench", "search", "--budget", "0"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.startswith("error: --budget")


@pytest.mark.e2e
def test_spaces_lists_sizes() -> None:
    proc = run("spaces")
    assert proc.returncode == 0, proc.stderr
    assert "tiny" in proc.stdout and "576" in proc.stdout
    rows = {r["space"]: r for r in json.loads(run("spaces", "--json").stdout)}
    assert set(rows) == {"mixed", "mobilenet_v2", "nb201", "tiny"}
    assert rows["tiny"]["architectures"] == 576 and rows["nb201"]["architectures"] == 5 ** 6
    assert rows["mixed"]["architectures"] == 270 ** 4


@pytest.mark.e2e
def test_blocks_table_csv_and_json(tmp_path: Path) -> None:
    out = tmp_path / "blocks.csv"
    proc = run("blocks", "--cin", "16", "--cout", "32", "--size", "14", "--min-time", "0.1",
               "--csv", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "depthwise-separable" in proc.stdout and "1/C_out + 1/K^2" in proc.stdout
    assert "1 multiply-add = 1 flop" in proc.stdout
    rows = list(csv.DictReader(out.open()))
    assert [r["block"] for r in rows] == ["standard", "depthwise-separable", "inverted residual"]
    for r in rows:
        assert r["params"] == r["params_formula"] and r["macs"] == r["macs_formula"]
        assert float(r["cpu_ms"]) > 0
    assert int(rows[0]["macs"]) == 9 * 16 * 32 * 14 * 14
    data = json.loads(run("blocks", "--cin", "16", "--cout", "32", "--size", "14",
                          "--kernel", "5", "--min-time", "0.1", "--json").stdout)
    assert data["closed_form_ds_ratio"] == pytest.approx(1 / 32 + 1 / 25)
    assert data["rows"][1]["macs_ratio"] == pytest.approx(1 / 32 + 1 / 25)


@pytest.mark.e2e
def test_profile_reference_and_json_file(tmp_path: Path) -> None:
    proc = run("profile", "mobilenet_v2", "--resolution", "64", "--min-time", "0.1")
    assert proc.returncode == 0, proc.stderr
    assert "3,504,872" in proc.stdout and "median" in proc.stdout and "thread" in proc.stdout
    from nasbench.spec.arch import decode, to_json

    spec = tmp_path / "arch.json"
    spec.write_text(to_json(decode("res16_in3_cls10:stem_c8_k3_s1_arelu:ds_r1_k3_s2_c16_arelu:head")))
    data = json.loads(run("profile", str(spec), "--min-time", "0.1", "--json").stdout)
    assert data["params"] > 0 and data["latency"]["samples"] > 0
    assert data["latency"]["conditions"]["threads"] == 1


@pytest.mark.e2e
@pytest.mark.parametrize("args,words", [
    (("profile", "resnet50"), "unknown architecture"),
    (("profile", "res16_in3_cls10:stem_c8_k3_s1_arelu:ds_r1_k3_s2_e6_c16_arelu:head"), "meaningless"),
    (("profile", "missing/arch.json"), "not found"),
    (("profile", "mobilenet_v2", "--device", "cuda"), "no CUDA GPU"),
    (("blocks", "--kernel", "4"), "--kernel"),
    (("blocks", "--min-time", "0"), "--min-time"),
])
def test_bad_input_is_one_line_and_exit_2(args: tuple, words: str) -> None:
    import torch

    if "cuda" in args and torch.cuda.is_available():
        pytest.skip("a GPU is present")
    proc = run(*args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in proc.stderr
