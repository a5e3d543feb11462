"""Datasets: the embedded digits default, CIFAR-10 python batches, image-class folders.

Every dataset comes back as seeded, stratified train / validation / test splits of normalised
float tensors (N×C×H×W). The search selects on validation accuracy only; the test split is for
final reports. Decoded images are cached as ``.npz`` files (no pickle) so a second run does not
decode again.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import logging
import pickle
from dataclasses import dataclass
from typing import Callable
from pathlib import Path

import numpy as np
import torch

from nasbench.train.recipe import DATASETS
from nasbench.files import atomic_write
from nasbench.nn.memory import check_fits
from nasbench.train.splits import stratified_split

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
"""A progress callback: ``(phase, done, total)``."""
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif")
CIFAR10_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_TEST = "test_batch"


@dataclass(frozen=True)
class DataSplits:
    """Normalised train / validation / test tensors and what describes them."""

    name: str
    classes: tuple[str, ...]
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    mean: tuple[float, ...]
    std: tuple[float, ...]
    augment: bool
    train_total: int = 0
    """Images in the whole training split (more than ``len(y_train)`` when a subset is used)."""
    val_total: int = 0
    """Images in the whole validation split."""

    @property
    def resolution(self) -> int:
        """Input height (= width)."""
        return int(self.x_train.shape[-1])

    @property
    def channels(self) -> int:
        """Input channels."""
        return int(self.x_train.shape[1])

    def summary(self) -> str:
        """One line: name, shape and split sizes."""
        return (f"{self.name}: {self.channels}x{self.resolution}x{self.resolution}, "
                f"{len(self.classes)} classes, train {len(self.y_train)}"
                f"{f' (of {self.train_total})' if self.train_total > len(self.y_train) else ''} / val "
                f"{len(self.y_val)}{f' (of {self.val_total})' if self.val_total > len(self.y_val) else ''}"
                f" / test {len(self.y_test)}")


def shape_only(name: str, resolution: int, channels: int, classes: int, n_val: int) -> DataSplits:
    """A stand-in for a dataset that has its shape, its number of classes and its validation
    size but no image: what a search whose accuracies come from a table measures latency on."""
    empty = torch.zeros(0, channels, resolution, resolution)
    none = torch.zeros(0, dtype=torch.long)
    return DataSplits(name, tuple(str(c) for c in range(classes)), empty, none, empty,
                      torch.zeros(n_val, dtype=torch.long), empty, none, (0.0,) * channels,
                      (1.0,) * channels, False, 0, n_val)


# ------------------------------------------------------------------------------------ readers

def _digits_file() -> Path | None:
    """scikit-learn's own copy of the digits (``datasets/data/digits.csv.gz``: 1,797 rows of 64
    pixels 0-16 and the label), found without importing scikit-learn (1.5 s here)."""

    spec = importlib.util.find_spec("sklearn")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            return path
    return None


def _read_digits() -> tuple[np.ndarray, np.ndarray, None, None, tuple[str, ...]]:
    path = _digits_file()
    if path is not None:  # what load_digits reads, parsed the same way
        table = np.loadtxt(path, delimiter=",")
        pixels, target = table[:, :-1].reshape(-1, 8, 8), table[:, -1].astype(np.int64)
    else:
        from sklearn.datasets import load_digits  # deferred: scikit-learn takes 1.5 s to import

        digits = load_digits()
        pixels, target = digits.images, digits.target.astype(np.int64)
    images = np.rint(pixels * (255.0 / 16.0)).astype(np.uint8)[:, None]  # N×1×8×8
    return images, target, None, None, tuple(str(i) for i in range(10))


MAX_CIFAR_BATCH = 60_000
"""The most images one CIFAR-10 batch file may hold (the published ones hold 10,000)."""


class _CifarUnpickler(pickle.Unpickler):
    """Unpickles CIFAR-10 python batches only: dicts, lists, bytes and numpy arrays."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("_codecs", "encode"), ("copyreg", "_reconstructor"),
    }

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def _load_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    if path.stat().st_size > MAX_CIFAR_BATCH * 3100 + 1_000_000:
        raise ValueError(f"corrupt CIFAR-10 batch {path}: {path.stat().st_size:,} bytes, more than "
                         f"{MAX_CIFAR_BATCH:,} images take; download the python version of "
                         f"CIFAR-10 again")
    try:
        with path.open("rb") as handle:
            batch = _CifarUnpickler(io.BytesIO(handle.read()), encoding="bytes").load()
        data, labels = batch[b"data"], batch[b"labels"]
        # The published format exactly, checked before any conversion: a uint8 array of
        # N x 3072 pixels and a flat list of N whole numbers. Anything else (nested lists that
        # share references and unfold into gigabytes, floats that a cast would silently wrap)
        # is refused.
        if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
                or data.shape[1] != 3 * 32 * 32 or len(data) > MAX_CIFAR_BATCH:
            raise ValueError(f"'data' must be a uint8 array of N x 3072 pixels (N <= "
                             f"{MAX_CIFAR_BATCH}), got {type(data).__name__}"
                             + (f" {data.dtype} {data.shape}" if isinstance(data, np.ndarray) else ""))
        if not isinstance(labels, list) or len(labels) != len(data) or not all(
                type(label) is int for label in labels):
            raise ValueError("'labels' must be a list of one whole number per image")
        labels = np.asarray(labels, dtype=np.int64)
        images = data.reshape(len(data), 3, 32, 32)
    except (pickle.UnpicklingError, KeyError, ValueError, TypeError, EOFError, AttributeError,
            IndexError) as exc:
        raise ValueError(f"corrupt CIFAR-10 batch {path} ({type(exc).__name__}: {exc}); "
                         f"download the python version of CIFAR-10 again") from None
    if len(labels) != len(images) or labels.min() < 0 or labels.max() > 9:
        raise ValueError(f"corrupt CIFAR-10 batch {path}: labels do not match the images; "
                         f"download the python version of CIFAR-10 again")
    return images, labels


