"""The CPU proxy for real datasets: its defaults, its subsets, what the search prints first."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nasbench.train.data import load_dataset
from nasbench.workflows.settings import BenchConfig, SearchConfig
from nasbench.train.proxy import expected_seconds, proxy_seconds, train_model
from nasbench.train.recipe import CPU_PROXY_BATCH, CPU_PROXY_EPOCHS, CPU_PROXY_TRAIN, CPU_PROXY_VAL, Proxy, cpu_proxy, default_train_config

ROOT = Path(__file__).resolve().parents[2]


def test_proxy_defaults_apply_on_a_cpu_to_real_datasets_only() -> None:
    nothing = Proxy(None, None, None, None)
    proxy = Proxy(CPU_PROXY_TRAIN, CPU_PROXY_VAL, CPU_PROXY_EPOCHS, CPU_PROXY_BATCH)
    assert cpu_proxy("folder", "cpu", nothing) == proxy
    assert cpu_proxy("cifar10", "cpu", Proxy(0, 500, 7, None)) == Proxy(0, 500, 7, CPU_PROXY_BATCH)
    assert cpu_proxy("digits", "cpu", nothing) == nothing
    assert cpu_proxy("folder", "cuda", nothing) == nothing
    for kind in (SearchConfig, BenchConfig):
        config = kind(dataset="folder", data_dir="x")
        assert (config.max_train, config.max_val, config.epochs, config.train_batch) == (2500, 2000, 3, 32)
        assert config.train_config().batch_size == 32 and config.train_config().epochs == 3
        plain = kind()
        assert plain.max_train is None and plain.train_config().batch_size == 128  # digits, as before
        whole = kind(dataset="folder", data_dir="x", max_train=0, max_val=0)
        assert whole.identity()["max_train"] is None and whole.identity()["max_val"] is None


def _folder(root: Path, per_class: int = 30) -> None:
    rng = np.random.default_rng(0)
    for split, count in (("train", per_class), ("test", 4)):
        for name in ("ant", "bee", "cow"):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).save(folder / f"{i}.png")


def test_training_and_validation_subsets_are_stratified(tmp_path: Path) -> None:
    _folder(tmp_path)
    whole = load_dataset("folder", tmp_path, resolution=8, cache_dir=None)
    part = load_dataset("folder", tmp_path, resolution=8, cache_dir=None, max_train=30, max_val=6)
    assert (whole.train_total, whole.val_total) == (len(whole.y_train), len(whole.y_val)) == (81, 9)
    assert len(part.y_train) == 30 and len(part.y_val) == 6 and part.val_total == 9
    assert np.bincount(part.y_val.numpy()).tolist() == [2, 2, 2]
    assert np.bincount(part.y_train.numpy()).tolist() == [10, 10, 10]
    assert len(part.y_test) == len(whole.y_test) == 12  # the test split stays whole
    assert "train 30 (of 81) / val 6 (of 9)" in part.summary()
    with pytest.raises(ValueError, match="--max-val-samples must be at least the number of classes"):
        load_dataset("folder", tmp_path, resolution=8, cache_dir=None, max_val=2)


def test_expected_seconds_scales_with_the_work() -> None:
    """Epochs, training steps (whole batches) and validation images, exactly."""
    assert proxy_seconds(0.1, 100, 30, 32, 1) == pytest.approx(0.1 * (4 + 30 / 32 / 3))
    assert proxy_seconds(0.1, 100, 30, 32, 6) == pytest.approx(6 * proxy_seconds(0.1, 100, 30, 32, 1))
    assert proxy_seconds(0.2, 96, 0, 32, 1) == pytest.approx(0.6)  # 3 steps, no validation
    assert proxy_seconds(0.2, 97, 0, 32, 1) == pytest.approx(0.8)  # a last, partial batch


@pytest.mark.timing
def test_expected_seconds_is_close_to_the_training_it_expects(tmp_path: Path) -> None:
    """The estimate printed before a search against the same training, timed for real."""
    from nasbench.spec.arch import decode
    from nasbench.nn.build import build_model

    _folder(tmp_path, per_class=40)
    data = load_dataset("folder", tmp_path, resolution=8, cache_dir=None)
    model = build_model(decode("res8_in3_cls3:stem_c8_k3_s1_arelu:ds_r1_k3_s2_c16_arelu:head"))
    config = default_train_config("folder", 3, batch_size=8, bn_calibration=0)
    expected = expected_seconds([model], data, config, threads=1)
    actual = train_model(model, data, config, seed=0, threads=1).train_time_s
    assert 1 / 3 < expected / actual < 3, (expected, actual)


@pytest.mark.e2e
def test_a_search_on_a_real_dataset_prints_its_proxy_and_expected_time(tmp_path: Path) -> None:
    _folder(tmp_path / "data", per_class=40)
    proc = subprocess.run([sys.executable, "cli.py", "search", "--dataset", "folder", "--data-dir",
                           str(tmp_path / "data"), "--resolution", "8", "--space", "tiny",
                           "--budget", "1", "--max-train-samples", "60", "--runs-dir",
                           str(tmp_path / "runs"), "--no-confirm"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    line = next(l for l in proc.stderr.splitlines() if l.startswith("Training on"))
    assert "60 of 108 training images (stratified; --max-train-samples all for every one)" in line
    assert "3 epochs (--epochs) at batch 32" in line and "all 12 validation images" in line
    assert "Expected about" in line and "per architecture trained fully" in line
    assert "Confirming" not in proc.stderr
