"""Data and training: the datasets and their splits, proxy training, and the training
threads governed by the host's load.

Modules: ``data``, ``proxy``, ``recipe``, ``splits``, ``threads``.
"""

from __future__ import annotations

from nasbench._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "BACKOFF_MAX_S": "threads",
    "BACKOFF_MIN_S": "threads",
    "CIFAR10_TEST": "data",
    "CIFAR10_TRAIN": "data",
    "CPU_PROXY_BATCH": "recipe",
    "CPU_PROXY_EPOCHS": "recipe",
    "CPU_PROXY_TRAIN": "recipe",
    "CPU_PROXY_VAL": "recipe",
    "DATASETS": "recipe",
    "DEFAULT_BN_CALIBRATION": "recipe",
    "DIGITS_SEARCH_EPOCHS": "recipe",
    "DataSplits": "data",
    "ESTIMATE_SECONDS_PER_MODEL": "proxy",
    "FinalTraining": "proxy",
    "IDLE_MIN": "threads",
    "IDLE_WINDOW_S": "threads",
    "IMAGE_SUFFIXES": "data",
    "INTERVAL_S": "threads",
    "MAX_CIFAR_BATCH": "data",
    "Proxy": "recipe",
    "SHARE_MIN": "threads",
    "ThreadGovernor": "threads",
    "ThreadUse": "threads",
    "TrainConfig": "recipe",
    "TrainResult": "proxy",
    "TrainedSettings": "recipe",
    "TrainingDiverged": "proxy",
    "approximate_mode": "splits",
    "calibrate_batchnorm": "proxy",
    "check_fits": "proxy",
    "cpu_proxy": "recipe",
    "default_train_config": "recipe",
    "describe": "threads",
    "epochs_before_calibration": "recipe",
    "evaluate": "proxy",
    "expected_seconds": "proxy",
    "governor": "threads",
    "load_dataset": "data",
    "make_optimizer": "proxy",
    "proxy_seconds": "proxy",
    "search_epochs": "recipe",
    "shape_only": "data",
    "stratified_split": "splits",
    "train_final": "proxy",
    "train_model": "proxy",
    "training_memory_format": "proxy",
    "usable_cores": "threads",
})