def _read_cifar10(root: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, tuple[str, ...]]:
    if (root / "cifar-10-batches-py").is_dir():
        root = root / "cifar-10-batches-py"
    missing = [n for n in (*CIFAR10_TRAIN, CIFAR10_TEST) if not (root / n).is_file()]
    if missing:
        raise ValueError(f"{root} is not a CIFAR-10 python folder (missing {', '.join(missing)}); "
                         f"point --data-dir at the extracted cifar-10-batches-py folder")
    parts = [_load_cifar_batch(root / n) for n in CIFAR10_TRAIN]
    x_test, y_test = _load_cifar_batch(root / CIFAR10_TEST)
    classes = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
               "truck")
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
            x_test, y_test, classes)


def _entries(folder: Path) -> list[Path]:
    """The entries of ``folder``; a symbolic link that loops or leads nowhere is refused."""
    entries = sorted(folder.iterdir())
    for entry in entries:
        if entry.is_symlink():
            try:
                entry.resolve(strict=True)
            except (RuntimeError, OSError) as exc:
                raise ValueError(f"{entry} is a broken or looping symbolic link ({exc}); remove "
                                 f"it or point it at a real file or folder") from None
    return entries


def _list_folder(split_dir: Path, classes: tuple[str, ...] | None) -> list[tuple[Path, int]]:
    found = tuple(sorted(d.name for d in _entries(split_dir) if d.is_dir()))
    classes = classes or found
    unknown = set(found) - set(classes)
    if unknown:
        raise ValueError(f"{split_dir} has class folders not in train/: {', '.join(sorted(unknown))}")
    items = []
    for label, name in enumerate(classes):
        folder = split_dir / name
        if folder.is_dir():
            items += [(p, label) for p in _entries(folder)
                      if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
    return items


def _decode_images(items: list[tuple[Path, int]], resolution: int,
                   on_progress: Progress | None = None,
                   what: str = "decoding images") -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image, UnidentifiedImageError  # deferred: only image folders need it

    images = np.empty((len(items), 3, resolution, resolution), dtype=np.uint8)
    for i, (path, _) in enumerate(items):
        if on_progress is not None and (i % 1000 == 0 or i + 1 == len(items)):
            on_progress(what, i + 1, len(items))
        try:
            with Image.open(path) as img:
                img = img.convert("RGB")
                if img.size != (resolution, resolution):
                    img = img.resize((resolution, resolution), Image.BILINEAR)
                images[i] = np.asarray(img, dtype=np.uint8).transpose(2, 0, 1)
        except Image.DecompressionBombError as exc:
            raise ValueError(f"image {path} is too large to decode safely ({exc}); remove it or "
                             f"shrink it") from None
        except (UnidentifiedImageError, OSError) as exc:
            raise ValueError(f"cannot read image {path} ({exc}); remove or replace it") from None
    return images, np.array([label for _, label in items], dtype=np.int64)


def _read_folder(root: Path, resolution: int, on_progress: Progress | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None, tuple[str, ...]]:
    train_dir = root / "train"
    if not train_dir.is_dir():
        raise ValueError(f"{root} has no train/ folder; expected train/<class>/<image> "
                         f"(and optionally test/<class>/<image>)")
    classes = tuple(sorted(d.name for d in _entries(train_dir) if d.is_dir()))
    if len(classes) < 2:
        raise ValueError(f"{train_dir} needs at least 2 class folders, found {len(classes)}")
    train_items = _list_folder(train_dir, classes)
    if not train_items:
        raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) under {train_dir}")
    needed = 2 if (root / "test").is_dir() else 3  # one each for training, validation (, test)
    counts = np.bincount([label for _, label in train_items], minlength=len(classes))
    few = [f"{classes[i]} ({n})" for i, n in enumerate(counts) if n < needed]
    if few:
        raise ValueError(f"every class in {train_dir} needs at least {needed} images (for the "
                         f"training, validation{'' if needed == 2 else ' and test'} splits); too "
                         f"few: {', '.join(few[:5])}; add images or remove those classes")
    x_train, y_train = _decode_images(train_items, resolution, on_progress,
                                      "decoding the training images (cached for the next run)")
    x_test = y_test = None
    if (root / "test").is_dir():
        test_items = _list_folder(root / "test", classes)
        if test_items:
            x_test, y_test = _decode_images(test_items, resolution, on_progress,
                                            "decoding the test images (cached for the next run)")
    return x_train, y_train, x_test, y_test, classes


