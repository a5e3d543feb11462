"""Datasets: digits splits, CIFAR-10 python batches and image folders written by the tests."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
import torch

from nasbench.train.data import load_dataset


def test_digits_splits_are_stratified_disjoint_and_seeded() -> None:
    a = load_dataset("digits", seed=0, cache_dir=None)
    b = load_dataset("digits", seed=0, cache_dir=None)
    c = load_dataset("digits", seed=1, cache_dir=None)
    assert (a.channels, a.resolution, len(a.classes)) == (1, 8, 10)
    assert len(a.y_train) + len(a.y_val) + len(a.y_test) == 1797
    assert torch.equal(a.x_val, b.x_val) and not torch.equal(a.y_val, c.y_val)
    for y in (a.y_train, a.y_val, a.y_test):
        counts = torch.bincount(y, minlength=10).float()
        assert counts.min() / counts.max() > 0.8  # every class in every split, in proportion
    rows = {tuple(x.flatten().tolist()) for x in a.x_test}
    assert not any(tuple(x.flatten().tolist()) in rows for x in a.x_val[:50])
    assert abs(float(a.x_train.mean())) < 1e-4 and not a.augment


def _write_cifar(root: Path, n: int = 20) -> None:
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                 b"labels": [i % 10 for i in range(n)], b"batch_label": name.encode()}
        with (root / name).open("wb") as handle:
            pickle.dump(batch, handle, protocol=2)


def test_cifar10_python_batches(tmp_path: Path) -> None:
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    _write_cifar(root)
    data = load_dataset("cifar10", tmp_path, seed=0, cache_dir=tmp_path / "cache")
    assert (data.channels, data.resolution) == (3, 32)
    assert len(data.y_train) + len(data.y_val) == 100 and len(data.y_test) == 20
    assert data.classes[0] == "airplane" and data.augment
    small = load_dataset("cifar10", root, resolution=16, cache_dir=None)
    assert small.resolution == 16


def test_corrupt_and_malicious_cifar_batches_are_refused(tmp_path: Path) -> None:
    _write_cifar(tmp_path)
    (tmp_path / "data_batch_3").write_bytes(b"not a pickle at all")
    with pytest.raises(ValueError, match="corrupt CIFAR-10 batch .*data_batch_3"):
        load_dataset("cifar10", tmp_path, cache_dir=None)

    class Evil:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (print, ("pwned",))

    _write_cifar(tmp_path)
    (tmp_path / "test_batch").write_bytes(pickle.dumps({b"data": Evil(), b"labels": []}))
    with pytest.raises(ValueError, match="refusing to load builtins.print"):
        load_dataset("cifar10", tmp_path, cache_dir=None)


def _write_folder(root: Path, with_test: bool = True) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, count in (("train", 12), ("test", 3)) if with_test else (("train", 12),):
        for name in ("cat", "dog", "eel"):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                pixels = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"{i}.{'png' if i % 2 else 'jpg'}")


def test_image_folder_with_cache(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    _write_folder(tmp_path / "data")
    cache = tmp_path / "cache"
    first = load_dataset("folder", tmp_path / "data", resolution=16, cache_dir=cache)
    assert first.classes == ("cat", "dog", "eel") and first.resolution == 16
    assert len(first.y_test) == 9 and len(first.y_train) + len(first.y_val) == 36
    assert len(list(cache.glob("folder-*.npz"))) == 1
    with caplog.at_level(logging.INFO, logger="nasbench.train.data"):
        second = load_dataset("folder", tmp_path / "data", resolution=16, cache_dir=cache)
    assert "from cache" in caplog.text
    assert torch.equal(first.x_train, second.x_train)
    other = load_dataset("folder", tmp_path / "data", resolution=8, cache_dir=cache)
    assert other.resolution == 8 and len(list(cache.glob("folder-*.npz"))) == 2


def test_image_folder_without_test_split(tmp_path: Path) -> None:
    _write_folder(tmp_path, with_test=False)
    data = load_dataset("folder", tmp_path, resolution=8, cache_dir=None)
    assert len(data.y_test) >= 3 and len(data.y_train) + len(data.y_val) + len(data.y_test) == 36


@pytest.mark.parametrize("name,data_dir,match", [
    ("imagenet", None, "unknown dataset"),
    ("cifar10", None, "needs --data-dir"),
    ("folder", "/nonexistent/folder", "does not exist"),
    ("digits", "/tmp", "embedded"),
])
def test_bad_dataset_arguments(name: str, data_dir: str | None, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        load_dataset(name, data_dir, cache_dir=None)


def test_empty_folder_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "train" / "a").mkdir(parents=True)
    (tmp_path / "train" / "b").mkdir(parents=True)
    with pytest.raises(ValueError, match="no images"):
        load_dataset("folder", tmp_path, cache_dir=None)
    with pytest.raises(ValueError, match="no train/ folder"):
        load_dataset("folder", tmp_path / "train", cache_dir=None)


@settings(max_examples=150)
@given(counts=st.lists(st.integers(2, 40), min_size=2, max_size=12),
       fraction=st.floats(0.05, 0.6), seed=st.integers(0, 2 ** 31 - 1), shuffle=st.integers(0, 99))
def test_stratified_split_is_scikit_learns(counts: list[int], fraction: float, seed: int,
                                           shuffle: int) -> None:
    """Index for index the split ``train_test_split(stratify=y)`` makes, so the splits of
    studies made when it was used are the same (and scikit-learn is not imported to start)."""
    from sklearn.model_selection import train_test_split

    from nasbench.train.splits import stratified_split

    y = np.random.default_rng(shuffle).permutation(np.repeat(np.arange(len(counts)) * 3, counts))
    held_size = max(len(counts), int(round(fraction * len(y))))
    assume(len(y) - held_size >= len(counts))
    keep, held = train_test_split(np.arange(len(y)), test_size=held_size, random_state=seed,
                                  stratify=y)
    ours = stratified_split(y, held_size, seed)
    assert np.array_equal(ours[0], np.sort(keep)) and np.array_equal(ours[1], np.sort(held))


def test_stratified_split_bad_input() -> None:
    from nasbench.train.splits import stratified_split

    with pytest.raises(ValueError, match=r"classes \[7\] have a single item"):
        stratified_split(np.array([0, 0, 1, 1, 7]), 2, 0)
    with pytest.raises(ValueError, match="fewer items than the 3 classes"):
        stratified_split(np.array([0, 0, 1, 1, 2, 2]), 2, 0)
    with pytest.raises(ValueError, match="cannot hold out 6 of 6"):
        stratified_split(np.array([0, 0, 1, 1, 2, 2]), 6, 0)


@pytest.mark.e2e
def test_starting_a_search_does_not_import_scikit_learn() -> None:
    """Loading the embedded digits must not import sklearn.model_selection (2.5 s here)."""
    import subprocess
    import sys

    code = ("import sys; from nasbench.train.data import load_dataset; load_dataset('digits', seed=0, "
            "cache_dir=None); print(sorted(m for m in sys.modules if m.startswith(('sklearn', "
            "'scipy'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
