"""What a training run is made of, as plain data: the dataset names, the optimiser and
schedule (:class:`TrainConfig`), the epochs a search trains, the CPU proxy's subsets and batch,
and the settings a study records about them. No torch: a study's settings import this."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

DATASETS: tuple[str, ...] = ("digits", "cifar10", "folder")
"""The datasets by name: the embedded digits, CIFAR-10's Python batches, a folder of images."""


@dataclass(frozen=True)
class TrainConfig:
    """Optimiser and schedule of a training run (cosine decay to zero, no restarts)."""

    epochs: int = 6
    batch_size: int = 128
    optimizer: str = "adamw"
    lr: float = 1e-2
    weight_decay: float = 1e-4
    momentum: float = 0.9
    label_smoothing: float = 0.0
    bn_calibration: int = 0
    """Training images whose BatchNorm statistics replace the running averages before each
    evaluation (:func:`calibrate_batchnorm`); 0: evaluate with the running averages as trained."""

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch size must be at least 1")
        if not 0 <= self.bn_calibration <= 1_000_000:
            raise ValueError(f"--bn-calibration must be between 0 and 1000000 images, "
                             f"got {self.bn_calibration}")
        if self.optimizer not in ("adamw", "sgd"):
            raise ValueError(f"unknown optimizer {self.optimizer!r}; use adamw or sgd")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"learning rate must be positive, got {self.lr}")


DEFAULT_BN_CALIBRATION = 256
"""Training images that re-estimate BatchNorm statistics before each evaluation of a new study.
A short training run leaves the running averages (momentum 0.1) far behind the weights: on the
embedded digits, networks that classify 80-95 % of the validation images after one epoch with
fresh statistics score chance (0.10) with the running ones, and the early stop would judge
them on that. Re-estimating the statistics, as once-for-all and BigNAS do before evaluating a
sub-network, costs a few forward passes."""


def epochs_before_calibration(dataset: str) -> int:
    """The default epochs of studies made before BatchNorm calibration existed (their recorded
    ``epochs`` is ``None``): 6 on digits, 5 elsewhere. With calibrated statistics 4 epochs of
    digits reach the accuracy 6 did (within the validation split's noise)."""
    return 6 if dataset == "digits" else 5


DIGITS_SEARCH_EPOCHS = 2
"""Epochs a search or bench trains each architecture of the embedded digits: a proxy that ranks
them (``train`` keeps the dataset's 4 for the chosen one). Trained twice, accuracy after epoch 2
ranks the 576 architectures of ``tiny`` against the other seed's epoch 4 as well as epoch 4
itself does (Spearman difference -0.007, 95 % interval -0.020 to 0.006), and a sample of 60 of
``mixed`` within noise (0.040, -0.049 to 0.127). Replayed searches cut to 2 epochs find fronts
as good at the 4-epoch truth (``benchmarks/early_stop.py --epochs 2``), and real searches
fronts as good at a common 6-epoch retraining (``benchmarks/search_overhead.py``). Studies
and benches made before record their 4."""


def search_epochs(dataset: str, given: int | None) -> int | None:
    """The epochs of a search or bench trial: ``given``, else :data:`DIGITS_SEARCH_EPOCHS` on
    digits, else ``None`` (the dataset's default, or the CPU proxy's)."""
    return given if given is not None or dataset != "digits" else DIGITS_SEARCH_EPOCHS


def default_train_config(dataset: str, epochs: int | None = None,
                         batch_size: int | None = None, bn_calibration: int = 0) -> TrainConfig:
    """Sensible proxy-training defaults per dataset (``epochs``, ``batch_size`` and
    ``bn_calibration`` override)."""
    if dataset == "digits":
        config = TrainConfig(epochs=4, batch_size=128, optimizer="adamw", lr=1e-2, weight_decay=1e-4)
    else:
        config = TrainConfig(epochs=5, batch_size=128, optimizer="sgd", lr=0.05,
                             weight_decay=5e-4, momentum=0.9, label_smoothing=0.1)
    if epochs is not None:
        if not 1 <= epochs <= 1000:
            raise ValueError(f"--epochs must be between 1 and 1000, got {epochs}")
        config = TrainConfig(**{**config.__dict__, "epochs": epochs})
    if batch_size is not None:
        if not 2 <= batch_size <= 65536:
            raise ValueError(f"--train-batch must be between 2 and 65536, got {batch_size}")
        config = TrainConfig(**{**config.__dict__, "batch_size": batch_size})
    return dataclasses.replace(config, bn_calibration=bn_calibration)


CPU_PROXY_TRAIN = 2500
"""Training images of the CPU proxy: a stratified subset of a larger training split."""
CPU_PROXY_VAL = 2000
"""Validation images of the CPU proxy (validation after every epoch must not cost more than
the training it judges)."""
CPU_PROXY_EPOCHS = 3
"""Epochs of the CPU proxy: a trial of the ``mixed`` space on CIFAR-10-sized images then takes
about a minute on 2 cores (median of the space)."""
CPU_PROXY_BATCH = 32
"""Training batch of the CPU proxy: four times the updates of batch 128 for about the same time
on a CPU (small models are overhead-bound), which ranks architectures better in a short run."""


@dataclass(frozen=True)
class Proxy:
    """What a search or bench trains on and how long: ``None`` for the dataset's defaults."""

    max_train: int | None
    max_val: int | None
    epochs: int | None
    train_batch: int | None


def cpu_proxy(dataset: str, device: str, given: Proxy) -> Proxy:
    """The training settings a search or bench uses where none are given (``None``): on a
    CPU, a dataset other than the embedded digits trains on a stratified subset of
    :data:`CPU_PROXY_TRAIN` images for :data:`CPU_PROXY_EPOCHS` epochs at batch
    :data:`CPU_PROXY_BATCH` and validates on :data:`CPU_PROXY_VAL`: a proxy that ranks
    architectures, with the early stop doing the rest (``benchmarks/cifar_proxy.py`` measures
    how well it ranks). A subset size ``0`` asks for the whole split and stays ``0``; given
    values are kept."""
    if device != "cpu" or dataset == "digits":
        return given
    defaults = Proxy(CPU_PROXY_TRAIN, CPU_PROXY_VAL, CPU_PROXY_EPOCHS, CPU_PROXY_BATCH)
    return Proxy(*(d if g is None else g for g, d in zip(dataclasses.astuple(given),
                                                          dataclasses.astuple(defaults))))


class TrainedSettings:
    """What search and bench configs share about training: on a CPU, the settings not given
    come from the proxy (:func:`cpu_proxy`) when the config is made, so they are recorded as
    such on the study; :meth:`train_config` is the recipe of every trial. For frozen
    dataclasses with ``dataset``, ``device``, ``max_train``, ``max_val``, ``epochs`` and
    ``train_batch`` fields."""

    dataset: str
    device: str
    max_train: int | None
    max_val: int | None
    epochs: int | None
    train_batch: int | None
    bn_calibration: int | None

    def __post_init__(self) -> None:
        given = Proxy(self.max_train, self.max_val, self.epochs, self.train_batch)
        for name, value in dataclasses.asdict(cpu_proxy(self.dataset, self.device, given)).items():
            object.__setattr__(self, name, value)

    def train_config(self) -> TrainConfig:
        """The training recipe of every trial (the dataset's, with the epochs and batch set)."""
        return default_train_config(self.dataset, search_epochs(self.dataset, self.epochs),
                                    self.train_batch,
                                    DEFAULT_BN_CALIBRATION if self.bn_calibration is None
                                    else self.bn_calibration)