# -------------------------------------------------------------------------------------- cache

def _fingerprint(root: Path, resolution: int, kind: str) -> str:
    digest = hashlib.sha256(f"{kind}|{root.resolve()}|{resolution}".encode())
    for path in sorted(root.rglob("*")):
        if path.is_file():
            stat = path.stat()
            digest.update(f"{path.relative_to(root)}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:20]


def _cached_read(kind: str, root: Path, resolution: int, cache_dir: Path | None,  # type: ignore[no-untyped-def]
                 on_progress: Progress | None = None):
    reader = ((lambda: _read_cifar10(root)) if kind == "cifar10"
              else (lambda: _read_folder(root, resolution, on_progress)))
    if cache_dir is None:
        return reader()
    path = cache_dir / f"{kind}-{_fingerprint(root, resolution, kind)}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as data:
            logger.info("loaded decoded %s from cache %s", kind, path)
            x_test = data["x_test"] if data["has_test"] else None
            y_test = data["y_test"] if data["has_test"] else None
            return (data["x_train"], data["y_train"], x_test, y_test,
                    tuple(str(c) for c in data["classes"]))
    result = reader()
    x_train, y_train, x_test, y_test, classes = result
    def write(tmp: Path) -> None:
        with tmp.open("wb") as handle:
            np.savez(handle, x_train=x_train, y_train=y_train,
                     x_test=x_test if x_test is not None else np.zeros(0, np.uint8),
                     y_test=y_test if y_test is not None else np.zeros(0, np.int64),
                     has_test=np.array(x_test is not None), classes=np.array(classes))

    try:
        atomic_write(path, write)  # no half-written cache, no temporary file left behind
    except OSError as exc:
        logger.warning("could not write the data cache in %s: %s", cache_dir, exc)
    return result


# ------------------------------------------------------------------------------------- splits

def _stratified_split(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (keep, held out) with ``fraction`` of every class held out (at least one each)."""

    n_classes = len(np.unique(y))
    return stratified_split(y, max(n_classes, int(round(fraction * len(y)))), seed)


def _subset(x: np.ndarray, y: np.ndarray, size: int | None, classes: int, seed: int,
            flag: str) -> tuple[np.ndarray, np.ndarray]:
    """A stratified subset of ``size`` items (``None`` or ``0``: all of them)."""
    if not size or size >= len(y):
        return x, y
    if size < classes:
        raise ValueError(f"{flag} must be at least the number of classes ({classes}), got {size}")
    _, keep = _stratified_split(y, size / len(y), seed)
    return x[keep], y[keep]


def load_dataset(name: str = "digits", data_dir: str | Path | None = None, resolution: int | None = None,
                 seed: int = 0, cache_dir: str | Path | None = "runs/.cache",
                 max_train: int | None = None, max_val: int | None = None,
                 memory_check: bool = True, on_progress: Progress | None = None) -> DataSplits:
    """Load ``name`` (digits, cifar10, folder) as seeded, stratified, normalised splits.

    digits: 60/20/20 train/val/test of scikit-learn's 1,797 8×8 images (embedded, no download).
    cifar10: the five training batches (10% held out for validation) and the test batch.
    folder: ``train/<class>/`` images (and ``test/<class>/`` if present, else 15% held out),
    resized to ``resolution`` (default 32). ``max_train`` keeps a stratified subset of the
    training split, for quick searches on large datasets (``None`` or ``0``: all of it);
    ``max_val`` does the same for the validation split (the test split is always whole).
    ``on_progress(phase, done, total)`` follows the decoding of an image folder.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2 ** 31:
        raise ValueError(f"--seed must be a whole number from 0 to 2147483647, got {seed}")
    cache = Path(cache_dir) if cache_dir is not None else None
    if name == "digits":
        if data_dir is not None:
            raise ValueError("the digits dataset is embedded: drop --data-dir")
        x, y, x_test, y_test, classes = _read_digits()
    else:
        if data_dir is None:
            raise ValueError(f"dataset {name!r} needs --data-dir pointing at the downloaded data")
        root = Path(data_dir)
        if not root.is_dir():
            raise ValueError(f"data folder {root} does not exist; check --data-dir")
        res = resolution or 32
        if res < 4 or res > 512:
            raise ValueError(f"resolution must be between 4 and 512, got {res}")
        x, y, x_test, y_test, classes = _cached_read(name, root, res, cache, on_progress)
    if x_test is None or y_test is None:
        keep, held = _stratified_split(y, 0.2 if name == "digits" else 0.15, seed)
        x_test, y_test, x, y = x[held], y[held], x[keep], y[keep]
    keep, held = _stratified_split(y, 0.25 if name == "digits" else 0.1, seed + 1)
    x_val, y_val, x_train, y_train = x[held], y[held], x[keep], y[keep]
    train_total, val_total = len(y_train), len(y_val)
    x_train, y_train = _subset(x_train, y_train, max_train, len(classes), seed + 2, "--max-train-samples")
    x_val, y_val = _subset(x_val, y_val, max_val, len(classes), seed + 3, "--max-val-samples")
    if resolution and x_train.shape[-1] != resolution:
        if memory_check:  # uint8 resized copies, then float32 tensors of every split

            images = len(x_train) + len(x_val) + len(x_test)
            check_fits(images * x_train.shape[1] * resolution ** 2 * 9,
                       f"{name} resized to {resolution}x{resolution}",
                       f"choose a --resolution nearer the data's ({x_train.shape[-1]})")
        x_train, x_val, x_test = (_resize(a, resolution) for a in (x_train, x_val, x_test))
    train = x_train.astype(np.float32) / 255.0
    mean = train.mean(axis=(0, 2, 3))
    std = train.std(axis=(0, 2, 3)) + 1e-6

    def norm(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy((a.astype(np.float32) / 255.0 - mean[:, None, None]) / std[:, None, None])

    return DataSplits(
        name=name, classes=classes,
        x_train=norm(x_train), y_train=torch.from_numpy(y_train),
        x_val=norm(x_val), y_val=torch.from_numpy(y_val),
        x_test=norm(x_test), y_test=torch.from_numpy(y_test),
        mean=tuple(float(m) for m in mean), std=tuple(float(s) for s in std),
        augment=name != "digits", train_total=train_total, val_total=val_total,
    )


def _resize(images: np.ndarray, resolution: int) -> np.ndarray:
    """Bilinear resize of uint8 N×C×H×W images (used for CIFAR at another resolution)."""
    tensor = torch.from_numpy(images).float()
    out = torch.nn.functional.interpolate(tensor, size=(resolution, resolution), mode="bilinear",
                                          align_corners=False)
    return out.round().clamp(0, 255).to(torch.uint8).numpy()
